"""A flood of console logins for unknown accounts must not take the database connections every other request
needs: the password check (argon2, queued for a few hashing slots) runs with no transaction open.

PostgreSQL only (its connection pool is what runs dry): skipped without OPENMALL_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from argon2 import PasswordHasher

from openmall.app import create_app
from openmall.config import Settings
from openmall.kernel import passwords
from openmall.kernel.db import Base
from tests.conftest import BASE_DOMAIN, STOREFRONT, add_mall, host
from tests.oauth.conftest import csrf_of

FLOOD = 60
POOL = 3


@pytest.fixture
async def small_pool_app(database_url: str, monkeypatch: pytest.MonkeyPatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("the login flood test is about PostgreSQL's connection pool; SQLite has none")
    # a check of some cost (a third of production's memory, one lane): the flood queues for the hashing slots
    hasher = PasswordHasher(time_cost=2, memory_cost=32768, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", hasher)
    monkeypatch.setattr(passwords, "DUMMY", hasher.hash("not a password of anyone"))
    settings = Settings(database_url=database_url, base_domain=BASE_DOMAIN, default_mall="demo", mall_cache_seconds=0,
                        shop_cache_seconds=0, rate_limit_backend="off", db_pool_size=POOL)  # fmt: skip
    application = create_app(settings)
    async with application.state.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    await add_mall(application, "demo", "Demo Apparel")
    yield application
    await application.state.direct_reads.close()
    await application.state.engine.dispose()


@pytest.mark.parametrize("kind", ["console", "member", "member sign-up"])
async def test_a_flood_of_unknown_logins_leaves_the_shop_api_answering(small_pool_app, kind, monkeypatch):
    """60 parallel logins for unknown emails, a pool of 3 connections: a Shop call (which needs a connection of
    that pool) answers within a second while most logins still wait for their password check (before the fix it
    waited for the whole queue of checks: ~6 s here, or a pool timeout)."""
    transport = httpx.ASGITransport(app=small_pool_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers={"X-Client-Id": STOREFRONT},
                                 timeout=120) as client:  # fmt: skip
        csrf = csrf_of(await client.get("/developers/login"))
        done: list[int] = []
        checking = 0
        real_check, real_hash = passwords.check, passwords.hash_password

        async def counted_check(password_hash: str | None, password: str) -> bool:
            nonlocal checking
            checking += 1
            return await real_check(password_hash, password)

        async def counted_hash(password: str) -> str:
            nonlocal checking
            checking += 1
            return await real_hash(password)

        monkeypatch.setattr(passwords, "check", counted_check)
        monkeypatch.setattr(passwords, "hash_password", counted_hash)

        async def login(i: int) -> None:
            if kind == "member sign-up":  # a new member's password is hashed with no transaction open either
                body = {"member_id": f"flood{i}", "password": "guess-guess-guess", "name": "Flood",
                        "email": f"flood{i}@example.com"}  # fmt: skip
                done.append((await client.post("/api/v2/shop/members", json=body)).status_code)
                return
            if kind == "member":
                body = {"member_id": f"nobody{i}", "password": "guess-guess-guess"}
                done.append((await client.post("/api/v2/shop/oauth/token", json=body)).status_code)
                return
            form = {"csrf_token": csrf, "login": f"nobody{i}@flood.example", "password": "guess-guess-guess"}
            done.append((await client.post("/developers/login", data=form)).status_code)

        flood = [asyncio.create_task(login(i)) for i in range(FLOOD)]
        deadline = time.monotonic() + 10
        while checking < FLOOD and time.monotonic() < deadline:  # every login has its account looked up and
            await asyncio.sleep(0.01)  # waits for a hashing slot (before the fix: only as many as the pool held)
        start = time.perf_counter()
        shop = await client.get("/api/v2/shop/products/count")
        took, done_by_then = time.perf_counter() - start, len(done)
        await asyncio.gather(*flood)
    assert shop.status_code == 200, shop.text
    assert done == [201 if kind == "member sign-up" else 401] * FLOOD
    assert done_by_then < FLOOD // 2, f"the Shop call waited for {done_by_then} of {FLOOD} password checks"
    assert took < 1.0, f"a Shop call took {took:.2f} s during {FLOOD} console logins (pool of {POOL})"
