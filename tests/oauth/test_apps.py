"""Apps: exact redirect URIs, known scopes, a secret shown once and kept as a digest, review status."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.kernel.errors import InvalidInput
from openmall.oauth import scopes
from openmall.oauth import service as oauth
from openmall.oauth.models import App
from openmall.oauth.server import OAuthClient

KEY = b"test-server-key"
APP = {
    "name": "Reorder",
    "app_url": "https://reorder.example.com/launch",
    "redirect_uris": ["https://reorder.example.com/callback", "http://127.0.0.1:9000/cb"],
    "scopes": ["mall.read_product", "mall.write_order"],
    "test_malls": ["demo"],
}


@pytest.fixture
async def developer(app):
    async with session_scope(app.state.sessions, "*") as s:
        return await oauth.create_developer(s, "dev@example.com", "Dev", "correct horse battery")


async def make(app, developer, **changes):
    async with session_scope(app.state.sessions, "*") as s:
        return await oauth.create_app(s, KEY, developer, **{**APP, **changes})


async def verify(app, client_id, secret):
    """What the token endpoint does with a client's credentials (Authlib asks our OAuthClient)."""
    async with session_scope(app.state.sessions, "*") as s:
        found = await s.scalar(select(App).where(App.client_id == client_id))
        return found if found is not None and OAuthClient(found, KEY).check_client_secret(secret) else None


async def test_the_secret_is_shown_once_and_stored_as_a_digest(app, developer):
    made = await make(app, developer)
    assert made.client_secret.startswith("om_cs_") and len(made.client_secret) >= 6 + 43  # 256 bits
    assert made.client_secret not in made.app.client_secret_digest
    assert (await verify(app, made.app.client_id, made.client_secret)).name == "Reorder"
    assert await verify(app, made.app.client_id, made.client_secret + "x") is None
    assert await verify(app, "no-such-client", made.client_secret) is None


async def test_rotating_the_secret_retires_the_old_one(app, developer):
    made = await make(app, developer)
    async with session_scope(app.state.sessions, "*") as s:
        rotated = await oauth.rotate_secret(s, KEY, developer, made.app.client_id)
    assert await verify(app, made.app.client_id, made.client_secret) is None
    assert await verify(app, made.app.client_id, rotated.client_secret) is not None


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("http://reorder.example.com/cb", "must use https"),
        ("https://reorder.example.com/cb#frag", "exact"),
        ("https://*.example.com/cb", "exact"),
        ("reorder.example.com/cb", "absolute https URL"),
        ("javascript:alert(1)", "absolute https URL"),
    ],
)
async def test_redirect_uris_are_exact_and_safe(app, developer, uri, words):
    with pytest.raises(InvalidInput, match=words):
        await make(app, developer, redirect_uris=[uri])


async def test_loopback_http_is_allowed_for_local_development(app, developer):
    made = await make(app, developer, redirect_uris=["http://localhost:3000/cb", "http://[::1]:3000/cb"])
    assert made.app.redirect_uris == ["http://localhost:3000/cb", "http://[::1]:3000/cb"]


async def test_unknown_scopes_are_refused(app, developer):
    with pytest.raises(InvalidInput, match="unknown scope: mall.read_everything"):
        await make(app, developer, scopes=["mall.read_product", "mall.read_everything"])


async def test_development_apps_install_only_on_test_malls_until_published(app, developer):
    made = await make(app, developer)
    assert oauth.installable_on(made.app, "demo") and not oauth.installable_on(made.app, "acme")
    async with session_scope(app.state.sessions, "*") as s:
        assert (await oauth.submit_for_review(s, developer, made.app.client_id)).status == "review"
        published = await oauth.approve_app(s, made.app.client_id)
    assert published.status == "published" and oauth.installable_on(published, "acme")


def test_write_scopes_imply_read_and_read_in_plain_words():
    assert scopes.allows(["mall.write_product"], "mall.read_product")
    assert not scopes.allows(["mall.read_product"], "mall.write_product")
    assert not scopes.allows(["mall.write_product"], "mall.read_order")
    assert scopes.describe("mall.write_order") == "See and change orders, payments and claims"
    assert len(scopes.ALL) == 2 * len(scopes.GROUPS) == 34
