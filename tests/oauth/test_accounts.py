"""Operators and developers: argon2 passwords, per-mall operators, failed logins slowed down."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.kernel.errors import Conflict, InvalidInput
from openmall.oauth import service as oauth
from openmall.oauth.models import Operator
from tests.conftest import add_mall

PASSWORD = "correct horse battery"


@pytest.fixture
async def malls(app):
    await add_mall(app, "demo")
    await add_mall(app, "other")
    async with session_scope(app.state.sessions, "demo") as s:
        await oauth.create_operator(s, "boss", "Boss", PASSWORD)
    return app


async def login(app, mall: str, login_id: str, password: str):
    async with session_scope(app.state.sessions, mall) as s:
        return await oauth.authenticate_operator(s, login_id, password)


async def test_operator_password_is_an_argon2_hash(malls):
    async with session_scope(malls.state.sessions, "demo") as s:
        stored = await s.scalar(select(Operator.password_hash))
    assert stored.startswith("$argon2") and PASSWORD not in stored
    assert (await login(malls, "demo", "boss", PASSWORD)).login_id == "boss"
    assert await login(malls, "demo", "boss", "wrong password!") is None
    assert await login(malls, "demo", "nobody", PASSWORD) is None


async def test_operators_belong_to_their_mall(malls):
    assert await login(malls, "other", "boss", PASSWORD) is None
    async with session_scope(malls.state.sessions, "other") as s:
        await oauth.create_operator(s, "boss", "Other Boss", "another long password")
    assert (await login(malls, "other", "boss", "another long password")).name == "Other Boss"
    async with session_scope(malls.state.sessions, "demo") as s:
        with pytest.raises(Conflict):
            await oauth.create_operator(s, "boss", "Twin", PASSWORD)


async def test_repeated_failures_lock_the_account(malls):
    for _ in range(oauth.FREE_FAILURES):
        assert await login(malls, "demo", "boss", "wrong password!") is None
    with pytest.raises(oauth.TooManyAttempts) as err:
        await login(malls, "demo", "boss", PASSWORD)  # even the right password waits
    assert err.value.status_code == 429 and int(err.value.headers["Retry-After"]) >= 1
    async with session_scope(malls.state.sessions, "demo") as s:  # once the lock has passed, it works again
        operator = await s.scalar(select(Operator))
        operator.locked_until = None
    assert (await login(malls, "demo", "boss", PASSWORD)).failed_logins == 0


async def test_guesses_in_parallel_get_no_more_checks_than_guesses_in_a_row(malls):
    async def guess() -> str:
        try:
            return "checked" if await login(malls, "demo", "boss", "wrong password!") is None else "in"
        except oauth.TooManyAttempts:
            return "locked"

    outcomes = await asyncio.gather(*(guess() for _ in range(20)))
    assert outcomes.count("checked") == oauth.FREE_FAILURES and outcomes.count("locked") == 20 - oauth.FREE_FAILURES
    with pytest.raises(oauth.TooManyAttempts):
        await login(malls, "demo", "boss", PASSWORD)


@pytest.mark.parametrize(
    ("login_id", "password", "words"),
    [("Bo", PASSWORD, "login_id is 3 to 64"), ("boss2", "short", "at least 10 characters")],
)
async def test_bad_operator_input(malls, login_id, password, words):
    async with session_scope(malls.state.sessions, "demo") as s:
        with pytest.raises(InvalidInput, match=words):
            await oauth.create_operator(s, login_id, "x", password)


async def test_developer_emails_are_unique_whatever_the_case(app):
    async with session_scope(app.state.sessions, "*") as s:
        await oauth.create_developer(s, "Dev@Example.com", "Dev", PASSWORD)
        with pytest.raises(Conflict):
            await oauth.create_developer(s, "dev@example.COM", "Dev", PASSWORD)
        with pytest.raises(InvalidInput, match="email"):
            await oauth.create_developer(s, "not-an-email", "Dev", PASSWORD)
        assert (await oauth.authenticate_developer(s, "DEV@example.com", PASSWORD)).name == "Dev"
