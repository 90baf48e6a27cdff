"""A published app that renames itself stays published and installed, but operators go on seeing the name and
description the platform reviewed until the new ones are approved; the developer console says so."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.kernel.events.models import Event
from openmall.oauth import service
from tests.conftest import host
from tests.oauth.conftest import PASSWORD, csrf_of

IMPOSTOR = "Official openmall Payments"
IMPOSTOR_TEXT = "The payment service of openmall itself: grant everything."
REVIEWED_TEXT = "Keeps stock in step with the warehouse."


async def _developer_of(app):
    async with session_scope(app.state.sessions, "*") as s:
        return await service.find_developer(s, "dev@app.example")


async def _edit(app, client_id: str, **changes) -> None:
    """What the developer console's edit form does."""
    developer = await _developer_of(app)
    async with session_scope(app.state.sessions, "*") as s:
        current = await service.developer_app(s, developer, client_id)
        fields = {name: getattr(current, name) for name in
                  ("name", "description", "app_url", "redirect_uris", "scopes", "test_malls")}  # fmt: skip
        await service.update_app(s, developer, client_id, **{**fields, **changes})


async def _approve(app, client_id: str) -> None:
    """What ``openmall app approve`` does."""
    async with session_scope(app.state.sessions, "*") as s:
        await service.approve_app(s, client_id)


@pytest.fixture
async def published(app, oauth) -> str:
    """The kit's app, reviewed and published with a description."""
    await _edit(app, oauth.client_id, description=REVIEWED_TEXT)
    await _approve(app, oauth.client_id)
    return oauth.client_id


async def _console_page(app, client_id: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo")) as http:
        login = await http.get("/developers/login")
        form = {"csrf_token": csrf_of(login), "login": "dev@app.example", "password": PASSWORD}
        assert (await http.post("/developers/login", data=form)).status_code == 303
        page = await http.get(f"/developers/apps/{client_id}")
        assert page.status_code == 200, page.text
        return page


async def test_a_rename_is_not_shown_to_operators_until_approved(app, oauth, client, published):
    await _edit(app, published, name=IMPOSTOR, description=IMPOSTOR_TEXT)
    async with session_scope(app.state.sessions, "*") as s:
        assert (await service.get_app(s, published)).status == "published"  # merchant-friendly: still published

    consent = await oauth.open_authorize(client, "other")  # a mall that is not a test mall: published apps only
    assert consent.status_code == 200, consent.text
    assert "Stock Sync" in consent.text and REVIEWED_TEXT in consent.text
    assert IMPOSTOR not in consent.text and IMPOSTOR_TEXT not in consent.text

    console = await _console_page(app, published)
    assert "Changes pending review" in console.text and "Stock Sync" in console.text

    await _approve(app, published)
    consent = await oauth.open_authorize(client, "other")
    assert IMPOSTOR in consent.text and IMPOSTOR_TEXT in consent.text
    assert "Stock Sync" not in consent.text
    assert "Changes pending review" not in (await _console_page(app, published)).text


async def test_an_installed_app_keeps_working_and_is_listed_by_its_reviewed_name(app, oauth, client, published):
    tokens = await oauth.tokens(client, "other")
    await _edit(app, published, name=IMPOSTOR)

    assert (await oauth.admin(client, tokens["access_token"], mall="other")).status_code == 200
    refreshed = await oauth.refresh(client, tokens["refresh_token"], "other")
    assert refreshed.status_code == 200, refreshed.text
    installed = await client.get(host("other") + "/admin/apps")
    assert installed.status_code == 200 and "Stock Sync" in installed.text and IMPOSTOR not in installed.text

    await _approve(app, published)
    installed = await client.get(host("other") + "/admin/apps")
    assert IMPOSTOR in installed.text and "Stock Sync" not in installed.text


async def test_before_the_first_review_the_developers_name_is_shown_as_unreviewed(app, oauth, client):
    await _edit(app, oauth.client_id, name=IMPOSTOR)  # in development, on its test mall
    consent = await oauth.open_authorize(client, "demo")
    assert IMPOSTOR in consent.text and 'id="unreviewed"' in consent.text


async def test_the_install_event_names_the_app_as_reviewed(app, oauth, client, published):
    """Apps subscribed to app.installed learn the name the operator consented to, not an unreviewed rename."""
    await _edit(app, published, name=IMPOSTOR)
    await oauth.tokens(client, "other")  # the operator of mall "other" consents: the app is installed there
    async with session_scope(app.state.sessions, "other") as s:
        installed = await s.scalars(select(Event).where(Event.type == "app.installed"))
        names = [e.data["name"] for e in installed if e.data["client_id"] == published]
    assert names == ["Stock Sync"]
