"""The consoles' "Change password" page, over HTTP: the caller's session stays, every other session of the account
ends (a copied cookie is out), the new password is the one that logs in; a wrong current password changes
nothing, counts as a failed login and spends the console login limit; a form without its CSRF token is refused."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.kernel.ratelimit import MemoryBuckets
from openmall.oauth.models import Developer, Operator
from tests.conftest import host
from tests.oauth.conftest import OPERATOR, PASSWORD, csrf_of

NEW = "a brand new passphrase"
DEMO = host("demo")
OPERATOR_PAGE, DEVELOPER_PAGE = "/admin/account/password", "/developers/account/password"


def _browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=DEMO)


async def _login(client: httpx.AsyncClient, path: str, login: str, password: str) -> httpx.Response:
    page = await client.get(path)
    return await client.post(path, data={"csrf_token": csrf_of(page), "login": login, "password": password})


async def _operator_login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await _login(client, "/admin/login", OPERATOR, password)


async def _change(client: httpx.AsyncClient, path: str, current: str, new: str, repeat: str | None = None):
    page = await client.get(path)
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page), "current_password": current, "new_password": new,
            "repeat_password": new if repeat is None else repeat}  # fmt: skip
    return await client.post(path, data=form)


def _to_login(response: httpx.Response, login_path: str) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(login_path)


async def _failed_logins(app) -> int:
    async with session_scope(app.state.sessions, "demo") as s:
        return await s.scalar(select(Operator.failed_logins).where(Operator.login_id == OPERATOR))


async def test_an_operator_changes_the_password_and_only_the_other_session_ends(oauth, client):
    async with _browser(oauth.app) as other:
        assert (await _operator_login(client)).status_code == 303
        assert (await _operator_login(other)).status_code == 303
        apps = await client.get("/admin/apps")
        assert f'href="{OPERATOR_PAGE}"' in apps.text  # linked from the console's header

        done = await _change(client, OPERATOR_PAGE, PASSWORD, NEW)
        assert done.status_code == 303 and done.headers["location"] == OPERATOR_PAGE
        page = await client.get(OPERATOR_PAGE)
        assert "Your password was changed" in page.text

        assert _to_login(await other.get("/admin/apps"), "/admin/login")  # the other session ended
        assert (await client.get("/admin/apps")).status_code == 200  # mine stays
    async with _browser(oauth.app) as fresh:
        assert (await _operator_login(fresh, PASSWORD)).status_code == 401  # the old password is gone
        assert (await _operator_login(fresh, NEW)).status_code == 303
    async with _browser(oauth.app) as fresh:  # the same operator name in another mall is another account
        assert (await _login(fresh, host("other") + "/admin/login", OPERATOR, PASSWORD)).status_code == 303


async def test_a_developer_changes_the_password_and_only_the_other_session_ends(oauth, client):
    email = "dev@app.example"
    async with _browser(oauth.app) as other:
        assert (await _login(client, "/developers/login", email, PASSWORD)).status_code == 303
        assert (await _login(other, "/developers/login", email, PASSWORD)).status_code == 303
        assert f'href="{DEVELOPER_PAGE}"' in (await client.get("/developers/apps")).text

        done = await _change(client, DEVELOPER_PAGE, PASSWORD, NEW)
        assert done.status_code == 303
        assert "Your password was changed" in (await client.get(DEVELOPER_PAGE)).text
        assert _to_login(await other.get("/developers/apps"), "/developers/login")
        assert (await client.get("/developers/apps")).status_code == 200
    async with _browser(oauth.app) as fresh:
        assert (await _login(fresh, "/developers/login", email, PASSWORD)).status_code == 401
        assert (await _login(fresh, "/developers/login", email, NEW)).status_code == 303
    async with session_scope(oauth.app.state.sessions, "*") as s:
        assert (await s.scalar(select(Developer.failed_logins).where(Developer.email == email))) == 0


@pytest.mark.parametrize(
    ("current", "new", "repeat", "says"),
    [
        ("not my password", NEW, NEW, "The current password is wrong; nothing was changed"),
        (PASSWORD, "short", "short", "The new password should have at least 10 characters"),
        (PASSWORD, NEW, NEW + "!", "The two new passwords differ; type the same one twice"),
    ],
    ids=["wrong-current", "too-short", "repeats-differ"],
)
async def test_a_refused_change_changes_nothing_and_says_why(oauth, client, current, new, repeat, says):
    async with _browser(oauth.app) as other:
        assert (await _operator_login(client)).status_code == 303
        assert (await _operator_login(other)).status_code == 303
        refused = await _change(client, OPERATOR_PAGE, current, new, repeat)
        assert refused.status_code == 422
        assert says in refused.text and 'class="error"' in refused.text
        assert "Your password was changed" not in refused.text
        assert (await other.get("/admin/apps")).status_code == 200  # no session ended
        assert (await client.get("/admin/apps")).status_code == 200
    # only a wrong current password counts as a failed login
    assert await _failed_logins(oauth.app) == (1 if current != PASSWORD else 0)
    async with _browser(oauth.app) as fresh:
        assert (await _operator_login(fresh, PASSWORD)).status_code == 303  # the password is still the old one


async def test_a_change_without_the_csrf_token_is_refused(oauth, client):
    async with _browser(oauth.app) as other:
        assert (await _operator_login(client)).status_code == 303
        assert (await _operator_login(other)).status_code == 303
        form = {"current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}
        for csrf in ({}, {"csrf_token": "forged"}):
            refused = await client.post(OPERATOR_PAGE, data=form | csrf)
            assert refused.status_code == 403 and "did not come from this site" in refused.text
        assert (await other.get("/admin/apps")).status_code == 200
    async with _browser(oauth.app) as fresh:
        assert (await _operator_login(fresh, NEW)).status_code == 401
        assert (await _operator_login(fresh, PASSWORD)).status_code == 303


async def test_wrong_current_passwords_spend_the_login_limit_of_the_account(oauth, client):
    oauth.app.state.buckets = MemoryBuckets()
    settings = oauth.app.state.settings
    settings.login_limit_per_ip, settings.login_limit_per_account, settings.login_limit_drain_seconds = 100, 3, 600
    assert (await _operator_login(client)).status_code == 303  # the first attempt of the account's three
    for _ in range(2):
        assert (await _change(client, OPERATOR_PAGE, "not my password", NEW)).status_code == 422
    slowed = await _change(client, OPERATOR_PAGE, PASSWORD, NEW)  # even the right one, for now
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    assert "Too many login attempts" in slowed.text
    async with _browser(oauth.app) as fresh:  # one bucket with the login form
        assert (await _operator_login(fresh, PASSWORD)).status_code == 429


async def test_the_page_needs_a_login(oauth, client):
    for path, login in ((OPERATOR_PAGE, "/admin/login"), (DEVELOPER_PAGE, "/developers/login")):
        assert _to_login(await client.get(path), login)
        page = await client.get(login)  # a visitor's valid CSRF token is no login
        form = {"csrf_token": csrf_of(page), "current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}
        assert _to_login(await client.post(path, data=form), login)
