"""Developer emails and operator login ids in one normal form: a full-width or upper-case copy of an
account is that account, and one with an invisible character is refused (issue 12 §3, look-alike accounts)."""

from __future__ import annotations

import pytest

from openmall.kernel.db import session_scope
from openmall.kernel.errors import Conflict, InvalidInput
from openmall.oauth import service as oauth
from tests.conftest import add_mall

PASSWORD = "correct horse battery"


@pytest.fixture
async def accounts(app):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        await oauth.create_developer(s, "jane@example.com", "Jane", PASSWORD)
        await oauth.create_operator(s, "boss", "Boss", PASSWORD)
    return app


@pytest.mark.parametrize("look_alike", ["JANE@Example.com", "ｊａｎｅ@ｅｘａｍｐｌｅ.ｃｏｍ", " jane@example.com "])
async def test_a_look_alike_developer_email_is_the_same_developer(accounts, look_alike):
    async with session_scope(accounts.state.sessions, "*") as s:
        with pytest.raises(Conflict):
            await oauth.create_developer(s, look_alike, "Mallory", PASSWORD)
    async with session_scope(accounts.state.sessions, "*") as s:
        found = await oauth.authenticate_developer(s, look_alike, PASSWORD)
        assert found is not None and found.email == "jane@example.com"
        assert (await oauth.find_developer(s, look_alike)).developer_no == found.developer_no


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u202e", "\u2067", "\ufeff", "\u115f"])
async def test_a_developer_email_with_an_invisible_character_is_refused(accounts, invisible):
    async with session_scope(accounts.state.sessions, "*") as s:
        with pytest.raises(InvalidInput, match="invisible") as err:
            await oauth.create_developer(s, f"jane{invisible}@example.com", "Mallory", PASSWORD)
        assert err.value.more_info["field"] == "email"
        assert await oauth.authenticate_developer(s, f"jane{invisible}@example.com", PASSWORD) is None


async def test_operator_login_ids_are_case_and_width_insensitive(accounts):
    async with session_scope(accounts.state.sessions, "demo") as s:
        for look_alike in ("BOSS", "ｂｏｓｓ"):
            with pytest.raises(Conflict):
                await oauth.create_operator(s, look_alike, "Twin", PASSWORD)
        with pytest.raises(InvalidInput, match="invisible"):
            await oauth.create_operator(s, "bo\u200bss", "Twin", PASSWORD)
        made = await oauth.create_operator(s, "Ｍａｎａｇｅｒ", "Manager", PASSWORD)
        assert made.login_id == "manager"
    async with session_scope(accounts.state.sessions, "demo") as s:
        assert (await oauth.authenticate_operator(s, "ＢＯＳＳ", PASSWORD)).login_id == "boss"
        assert (await oauth.authenticate_operator(s, "MANAGER", PASSWORD)).login_id == "manager"
        assert await oauth.authenticate_operator(s, "bo\u200bss", PASSWORD) is None
