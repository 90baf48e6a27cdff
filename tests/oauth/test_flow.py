"""The OAuth 2.0 authorization-code flow over HTTP, as an operator's browser and an app's back end see it.

Login and consent pages, the token endpoint (codes, PKCE, refresh rotation, replay), revocation,
install and uninstall, the Admin API's answers to bad tokens, login throttling, launch signatures,
and a stock OAuth client library doing the whole dance.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import string
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from sqlalchemy import text
from sqlalchemy.util import await_only

from openmall.kernel import clock
from openmall.kernel.db import session_scope
from openmall.oauth import service
from openmall.oauth.scopes import describe
from openmall.oauth.server import CodeGrant, RefreshGrant
from openmall.sdk import verify_launch
from tests.conftest import assert_error, host
from tests.oauth.conftest import (
    APP_URL,
    AUTHORIZE,
    OPERATOR,
    PASSWORD,
    REDIRECT_URI,
    REVOKE,
    SCOPES,
    STATE,
    TOKEN,
    basic,
    csrf_of,
    form_action,
    listed_scopes,
    query_of,
    s256,
)

TOKEN_FIELDS = {
    "access_token", "token_type", "expires_in", "expires_at", "refresh_token", "refresh_token_expires_at",
    "client_id", "mall_id", "user_id", "scopes", "scope", "issued_at",
}  # fmt: skip
URLSAFE = set(string.ascii_letters + string.digits + "-_")


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    """RFC 6749 §5.2: ``{"error": ..., "error_description": ...}``, never openmall's usual error body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    assert set(body) <= {"error", "error_description", "error_uri"}, body


def assert_invalid_token(response: httpx.Response) -> None:
    assert_error(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="openmall"') and 'error="invalid_token"' in challenge, challenge


def assert_error_page(response: httpx.Response, status: int) -> None:
    """An HTML page for the operator; nothing goes back to the app."""
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "code=" not in response.text and "om_ac_" not in response.text


def assert_random_secret(value: str, prefix: str) -> None:
    assert value.startswith(prefix), value
    randomness = value.removeprefix(prefix)
    assert len(randomness) >= 43 and set(randomness) <= URLSAFE, value  # 256 bits, URL-safe base64


# ---- the whole flow ------------------------------------------------------------------------------------


async def test_operator_logs_in_consents_and_the_app_gets_a_working_token(oauth, client):
    authorize_url = httpx.URL(host("demo") + AUTHORIZE, params=oauth.params())
    to_login = await client.get(authorize_url)
    assert to_login.status_code == 303
    assert urlsplit(to_login.headers["location"]).path == "/admin/login"
    back_to = query_of(to_login.headers["location"])["next"]
    assert back_to == f"{AUTHORIZE}?{authorize_url.query.decode()}"

    login_page = await client.get(host("demo") + to_login.headers["location"])
    assert login_page.status_code == 200 and f'value="{back_to.replace("&", "&amp;")}"' in login_page.text
    form = {"csrf_token": csrf_of(login_page), "login": OPERATOR, "password": PASSWORD, "next": back_to}
    logged_in = await client.post(host("demo") + "/admin/login", data=form)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == back_to

    consent = await client.get(host("demo") + back_to)
    assert consent.status_code == 200
    assert "Stock Sync" in consent.text and "app.example" in consent.text
    assert listed_scopes(consent) == SCOPES
    for scope in SCOPES:
        assert describe(scope) in consent.text  # plain words, e.g. "See and change products, ..."
    assert "See and change products, options, variants, stock and brands" in consent.text

    back = await oauth.decide(client, consent, "allow")
    assert back.status_code == 302
    location = back.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert set(query) == {"code", "state"} and query["state"] == STATE
    assert_random_secret(query["code"], "om_ac_")

    exchanged = await oauth.exchange(client, query["code"])
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.headers["cache-control"] == "no-store"
    tokens = exchanged.json()
    assert set(tokens) == TOKEN_FIELDS
    assert_random_secret(tokens["access_token"], "om_at_")
    assert_random_secret(tokens["refresh_token"], "om_rt_")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 7200
    assert tokens["client_id"] == oauth.client_id and tokens["mall_id"] == "demo" and tokens["user_id"] == OPERATOR
    assert tokens["scopes"] == SCOPES and tokens["scope"].split() == SCOPES
    assert tokens["expires_at"].endswith("+09:00") and tokens["issued_at"] < tokens["expires_at"]
    assert tokens["expires_at"] < tokens["refresh_token_expires_at"]

    store = await oauth.admin(client, tokens["access_token"])
    assert store.status_code == 200, store.text
    assert store.json()["store"]["mall_id"] == "demo"


async def test_client_secret_post_works_too(oauth, client):
    code = await oauth.code(client)
    exchanged = await oauth.exchange(client, code, post_auth=True)
    assert exchanged.status_code == 200, exchanged.text
    assert (await oauth.admin(client, exchanged.json()["access_token"])).status_code == 200


async def test_a_wrong_client_secret_is_invalid_client(oauth, client):
    code = await oauth.code(client)
    assert_oauth_error(await oauth.exchange(client, code, secret=oauth.client_secret + "x"), 401, "invalid_client")


async def test_tokens_and_codes_are_stored_only_as_digests(oauth, client):
    code = await oauth.code(client)
    first = (await oauth.exchange(client, code)).json()
    second = (await oauth.refresh(client, first["refresh_token"])).json()
    plain = [code, first["access_token"], first["refresh_token"], second["access_token"], second["refresh_token"]]
    async with oauth.app.state.engine.connect() as conn:
        stored = [
            repr(row)
            for table in ("tokens", "authorization_codes")
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all()
        ]
    assert len(stored) == 3  # one code, two token rows
    dump = "\n".join(stored)
    for value in plain:
        assert value not in dump and value.split("_", 2)[2] not in dump


# ---- authorize errors ------------------------------------------------------------------------------------


async def test_deny_sends_access_denied_back_to_the_app(oauth, client):
    back = await oauth.authorize(client, decision="deny")
    assert back.status_code == 302
    assert back.headers["location"].startswith(REDIRECT_URI + "?")
    query = query_of(back.headers["location"])
    assert query["error"] == "access_denied" and query["state"] == STATE and "code" not in query
    async with session_scope(oauth.app.state.sessions, "demo") as s:  # nothing was installed
        assert await service.get_install(s, await service.get_app(s, oauth.client_id)) is None


@pytest.mark.parametrize("csrf", [None, "forged-token"])
async def test_consent_without_a_valid_csrf_token_is_refused(oauth, client, csrf):
    consent = await oauth.open_authorize(client)  # logged in, the consent page is up
    assert consent.status_code == 200
    form = {"decision": "allow"} | ({"csrf_token": csrf} if csrf else {})
    refused = await client.post(host("demo") + AUTHORIZE, params=oauth.params(), data=form)
    assert refused.status_code == 403 and "location" not in refused.headers
    assert listed_scopes(await oauth.open_authorize(client)) == SCOPES  # not installed: consent is asked again


async def test_a_login_to_one_mall_does_not_log_in_to_another(oauth, client):
    await oauth.login(client, "demo")
    session = client.cookies.get("openmall_session", domain="demo.openmall.test")
    assert session
    other = httpx.URL(host("other") + AUTHORIZE, params=oauth.params())
    response = await client.get(other, headers={"Cookie": f"openmall_session={session}"})
    assert response.status_code == 303 and urlsplit(response.headers["location"]).path == "/admin/login"


async def test_an_unknown_client_gets_an_error_page_not_a_redirect(oauth, client):
    await oauth.login(client)
    page = await oauth.open_authorize(client, client_id="no-such-app")
    assert_error_page(page, 400)
    assert "invalid_client" in page.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        "https://app.example/cb/more",  # the registered one is a prefix
        "https://app.example/c",  # a prefix of the registered one
        "https://app.example/cb?next=https://evil.example",
        "https://app.example.evil.example/cb",
        "http://app.example/cb",
        "https://APP.example/cb/",
    ],
)
async def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(oauth, client, redirect_uri):
    await oauth.login(client)
    assert_error_page(await oauth.open_authorize(client, redirect_uri=redirect_uri), 400)


@pytest.mark.parametrize(
    "scope",
    [
        "mall.read_everything",  # no such scope
        "mall.read_store mall.write_order",  # a real scope that the app did not register
    ],
)
async def test_an_invalid_scope_goes_back_to_the_app_as_invalid_scope(oauth, client, scope):
    await oauth.login(client)
    back = await oauth.open_authorize(client, scope=scope)
    assert back.status_code == 302, back.text
    query = query_of(back.headers["location"])
    assert back.headers["location"].startswith(REDIRECT_URI + "?")
    assert query["error"] == "invalid_scope" and query["state"] == STATE and "code" not in query


async def test_scopes_may_be_separated_by_commas_as_cafe24_does(oauth, client):
    tokens = await oauth.tokens(client, scope="mall.read_store,mall.read_product")
    assert tokens["scopes"] == ["mall.read_product", "mall.read_store"]
    assert tokens["scope"] == "mall.read_product mall.read_store"


async def test_the_state_comes_back_exactly_and_is_escaped_on_the_page(oauth, client):
    state = 'a"b<i>c</i>&d e'
    consent = await oauth.open_authorize(client, state=state)
    assert consent.status_code == 200 and "<i>" not in consent.text
    back = await oauth.decide(client, consent, "allow")
    assert query_of(back.headers["location"])["state"] == state


async def test_the_redirect_uri_may_be_left_out_when_the_app_registered_only_one(oauth, client):
    code = await oauth.code(client, redirect_uri=None)
    form = {"grant_type": "authorization_code", "code": code}
    exchanged = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, oauth.client_secret))
    assert exchanged.status_code == 200, exchanged.text


# ---- codes -----------------------------------------------------------------------------------------------


async def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(oauth, client):
    code = await oauth.code(client)
    first = await oauth.exchange(client, code)
    assert first.status_code == 200
    assert_oauth_error(await oauth.exchange(client, code), 400, "invalid_grant")
    assert_invalid_token(await oauth.admin(client, first.json()["access_token"]))
    assert_oauth_error(await oauth.refresh(client, first.json()["refresh_token"]), 400, "invalid_grant")


async def test_an_expired_code_is_refused(oauth, client):
    code = await oauth.code(client)
    with clock.travel(timedelta(seconds=61)):
        assert_oauth_error(await oauth.exchange(client, code), 400, "invalid_grant")


async def test_a_code_only_works_for_the_app_it_was_issued_to(oauth, client):
    code = await oauth.code(client)
    stolen = await oauth.exchange(client, code, client_id=oauth.rival_id, secret=oauth.rival_secret)
    assert_oauth_error(stolen, 400, "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["https://app.example/elsewhere", ""])
async def test_a_code_only_works_with_its_redirect_uri(oauth, client, redirect_uri):
    code = await oauth.code(client)
    assert_oauth_error(await oauth.exchange(client, code, redirect_uri=redirect_uri), 400, "invalid_grant")
    # a refused exchange does not spend the code: the app's corrected retry, within the minute, works
    assert (await oauth.exchange(client, code)).status_code == 200


async def test_a_code_only_works_in_its_mall(oauth, client):
    code = await oauth.code(client)
    assert_oauth_error(await oauth.exchange(client, code, mall="other"), 400, "invalid_grant")


# ---- PKCE ------------------------------------------------------------------------------------------------


async def test_a_pkce_code_needs_its_verifier(oauth, client):
    verifier = secrets.token_urlsafe(48)
    pkce = {"code_challenge": s256(verifier), "code_challenge_method": "S256"}

    missing = await oauth.exchange(client, await oauth.code(client, **pkce))
    assert_oauth_error(missing, 400, "invalid_request")
    wrong = await oauth.exchange(client, await oauth.code(client, **pkce), code_verifier=secrets.token_urlsafe(48))
    assert_oauth_error(wrong, 400, "invalid_grant")

    right = await oauth.exchange(client, await oauth.code(client, **pkce), code_verifier=verifier)
    assert right.status_code == 200, right.text


async def test_a_verifier_for_a_code_without_a_challenge_is_refused(oauth, client):
    downgraded = await oauth.exchange(client, await oauth.code(client), code_verifier=secrets.token_urlsafe(48))
    assert_oauth_error(downgraded, 400, "invalid_request")


async def test_pkce_plain_method_is_refused(oauth, client):
    await oauth.login(client)
    verifier = secrets.token_urlsafe(48)
    back = await oauth.open_authorize(client, code_challenge=verifier, code_challenge_method="plain")
    assert back.status_code == 302, back.text
    query = query_of(back.headers["location"])
    assert query["error"] == "invalid_request" and query["state"] == STATE and "code" not in query


# ---- refresh ---------------------------------------------------------------------------------------------


async def test_refresh_rotates_the_pair_and_retires_the_old_one(oauth, client):
    old = await oauth.tokens(client)
    refreshed = await oauth.refresh(client, old["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert set(new) == {*TOKEN_FIELDS}
    assert new["refresh_token"] != old["refresh_token"] and new["access_token"] != old["access_token"]
    assert new["scopes"] == old["scopes"]
    assert_invalid_token(await oauth.admin(client, old["access_token"]))
    assert (await oauth.admin(client, new["access_token"])).status_code == 200


async def test_a_rotated_out_refresh_token_revokes_the_whole_grant(oauth, client):
    old = await oauth.tokens(client)
    new = (await oauth.refresh(client, old["refresh_token"])).json()
    assert_oauth_error(await oauth.refresh(client, old["refresh_token"]), 400, "invalid_grant")
    assert_invalid_token(await oauth.admin(client, new["access_token"]))
    assert_oauth_error(await oauth.refresh(client, new["refresh_token"]), 400, "invalid_grant")


async def test_of_two_concurrent_refreshes_exactly_one_wins(oauth, client, monkeypatch: pytest.MonkeyPatch):
    """Both requests find the refresh token unspent (they wait for each other right after that check); one
    spends it and gets a new pair, the other finds it spent: a replay, which revokes the whole grant
    (``RefreshGrant.validate_token_request``, RFC 9700 §4.14.2): the winner's new pair is dead too."""
    checked = RefreshGrant.authenticate_refresh_token
    arrived: list[object] = []
    both = asyncio.Event()

    def then_wait_for_the_other(grant, refresh_token):  # runs inside ``run_sync``: it may await the loop
        found = checked(grant, refresh_token)
        arrived.append(found)
        if len(arrived) == 2:
            both.set()
        await_only(asyncio.wait_for(both.wait(), 10))
        return found

    monkeypatch.setattr(RefreshGrant, "authenticate_refresh_token", then_wait_for_the_other)
    tokens = await oauth.tokens(client)
    results = await asyncio.gather(*(oauth.refresh(client, tokens["refresh_token"]) for _ in range(2)))
    assert len(arrived) == 2 and all(arrived), "both requests must pass the check before either spends the token"
    assert sorted(r.status_code for r in results) == [200, 400], [r.text for r in results]
    assert_oauth_error(next(r for r in results if r.status_code != 200), 400, "invalid_grant")
    won = next(r for r in results if r.status_code == 200).json()
    monkeypatch.setattr(RefreshGrant, "authenticate_refresh_token", checked)  # as it is, for the calls that follow
    assert_invalid_token(await oauth.admin(client, won["access_token"]))
    assert_oauth_error(await oauth.refresh(client, won["refresh_token"]), 400, "invalid_grant")
    assert_invalid_token(await oauth.admin(client, tokens["access_token"]))


async def test_of_two_concurrent_exchanges_of_a_code_exactly_one_wins(oauth, client, monkeypatch: pytest.MonkeyPatch):
    """Both requests find the code unused (they wait for each other right after that check); one spends it and
    gets a pair, the other finds it spent: a replayed code, which revokes what it issued (RFC 6749 §4.1.2)."""
    checked = CodeGrant.query_authorization_code
    arrived: list[object] = []
    both = asyncio.Event()

    def then_wait_for_the_other(grant, code, app_client):  # runs inside ``run_sync``: it may await the loop
        found = checked(grant, code, app_client)
        arrived.append(found)
        if len(arrived) == 2:
            both.set()
        await_only(asyncio.wait_for(both.wait(), 10))
        return found

    monkeypatch.setattr(CodeGrant, "query_authorization_code", then_wait_for_the_other)
    code = await oauth.code(client)
    results = await asyncio.gather(*(oauth.exchange(client, code) for _ in range(2)))
    assert len(arrived) == 2 and all(arrived), "both requests must pass the check before either spends the code"
    assert sorted(r.status_code for r in results) == [200, 400], [r.text for r in results]
    assert_oauth_error(next(r for r in results if r.status_code != 200), 400, "invalid_grant")
    won = next(r for r in results if r.status_code == 200).json()
    monkeypatch.setattr(CodeGrant, "query_authorization_code", checked)
    assert_invalid_token(await oauth.admin(client, won["access_token"]))
    assert_oauth_error(await oauth.refresh(client, won["refresh_token"]), 400, "invalid_grant")


async def test_a_refresh_may_narrow_the_scope_but_never_widen_it(oauth, client):
    tokens = await oauth.tokens(client, scope="mall.read_store mall.read_application")
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "mall.read_store"}
    narrowed = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, oauth.client_secret))
    assert narrowed.status_code == 200 and narrowed.json()["scopes"] == ["mall.read_store"], narrowed.text
    assert (await oauth.admin(client, narrowed.json()["access_token"], "/api/v2/admin/apps/me")).status_code == 403

    form = {"grant_type": "refresh_token", "refresh_token": narrowed.json()["refresh_token"], "scope": " ".join(SCOPES)}
    widened = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, oauth.client_secret))
    assert_oauth_error(widened, 400, "invalid_scope")


async def test_a_refresh_refused_for_its_scope_leaves_the_refresh_token_usable(oauth, client):
    tokens = await oauth.tokens(client, scope="mall.read_store")
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "scope": "mall.read_product"}
    refused = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, oauth.client_secret))
    assert_oauth_error(refused, 400, "invalid_scope")
    assert (await oauth.admin(client, tokens["access_token"])).status_code == 200
    retry = await oauth.refresh(client, tokens["refresh_token"])  # still the newest refresh token: it must work
    assert retry.status_code == 200, retry.text


async def test_an_expired_refresh_token_is_refused(oauth, client):
    tokens = await oauth.tokens(client)
    with clock.travel(timedelta(days=15)):
        assert_oauth_error(await oauth.refresh(client, tokens["refresh_token"]), 400, "invalid_grant")


async def test_a_refresh_token_only_works_for_its_app(oauth, client):
    tokens = await oauth.tokens(client)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    stolen = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.rival_id, oauth.rival_secret))
    assert_oauth_error(stolen, 400, "invalid_grant")
    assert (await oauth.refresh(client, tokens["refresh_token"])).status_code == 200


# ---- revocation (RFC 7009) -------------------------------------------------------------------------------


async def test_revoking_the_access_token_ends_it_at_once(oauth, client):
    tokens = await oauth.tokens(client)
    revoked = await oauth.revoke(client, tokens["access_token"], "access_token")
    assert revoked.status_code == 200, revoked.text
    assert_invalid_token(await oauth.admin(client, tokens["access_token"]))
    assert_oauth_error(await oauth.refresh(client, tokens["refresh_token"]), 400, "invalid_grant")  # the pair ends


async def test_revoking_the_refresh_token_ends_the_grant(oauth, client):
    first = await oauth.tokens(client)
    second = (await oauth.refresh(client, first["refresh_token"])).json()
    assert (await oauth.revoke(client, second["refresh_token"], "refresh_token")).status_code == 200
    assert_invalid_token(await oauth.admin(client, second["access_token"]))
    assert_oauth_error(await oauth.refresh(client, second["refresh_token"]), 400, "invalid_grant")


async def test_revoking_an_unknown_token_answers_200(oauth, client):
    response = await oauth.revoke(client, "om_at_" + secrets.token_urlsafe(32))
    assert response.status_code == 200, response.text


async def test_an_app_cannot_revoke_another_apps_token(oauth, client):
    tokens = await oauth.tokens(client)
    await oauth.revoke(client, tokens["access_token"], client_id=oauth.rival_id, secret=oauth.rival_secret)
    assert (await oauth.admin(client, tokens["access_token"])).status_code == 200


# ---- install semantics -----------------------------------------------------------------------------------


async def test_first_consent_installs_the_app_with_the_granted_scopes(oauth, client):
    tokens = await oauth.tokens(client, scope="mall.read_application mall.read_store")
    me = await oauth.admin(client, tokens["access_token"], "/api/v2/admin/apps/me")
    assert me.status_code == 200, me.text
    installed = me.json()["app"]
    assert installed["client_id"] == oauth.client_id and installed["status"] == "development"
    assert installed["scopes"] == ["mall.read_application", "mall.read_store"]
    assert installed["token_scopes"] == ["mall.read_application", "mall.read_store"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00", installed["installed_at"]), installed


async def test_a_later_authorize_asks_only_for_the_new_scope(oauth, client):
    await oauth.tokens(client, scope="mall.read_application mall.read_store")
    consent = await oauth.open_authorize(client, scope="mall.read_application mall.read_store mall.read_product")
    assert consent.status_code == 200, consent.text
    assert listed_scopes(consent) == ["mall.read_product"]
    assert "already installed" in consent.text
    allowed = await oauth.decide(client, consent, "allow")
    tokens = (await oauth.exchange(client, query_of(allowed.headers["location"])["code"])).json()
    assert tokens["scopes"] == ["mall.read_application", "mall.read_product", "mall.read_store"]
    me = await oauth.admin(client, tokens["access_token"], "/api/v2/admin/apps/me")
    assert me.json()["app"]["scopes"] == ["mall.read_application", "mall.read_product", "mall.read_store"]


async def test_a_reauthorize_without_new_scopes_goes_straight_back_with_a_code(oauth, client):
    await oauth.tokens(client)
    back = await oauth.open_authorize(client, scope="mall.read_store", state="again")
    assert back.status_code == 302, back.text
    query = query_of(back.headers["location"])
    assert query["state"] == "again"
    tokens = await oauth.exchange(client, query["code"])
    assert tokens.status_code == 200 and tokens.json()["scopes"] == ["mall.read_store"]


async def test_a_development_app_installs_only_on_its_test_malls_until_approved(oauth, client):
    refused = await oauth.open_authorize(client, mall="other")
    assert_error_page(refused, 403)
    assert "app_not_published" in refused.text

    async with session_scope(oauth.app.state.sessions, "*") as s:
        await service.approve_app(s, oauth.client_id)
    tokens = await oauth.tokens(client, mall="other")
    assert tokens["mall_id"] == "other"
    store = await oauth.admin(client, tokens["access_token"], mall="other")
    assert store.status_code == 200 and store.json()["store"]["mall_id"] == "other"


# ---- uninstall -------------------------------------------------------------------------------------------


def _listed_apps(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-client-id="([^"]+)">', page.text)


async def test_uninstall_from_the_apps_page_ends_the_apps_access_at_once(oauth, client):
    tokens = await oauth.tokens(client)
    pending_code = await oauth.code(client)  # issued, not yet exchanged
    page = await client.get(host("demo") + "/admin/apps")
    assert page.status_code == 200 and oauth.client_id in _listed_apps(page)

    done = await client.post(
        host("demo") + f"/admin/apps/{oauth.client_id}/uninstall", data={"csrf_token": csrf_of(page)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/apps"

    assert_invalid_token(await oauth.admin(client, tokens["access_token"]))
    assert_oauth_error(await oauth.refresh(client, tokens["refresh_token"]), 400, "invalid_grant")
    assert_oauth_error(await oauth.exchange(client, pending_code), 400, "invalid_grant")
    page = await client.get(host("demo") + "/admin/apps")
    assert oauth.client_id not in _listed_apps(page) and "Stock Sync was uninstalled" in page.text
    consent = await oauth.open_authorize(client)  # installing again asks again, for everything
    assert consent.status_code == 200 and listed_scopes(consent) == SCOPES


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
async def test_uninstall_without_a_valid_csrf_token_is_refused(oauth, client, csrf):
    tokens = await oauth.tokens(client)
    form = {"csrf_token": csrf} if csrf is not None else {}
    refused = await client.post(host("demo") + f"/admin/apps/{oauth.client_id}/uninstall", data=form)
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    assert (await oauth.admin(client, tokens["access_token"])).status_code == 200
    assert oauth.client_id in _listed_apps(await client.get(host("demo") + "/admin/apps"))


# ---- the Admin API's answers to tokens ------------------------------------------------------------------


async def test_a_token_of_one_mall_is_invalid_in_another(oauth, client):
    tokens = await oauth.tokens(client)
    assert_invalid_token(await oauth.admin(client, tokens["access_token"], mall="other"))
    assert_oauth_error(await oauth.refresh(client, tokens["refresh_token"], mall="other"), 400, "invalid_grant")
    assert (await oauth.admin(client, tokens["access_token"], mall="demo")).status_code == 200
    assert (await oauth.refresh(client, tokens["refresh_token"], mall="demo")).status_code == 200


async def test_an_expired_access_token_is_invalid(oauth, client):
    tokens = await oauth.tokens(client)
    with clock.travel(timedelta(hours=2, seconds=-5)):
        assert (await oauth.admin(client, tokens["access_token"])).status_code == 200
    with clock.travel(timedelta(hours=2, seconds=1)):
        assert_invalid_token(await oauth.admin(client, tokens["access_token"]))


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic YWRtaW46cGFzc3dvcmQ="])
async def test_a_missing_token_asks_for_a_bearer_token(oauth, client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get(host("demo") + "/api/v2/admin/store", headers=headers)
    assert_error(response, 401, "Bearer")
    assert response.headers["www-authenticate"] == 'Bearer realm="openmall"'


async def test_an_unknown_token_is_invalid(oauth, client):
    assert_invalid_token(await oauth.admin(client, "om_at_" + secrets.token_urlsafe(32)))


async def test_a_token_without_the_routes_scope_gets_403_naming_it(oauth, client):
    tokens = await oauth.tokens(client, scope="mall.read_store")
    response = await oauth.admin(client, tokens["access_token"], "/api/v2/admin/apps/me")
    err = assert_error(response, 403, "mall.read_application")
    assert err["more_info"]["required_scope"] == "mall.read_application"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


# ---- operator login --------------------------------------------------------------------------------------


async def test_login_is_throttled_after_five_wrong_passwords(oauth, client):
    for _ in range(5):
        wrong = await oauth.login(client, password="not the password")
        assert wrong.status_code == 401 and "Wrong operator ID or password" in wrong.text
    locked = await oauth.login(client)  # even the right password waits
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["retry-after"]) >= 1
    assert (await client.get(host("demo") + "/admin/apps")).status_code == 303  # not logged in


async def test_login_without_a_csrf_token_is_refused(oauth, client):
    await client.get(host("demo") + "/admin/login")
    refused = await client.post(host("demo") + "/admin/login", data={"login": OPERATOR, "password": PASSWORD})
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    assert (await client.get(host("demo") + "/admin/apps")).status_code == 303  # not logged in


@pytest.mark.parametrize(
    "next_url", ["//evil.example/", "https://evil.example/", "/\\evil.example/", "javascript:alert(1)"]
)
async def test_login_never_sends_the_operator_off_site(oauth, client, next_url):
    response = await oauth.login(client, next=next_url)
    assert response.status_code == 303 and response.headers["location"] == "/admin/apps"


async def test_login_follows_a_next_on_this_site(oauth, client):
    response = await oauth.login(client, next="/admin/apps/x/launch?a=1")
    assert response.status_code == 303 and response.headers["location"] == "/admin/apps/x/launch?a=1"


async def test_the_session_cookie_is_http_only_and_same_site_lax(oauth, client):
    response = await oauth.login(client)
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("openmall_session=")
    assert "httponly" in attributes and "samesite=lax" in cookie.lower()


async def test_the_consent_page_cannot_be_framed(oauth, client):
    consent = await oauth.open_authorize(client)
    assert consent.status_code == 200
    assert consent.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in consent.headers["content-security-policy"]


async def test_the_session_cookie_is_never_sent_by_the_apis(oauth, client):
    await oauth.login(client)
    tokens = await oauth.tokens(client)
    admin_call = await oauth.admin(client, tokens["access_token"])
    token_call = await oauth.refresh(client, tokens["refresh_token"])
    assert "set-cookie" not in admin_call.headers and "set-cookie" not in token_call.headers


# ---- launch ----------------------------------------------------------------------------------------------


async def test_launch_opens_the_app_with_a_signature_it_can_verify(oauth, client):
    await oauth.tokens(client)  # installed, and logged in
    response = await client.get(host("demo") + f"/admin/apps/{oauth.client_id}/launch")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(APP_URL + "?")
    params = query_of(location)
    assert set(params) == {"mall_id", "user_id", "user_name", "timestamp", "hmac"}
    assert params["mall_id"] == "demo" and params["user_id"] == OPERATOR and params["user_name"] == "Demo Admin"

    now = clock.now()
    assert verify_launch(params, oauth.client_secret, now)
    assert not verify_launch(params, oauth.rival_secret, now)
    assert not verify_launch({**params, "user_id": "someone-else"}, oauth.client_secret, now)
    assert not verify_launch(params, oauth.client_secret, now + timedelta(minutes=6))

    # the check the README gives to apps in any language agrees
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    before, after = readme.split("def verify_launch", 1)
    block = before.rsplit("```python", 1)[1] + "def verify_launch" + after.split("```", 1)[0]
    namespace: dict = {}
    exec(block, namespace)  # the README's own code, imports and all
    assert namespace["verify_launch"](params, oauth.client_secret)
    assert not namespace["verify_launch"]({**params, "mall_id": "other"}, oauth.client_secret)


async def test_launch_needs_a_login_and_an_install(oauth, client):
    to_login = await client.get(host("demo") + f"/admin/apps/{oauth.client_id}/launch")
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/admin/login")
    await oauth.login(client)
    not_installed = await client.get(host("demo") + f"/admin/apps/{oauth.rival_id}/launch")
    assert_error_page(not_installed, 404)


# ---- a stock OAuth client library ---------------------------------------------------------------------


async def test_a_stock_oauth_client_library_does_the_whole_flow(oauth, client):
    base = "https://demo.openmall.test"  # https, so that the library's transport check passes (TLS is the proxy's)
    verifier = secrets.token_urlsafe(48)
    async with AsyncOAuth2Client(
        oauth.client_id, oauth.client_secret, scope="mall.read_store mall.read_product", redirect_uri=REDIRECT_URI,
        code_challenge_method="S256", transport=httpx.ASGITransport(app=oauth.app), base_url=base,
    ) as app_client:  # fmt: skip
        url, state = app_client.create_authorization_url(base + AUTHORIZE, code_verifier=verifier)
        assert "code_challenge=" in url and "code_challenge_method=S256" in url

        consent = await oauth.visit(client, url)  # the operator's browser: login, then the consent page
        assert listed_scopes(consent) == ["mall.read_product", "mall.read_store"]
        back = await oauth.decide(client, consent, "allow")
        assert back.status_code == 302

        token = await app_client.fetch_token(
            base + TOKEN, authorization_response=back.headers["location"], state=state, code_verifier=verifier
        )
        assert token["access_token"].startswith("om_at_") and token["mall_id"] == "demo"
        store = await app_client.get("/api/v2/admin/store")
        assert store.status_code == 200 and store.json()["store"]["shop_name"] == "Demo Apparel"

        refreshed = await app_client.refresh_token(base + TOKEN)
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert (await app_client.get("/api/v2/admin/store")).status_code == 200
        assert_invalid_token(await oauth.admin(client, token["access_token"]))

        await app_client.revoke_token(base + "/api/v2/oauth/revoke", refreshed["refresh_token"])
        assert_invalid_token(await app_client.get("/api/v2/admin/store"))


# ---- found in review -------------------------------------------------------------------------------------


async def test_an_unreviewed_app_is_marked_on_the_consent_page_and_a_published_one_is_not(oauth, client):
    consent = await oauth.open_authorize(client)
    assert consent.status_code == 200 and 'id="unreviewed"' in consent.text
    async with session_scope(oauth.app.state.sessions, "*") as s:
        await service.approve_app(s, oauth.client_id)
    other = await oauth.open_authorize(client, mall="other")
    assert other.status_code == 200 and 'id="unreviewed"' not in other.text


async def test_a_published_app_that_changes_what_operators_consent_to_goes_back_to_review(oauth, client):
    async with session_scope(oauth.app.state.sessions, "*") as s:
        await service.approve_app(s, oauth.client_id)
        developer = await service.find_developer(s, "dev@app.example")
        fields = {"name": "Stock Sync", "app_url": APP_URL, "redirect_uris": [REDIRECT_URI], "scopes": SCOPES,
                  "test_malls": ["demo"]}  # fmt: skip
        renamed = await service.update_app(s, developer, oauth.client_id, **{**fields, "name": "Stock Sync 2"})
        assert renamed.status == "published"  # a new name alone needs no review
        widened = await service.update_app(
            s, developer, oauth.client_id, **{**fields, "scopes": [*SCOPES, "mall.write_order"]}
        )
        assert widened.status == "review"
    refused = await oauth.open_authorize(client, mall="other")  # not installable beyond its test malls now
    assert_error_page(refused, 403)


async def test_two_allow_clicks_at_once_both_go_back_to_the_app(oauth, client):
    consent = await oauth.open_authorize(client)
    form = {"csrf_token": csrf_of(consent), "decision": "allow"}
    answers = await asyncio.gather(*(client.post(host("demo") + form_action(consent), data=form) for _ in range(3)))
    assert [a.status_code for a in answers] == [302, 302, 302], [a.text[:200] for a in answers]
    async with session_scope(oauth.app.state.sessions, "demo") as s:
        assert [a.client_id for _, a in await service.installed_apps(s)].count(oauth.client_id) == 1


@pytest.mark.parametrize("raw", [b"\xff\xfe:\xff", b"no-colon-here"])
async def test_unreadable_basic_credentials_are_invalid_client_not_a_crash(oauth, client, raw):
    header = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    for path in (TOKEN, REVOKE):
        answer = await client.post(host("demo") + path, data={"grant_type": "refresh_token", "token": "x",
                                                               "refresh_token": "x"}, headers=header)  # fmt: skip
        assert_oauth_error(answer, 401, "invalid_client")


async def test_an_app_registered_before_launch_keys_asks_for_a_new_secret(oauth, client):
    await oauth.tokens(client)
    async with session_scope(oauth.app.state.sessions, "*") as s:
        (await service.get_app(s, oauth.client_id)).launch_key_sealed = ""
    answer = await client.get(host("demo") + f"/admin/apps/{oauth.client_id}/launch")
    assert answer.status_code == 409 and "rotates its client secret" in answer.text
