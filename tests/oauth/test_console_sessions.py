"""Console sessions live on the server: the cookie carries only a token, and logout, a password change or the
account's removal ends the session wherever a copy of the cookie is."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, select

from openmall.kernel.db import session_scope
from openmall.kernel.secrets import digest
from openmall.oauth import sessions
from openmall.oauth.models import ConsoleSession, Developer
from tests.conftest import host
from tests.oauth.conftest import PASSWORD, csrf_of

COOKIE = "openmall_session"


async def _developer_login(client: httpx.AsyncClient, email: str = "dev@app.example") -> str:
    page = await client.get(host("demo") + "/developers/login")
    done = await client.post(host("demo") + "/developers/login",
                             data={"csrf_token": csrf_of(page), "login": email, "password": PASSWORD})  # fmt: skip
    assert done.status_code == 303, done.text
    return client.cookies.get(COOKIE, domain="demo.openmall.test")


async def _with_cookie(app, path: str, cookie: str) -> httpx.Response:
    """A request from another browser that has a copy of the cookie."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo")) as thief:
        return await thief.get(path, headers={"Cookie": f"{COOKIE}={cookie}"})


def _logged_out(response: httpx.Response, login_path: str) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(login_path)


async def test_a_copied_operator_cookie_stops_working_at_logout(oauth, client):
    assert (await oauth.login(client)).status_code == 303
    copied = client.cookies.get(COOKIE, domain="demo.openmall.test")
    assert (await _with_cookie(oauth.app, "/admin/apps", copied)).status_code == 200  # the copy works, for now
    apps = await client.get(host("demo") + "/admin/apps")
    assert (await client.post(host("demo") + "/admin/logout", data={"csrf_token": csrf_of(apps)})).status_code == 303
    assert _logged_out(await _with_cookie(oauth.app, "/admin/apps", copied), "/admin/login")
    assert _logged_out(await client.get(host("demo") + "/admin/apps"), "/admin/login")


async def test_a_copied_developer_cookie_stops_working_at_logout(oauth, client):
    copied = await _developer_login(client)
    assert (await _with_cookie(oauth.app, "/developers/apps", copied)).status_code == 200
    apps = await client.get(host("demo") + "/developers/apps")
    await client.post(host("demo") + "/developers/logout", data={"csrf_token": csrf_of(apps)})
    assert _logged_out(await _with_cookie(oauth.app, "/developers/apps", copied), "/developers/login")


async def test_the_cookie_carries_only_a_token_stored_as_a_digest(oauth, client):
    token = await _developer_login(client)
    assert token.startswith("om_ss_") and "." not in token  # no signed data in it
    async with session_scope(oauth.app.state.sessions, "*") as s:
        rows = list(await s.scalars(select(ConsoleSession)))
    assert [r.token_digest for r in rows] == [digest(oauth.app.state.key, token)]
    assert rows[0].developer_no is not None and rows[0].expires_at > rows[0].created_at


async def test_a_login_starts_a_new_token(oauth, client):
    before = (await client.get(host("demo") + "/developers/login")) and client.cookies.get(COOKIE)
    after = await _developer_login(client)
    assert before and after and before != after  # a token planted before the login is worth nothing after it


async def test_a_password_change_ends_the_other_sessions(oauth, client):
    mine = await _developer_login(client)
    transport = httpx.ASGITransport(app=oauth.app)
    async with httpx.AsyncClient(transport=transport) as other_browser:
        theirs = await _developer_login(other_browser)
    async with session_scope(oauth.app.state.sessions, "*") as s:
        developer = await s.scalar(select(Developer).where(Developer.email == "dev@app.example"))
        await sessions.change_password(s, oauth.app.state.key, developer, PASSWORD, "a new long password", keep=mine)
    assert _logged_out(await _with_cookie(oauth.app, "/developers/apps", theirs), "/developers/login")
    assert (await _with_cookie(oauth.app, "/developers/apps", mine)).status_code == 200


async def test_a_wrong_current_password_changes_nothing(oauth, client):
    theirs = await _developer_login(client)
    with pytest.raises(Exception, match="current password is wrong"):
        async with session_scope(oauth.app.state.sessions, "*") as s:
            developer = await s.scalar(select(Developer).where(Developer.email == "dev@app.example"))
            await sessions.change_password(s, oauth.app.state.key, developer, "not it at all", "a new long password")
    assert (await _with_cookie(oauth.app, "/developers/apps", theirs)).status_code == 200


async def test_removing_the_account_ends_its_sessions(oauth, client):
    copied = await _developer_login(client)
    async with session_scope(oauth.app.state.sessions, "*") as s:
        await s.execute(delete(Developer).where(Developer.email == "dev@app.example"))
    assert _logged_out(await _with_cookie(oauth.app, "/developers/apps", copied), "/developers/login")
    async with session_scope(oauth.app.state.sessions, "*") as s:
        assert list(await s.scalars(select(ConsoleSession))) == []


async def test_expired_sessions_are_refused_and_forgotten(oauth, client):
    from datetime import timedelta

    from sqlalchemy import update

    from openmall.kernel.db import utcnow

    copied = await _developer_login(client)
    async with session_scope(oauth.app.state.sessions, "*") as s:
        await s.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert _logged_out(await _with_cookie(oauth.app, "/developers/apps", copied), "/developers/login")
    assert await sessions.forget_expired(oauth.app.state.sessions) == 1
