"""OAuth over HTTP: two malls, their operators, a developer with two apps, and a browser-like helper.

``OAuthKit`` does what an operator's browser and an app's back end do: it follows the authorize
page to the login form, logs in by posting the form with the CSRF token read from the HTML, allows
(or denies) on the consent page, reads the code from the redirect, and talks to the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from argon2 import PasswordHasher

from openmall.kernel import passwords
from openmall.kernel.db import session_scope
from openmall.oauth import service
from tests.conftest import add_mall, host

AUTHORIZE = "/api/v2/oauth/authorize"
TOKEN = "/api/v2/oauth/token"
REVOKE = "/api/v2/oauth/revoke"
REDIRECT_URI = "https://app.example/cb"
APP_URL = "https://app.example/launch"
SCOPES = ["mall.read_application", "mall.read_product", "mall.read_store", "mall.write_product"]
OPERATOR, PASSWORD = "admin", "correct horse battery"
STATE = "st4te-xyz"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_SCOPE_ITEMS = re.compile(r"<li>[^<]*<code>([^<]+)</code></li>")


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no csrf_token in the page ({page.status_code}): {page.text[:300]}"
    return found.group(1)


def form_action(page: httpx.Response) -> str:
    found = _FORM_ACTION.search(page.text)
    assert found, f"no form in the page: {page.text[:300]}"
    return html.unescape(found.group(1))


def listed_scopes(consent_page: httpx.Response) -> list[str]:
    """The scopes the consent page asks for (the ``<ul id="scopes">`` items)."""
    section = consent_page.text.split('<ul id="scopes">', 1)[1].split("</ul>", 1)[0]
    return _SCOPE_ITEMS.findall(section)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class OAuthKit:
    app: Any
    client_id: str
    client_secret: str
    rival_id: str  # another app of the same developer, with its own secret
    rival_secret: str

    # ---- the operator's browser ------------------------------------------------------------------

    def params(self, **changes: str | None) -> dict[str, str]:
        """Authorize parameters for the main app; a change to None drops the parameter."""
        out: dict[str, str | None] = {
            "response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT_URI,
            "scope": " ".join(SCOPES), "state": STATE,
        }  # fmt: skip
        out.update(changes)
        return {k: v for k, v in out.items() if v is not None}

    async def login(
        self, client: httpx.AsyncClient, mall: str = "demo", password: str = PASSWORD, next: str | None = None
    ) -> httpx.Response:
        page = await client.get(host(mall) + "/admin/login", params={"next": next} if next else None)
        assert page.status_code == 200, page.text
        form = {"csrf_token": csrf_of(page), "login": OPERATOR, "password": password}
        if next:
            form["next"] = next
        return await client.post(host(mall) + "/admin/login", data=form)

    async def visit(self, client: httpx.AsyncClient, url: str | httpx.URL, mall: str = "demo") -> httpx.Response:
        """GET a page; when it sends us to log in, log in and come back to it."""
        page = await client.get(url)
        if page.status_code == 303 and urlsplit(page.headers["location"]).path == "/admin/login":
            back = query_of(page.headers["location"])["next"]
            logged_in = await self.login(client, mall, next=back)
            assert logged_in.status_code == 303, logged_in.text
            assert logged_in.headers["location"] == back
            page = await client.get(host(mall) + back)
        return page

    async def open_authorize(self, client: httpx.AsyncClient, mall: str = "demo", **changes: str | None):
        """The authorize page (the consent page, an error page, or a redirect back to the app)."""
        return await self.visit(client, httpx.URL(host(mall) + AUTHORIZE, params=self.params(**changes)), mall)

    async def decide(self, client: httpx.AsyncClient, consent: httpx.Response, decision: str, mall: str = "demo"):
        assert consent.status_code == 200, consent.text
        form = {"csrf_token": csrf_of(consent), "decision": decision}
        return await client.post(host(mall) + form_action(consent), data=form)

    async def authorize(
        self, client: httpx.AsyncClient, mall: str = "demo", decision: str = "allow", **changes: str | None
    ) -> httpx.Response:
        """The response that sends the browser back to the app (after consent when one is asked)."""
        page = await self.open_authorize(client, mall, **changes)
        if page.status_code == 200:
            page = await self.decide(client, page, decision, mall)
        return page

    async def code(self, client: httpx.AsyncClient, mall: str = "demo", **changes: str | None) -> str:
        back = await self.authorize(client, mall, **changes)
        assert back.status_code == 302, back.text
        location = back.headers["location"]
        assert location.startswith(changes.get("redirect_uri") or REDIRECT_URI), location
        query = query_of(location)
        assert query.get("state") == changes.get("state", STATE), location
        assert query["code"].startswith("om_ac_"), location
        return query["code"]

    # ---- the app's back end ------------------------------------------------------------------------

    async def exchange(
        self, client: httpx.AsyncClient, code: str, mall: str = "demo", *, client_id: str | None = None,
        secret: str | None = None, redirect_uri: str = REDIRECT_URI, post_auth: bool = False, **extra: str,
    ) -> httpx.Response:  # fmt: skip
        """POST the code to the token endpoint with client_secret_basic (or client_secret_post)."""
        client_id, secret = client_id or self.client_id, secret or self.client_secret
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **extra}
        if post_auth:
            form |= {"client_id": client_id, "client_secret": secret}
            return await client.post(host(mall) + TOKEN, data=form)
        return await client.post(host(mall) + TOKEN, data=form, headers=basic(client_id, secret))

    async def tokens(self, client: httpx.AsyncClient, mall: str = "demo", **changes: str | None) -> dict[str, Any]:
        """A fresh token pair, through consent and code exchange."""
        response = await self.exchange(client, await self.code(client, mall, **changes), mall)
        assert response.status_code == 200, response.text
        return response.json()

    async def refresh(self, client: httpx.AsyncClient, refresh_token: str, mall: str = "demo") -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await client.post(host(mall) + TOKEN, data=form, headers=basic(self.client_id, self.client_secret))

    async def revoke(
        self, client: httpx.AsyncClient, token: str, hint: str | None = None, *, client_id: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:  # fmt: skip
        form = {"token": token} | ({"token_type_hint": hint} if hint else {})
        auth = basic(client_id or self.client_id, secret or self.client_secret)
        return await client.post(host("demo") + REVOKE, data=form, headers=auth)

    async def admin(
        self, client: httpx.AsyncClient, token: str | None, path: str = "/api/v2/admin/store", mall: str = "demo"
    ) -> httpx.Response:
        return await client.get(host(mall) + path, headers=bearer(token) if token else {})


@pytest.fixture
async def oauth(app, monkeypatch: pytest.MonkeyPatch) -> OAuthKit:
    """Malls demo and other (an operator ``admin`` in each) and two apps in development, testing on demo."""
    # argon2 still, with the cheapest parameters: these tests log in dozens of times on a busy machine
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    await add_mall(app, "demo", "Demo Apparel")
    await add_mall(app, "other", "Other Shop")
    for mall in ("demo", "other"):
        async with session_scope(app.state.sessions, mall) as s:
            await service.create_operator(s, OPERATOR, f"{mall.title()} Admin", PASSWORD)
    async with session_scope(app.state.sessions, "*") as s:
        developer = await service.create_developer(s, "dev@app.example", "App Developer", PASSWORD)
        made = await service.create_app(
            s, app.state.key, developer, name="Stock Sync", app_url=APP_URL, redirect_uris=[REDIRECT_URI],
            scopes=SCOPES, test_malls=["demo"],
        )  # fmt: skip
        rival = await service.create_app(
            s, app.state.key, developer, name="Rival", app_url="https://rival.example/",
            redirect_uris=["https://rival.example/cb"], scopes=["mall.read_store"], test_malls=["demo"],
        )  # fmt: skip
    return OAuthKit(app, made.app.client_id, made.client_secret, rival.app.client_id, rival.client_secret)
