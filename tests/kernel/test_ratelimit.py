"""Call buckets: the leaky bucket against a reference model, Redis's failure modes, and the limits over HTTP.

The model tests drive ``MemoryBuckets`` with an injected clock and ``RedisBuckets`` with its test clock
(``now_us``), so nothing here depends on how fast the machine is. The HTTP tests swap the app's memory
buckets for ones on a frozen clock for the same reason. Redis tests run when ``OPENMALL_TEST_REDIS_URL``
names a Redis (keys are unique per test and deleted afterwards; nothing is flushed).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from openmall.app import create_app
from openmall.config import Settings
from openmall.kernel import ratelimit
from openmall.kernel.db import Base, session_scope, utcnow
from openmall.kernel.ratelimit import LimiterUnavailable, MemoryBuckets, Policy, RedisBuckets
from openmall.kernel.secrets import digest, new_secret
from openmall.malls import service as malls
from openmall.oauth import service as oauth
from openmall.oauth.models import Developer, Install, Operator, Token
from tests.conftest import BASE_DOMAIN, STOREFRONT, add_mall, assert_error, host

REDIS_ENV = "OPENMALL_TEST_REDIS_URL"
REDIS_URL = os.environ.get(REDIS_ENV)
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason=f"Redis tests skipped: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)"
)
NO_REDIS = "redis://127.0.0.1:1"  # nothing listens there: connection refused at once

ADMIN = "/api/v2/admin"
SHOP = "/api/v2/shop"
SCOPES = ["mall.read_product", "mall.read_store", "mall.write_store"]


# ---- the reference model --------------------------------------------------------------------------------


@dataclass
class Model:
    """The leaky bucket in exact arithmetic: drains ``drain``/s since the last call (a clock that goes back
    drains nothing), never below 0; a call fits iff level + 1 <= capacity, and then adds 1."""

    capacity: int
    drain: Fraction
    level: Fraction = Fraction(0)
    last: Fraction | None = None

    def hit(self, now: Fraction, tie: float = 0.0, taken: bool | None = None) -> tuple[bool, Fraction, Fraction]:
        """(allowed, level, retry_after). Within ``tie`` of the boundary the implementation's float
        arithmetic may fall either side: then ``taken`` (what it decided) is followed."""
        last = now if self.last is None else self.last
        level = max(Fraction(0), self.level - max(Fraction(0), now - last) * self.drain)
        margin = level + 1 - self.capacity
        allowed = margin <= 0
        if taken is not None and abs(margin) <= tie:
            allowed = taken
        self.last = max(last, now)  # a clock that stepped back cannot drain the same time twice later
        if allowed:
            self.level = level + 1
            return True, self.level, Fraction(0)
        self.level = level
        return False, level, max(Fraction(0), margin) / self.drain


def used_choices(level: Fraction, capacity: int, tol: float) -> set[int]:
    """What ``X-Api-Call-Limit`` may say for a level known within ``tol``: ceil(level), capped at capacity."""
    return {min(capacity, math.ceil(x - 1e-9)) for x in (float(level) - tol, float(level), float(level) + tol)}


def check(decision: ratelimit.Decision, model: Model, now: Fraction, tol: float, where: str) -> None:
    allowed, level, retry = model.hit(now, tie=tol, taken=decision.allowed)
    assert decision.allowed == allowed, where
    assert abs(decision.level - float(level)) <= tol, (where, decision.level, float(level))
    assert decision.used in used_choices(level, model.capacity, tol), (where, decision.used, float(level))
    assert decision.retry_after == pytest.approx(float(retry), abs=tol, rel=1e-9), where
    assert decision.capacity == model.capacity and not decision.degraded


def drive(coro):
    """Run a coroutine that never awaits anything (``MemoryBuckets.hit``) without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("MemoryBuckets.hit awaited something")


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# small buckets often, so that most examples overflow; calls per clock step (a burst when the step is 0)
capacities = st.one_of(st.integers(1, 10), st.integers(1, 100))
bursts = st.one_of(st.integers(1, 5), st.integers(5, 50))
redis_bursts = st.integers(1, 12)  # each call is a round trip
# clock steps: none (bursts), fractions of a second, and steps long enough to drain any bucket
float_steps = st.one_of(st.just(0.0), st.floats(0, 3), st.floats(100, 1e5))
DYADIC_DRAINS = [1 / 64, 0.125, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0, 16.0, 32.0, 48.0]
dyadic_steps = st.one_of(st.just(0.0), st.integers(1, 64 * 4).map(lambda k: k / 64), st.integers(100, 10**5).map(float))
QUICK = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def run_memory(capacity: int, drain: float, script: list[tuple[float, int]], tol: float) -> None:
    clock = FakeClock()
    buckets = MemoryBuckets(clock=clock)
    policy = Policy(capacity, drain)
    model = Model(capacity, Fraction(drain))
    for i, (step, calls) in enumerate(script):
        clock.advance(step)
        for j in range(calls):
            decision = drive(buckets.hit("k", policy))
            check(decision, model, Fraction(clock.now), tol, f"step {i} call {j} at {clock.now}")


@QUICK
@given(
    capacity=capacities,
    drain=st.sampled_from(DYADIC_DRAINS),
    script=st.lists(st.tuples(dyadic_steps, bursts), min_size=1, max_size=20),
)
def test_memory_buckets_match_the_model_exactly_when_the_arithmetic_is_exact(capacity, drain, script):
    # dyadic drains and clock steps make float arithmetic exact: every boundary (level + 1 == capacity) must
    # be decided as the model decides it, with no tolerance on allowed / used
    run_memory(capacity, drain, script, tol=0.0)


@QUICK
@given(
    capacity=capacities,
    drain=st.floats(0.1, 50),
    script=st.lists(st.tuples(float_steps, bursts), min_size=1, max_size=20),
)
def test_memory_buckets_match_the_model_for_any_policy(capacity, drain, script):
    run_memory(capacity, drain, script, tol=1e-6)


def test_a_full_bucket_refuses_until_one_call_has_drained():
    clock = FakeClock()
    buckets = MemoryBuckets(clock=clock)
    policy = Policy(40, 2.0)
    assert all(drive(buckets.hit("k", policy)).allowed for _ in range(40))
    refused = drive(buckets.hit("k", policy))
    assert not refused.allowed and refused.used == 40 and refused.retry_after == pytest.approx(0.5)
    clock.advance(0.25)
    assert drive(buckets.hit("k", policy)).retry_after == pytest.approx(0.25)
    clock.advance(0.25)
    assert drive(buckets.hit("k", policy)).allowed  # exactly one call has drained: level + 1 == capacity fits
    assert not drive(buckets.hit("k", policy)).allowed
    clock.advance(1000)
    assert drive(buckets.hit("k", policy)).used == 1  # drained empty, never below zero
    assert drive(buckets.hit("other", policy)).used == 1  # keys have their own buckets


def test_a_decision_renders_the_cafe24_and_ietf_headers():
    clock = FakeClock()
    buckets = MemoryBuckets(clock=clock)
    policy = Policy(3, 0.5)
    first = drive(buckets.hit("k", policy))
    assert dict(first.headers("shop")) == {
        b"x-api-call-limit": b"1/3",
        b"ratelimit-policy": b'"shop";q=3;w=6',
        b"ratelimit": b'"shop";r=2;t=2',
    }
    drive(buckets.hit("k", policy))
    drive(buckets.hit("k", policy))
    refused = drive(buckets.hit("k", policy))
    assert dict(refused.headers("shop")) == {
        b"x-api-call-limit": b"3/3", b"ratelimit-policy": b'"shop";q=3;w=6', b"ratelimit": b'"shop";r=0;t=2',
        b"retry-after": b"2",
    }  # fmt: skip


def test_memory_pruning_keeps_a_bucket_that_is_not_empty_under_its_own_policy():
    clock = FakeClock()
    buckets = MemoryBuckets(clock=clock, max_keys=2)
    slow, fast = Policy(1, 0.001), Policy(40, 100)  # e.g. one mall's limits next to another's
    assert drive(buckets.hit("admin:slow", slow)).allowed
    assert not drive(buckets.hit("admin:slow", slow)).allowed  # full for the next 1000 s
    clock.advance(1)
    drive(buckets.hit("shop:a", fast))
    drive(buckets.hit("shop:b", fast))  # the store is full: prunes, judging admin:slow by drain 100
    assert not drive(buckets.hit("admin:slow", slow)).allowed


# ---- Redis, with its test clock ---------------------------------------------------------------------------

us_steps = st.one_of(
    st.just(0),
    st.integers(1, 3_000_000),  # up to 3 s
    st.integers(100_000_000, 10**11),  # 100 s to a day: drains any bucket
    st.integers(-30_000_000, -1),  # the clock steps back (up to 30 s): drains nothing, adds nothing
)
# The script keeps time in float seconds: near today's epoch (1.7e9 s) one ulp is 0.24 µs, which drifts the level by
# up to drain * 2.4e-7 per call (harmless, but over the model's 1e-6). A clock 1000 s in resolves 1e-13 s.
START_US = 1_000_000_000


async def _redis_script(capacity: int, drain: float, script: list[tuple[int, int]]) -> None:
    import redis.asyncio as redis

    buckets = RedisBuckets(REDIS_URL, timeout=2.0)
    raw = redis.Redis.from_url(REDIS_URL)
    key = f"test:{uuid.uuid4().hex}"
    policy = Policy(capacity, drain)
    model = Model(capacity, Fraction(drain))
    now = START_US
    try:
        for i, (step, calls) in enumerate(script):
            now += step
            for j in range(calls):
                decision = await buckets.hit(key, policy, now_us=now)
                # the simulated clock is not Redis's: keep the key past its real-time expiry (tested on its own)
                await raw.persist(RedisBuckets.PREFIX + key)
                check(decision, model, Fraction(now, 10**6), 1e-6, f"step {i} call {j} at {now} us")
    finally:
        await raw.delete(RedisBuckets.PREFIX + key)
        await raw.aclose()
        await buckets.close()


@needs_redis
@settings(deadline=None, database=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacity=capacities,
    drain=st.one_of(st.sampled_from(DYADIC_DRAINS), st.floats(0.1, 50)),
    script=st.lists(st.tuples(us_steps, redis_bursts), min_size=1, max_size=15),
)
def test_redis_buckets_match_the_model(capacity, drain, script):
    asyncio.run(_redis_script(capacity, drain, script))


@dataclass
class RedisKeys:
    """Unique bucket keys for one test, deleted afterwards."""

    buckets: RedisBuckets
    raw: object
    made: list[str] = field(default_factory=list)

    def key(self) -> str:
        key = f"test:{uuid.uuid4().hex}"
        self.made.append(key)
        return key


@pytest.fixture
async def redis_keys():
    if not REDIS_URL:
        pytest.skip(f"Redis tests skipped: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0)")
    import redis.asyncio as redis

    keys = RedisKeys(RedisBuckets(REDIS_URL, timeout=2.0), redis.Redis.from_url(REDIS_URL))
    yield keys
    if keys.made:
        await keys.raw.delete(*(RedisBuckets.PREFIX + k for k in keys.made))
    await keys.raw.aclose()
    await keys.buckets.close()


async def test_redis_clock_stepping_back_neither_drains_nor_adds_calls(redis_keys):
    key, policy = redis_keys.key(), Policy(3, 1.0)
    for _ in range(3):
        assert (await redis_keys.buckets.hit(key, policy, now_us=START_US)).allowed
    back = await redis_keys.buckets.hit(key, policy, now_us=START_US - 60_000_000)  # a minute behind
    assert not back.allowed and back.level == 3 and back.retry_after == pytest.approx(1.0)
    still = await redis_keys.buckets.hit(key, policy, now_us=START_US - 60_000_000 + 1_000_000)
    assert not still.allowed  # a second later on the skewed clock: still behind the last call, nothing drained
    assert not (await redis_keys.buckets.hit(key, policy, now_us=START_US + 999_999)).allowed
    assert (await redis_keys.buckets.hit(key, policy, now_us=START_US + 1_000_000)).allowed  # a second after


async def test_redis_uses_its_own_clock_without_a_test_clock(redis_keys):
    key, policy = redis_keys.key(), Policy(2, 0.001)  # drains one call in 1000 s: nothing drains during the test
    first = await redis_keys.buckets.hit(key, policy)
    second = await redis_keys.buckets.hit(key, policy)
    third = await redis_keys.buckets.hit(key, policy)
    assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
    assert second.used == 2 and 990 < third.retry_after <= 1000


async def test_redis_forgets_a_bucket_only_once_it_has_drained(redis_keys):
    key, policy = redis_keys.key(), Policy(10, 2.0)
    for _ in range(6):
        await redis_keys.buckets.hit(key, policy)
    ttl = await redis_keys.raw.pttl(RedisBuckets.PREFIX + key)
    assert 3000 - 1000 < ttl <= 3000 + 1000  # level 6 drains in 3 s; one more second of slack


@pytest.mark.parametrize("drain", [1e-13, 0.0009, 0])
def test_the_api_refuses_a_drain_too_slow_to_keep_the_arithmetic_exact(drain):
    with pytest.raises(ValidationError, match="drain_per_second"):
        malls.ApiLimitsIn(admin={"capacity": 1, "drain_per_second": drain})


@needs_redis
@pytest.mark.parametrize("capacity", [1, 1_000_000_000])
async def test_redis_bucket_at_the_slowest_drain_the_api_accepts_still_refuses(redis_keys, capacity):
    drain = 0.001
    malls.ApiLimitsIn(admin={"capacity": capacity, "drain_per_second": drain})  # a valid setting
    key, policy = redis_keys.key(), Policy(capacity, drain)
    for _ in range(min(capacity, 3)):
        assert (await redis_keys.buckets.hit(key, policy)).allowed
    if capacity == 1:
        refused = await redis_keys.buckets.hit(key, policy)
        assert not refused.allowed and not refused.degraded
        assert refused.retry_after == pytest.approx(1 / drain, rel=1e-3)
    assert 0 < await redis_keys.raw.pttl(RedisBuckets.PREFIX + key)


# ---- Redis down: fail open or closed, never a 500 -------------------------------------------------------


async def test_unreachable_redis_fails_open_counts_and_warns_once(caplog, monkeypatch):
    registry = CollectorRegistry()
    failures = Counter("limiter_failures", "test", registry=registry)
    buckets = RedisBuckets(NO_REDIS, timeout=0.05, failures=failures)
    caplog.set_level(logging.WARNING, logger="openmall.ratelimit")
    try:
        decisions = [await buckets.hit("k", Policy(1, 1.0)) for _ in range(3)]  # capacity 1, yet all let through
        assert all(d.allowed and d.degraded for d in decisions)
        assert registry.get_sample_value("limiter_failures_total") == 3
        warnings = [r for r in caplog.records if r.name == "openmall.ratelimit"]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert "fail open" in warnings[0].getMessage()
        later = ratelimit.time.monotonic() + RedisBuckets.WARN_EVERY + 1
        monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: later))
        await buckets.hit("k", Policy(1, 1.0))
        assert len([r for r in caplog.records if r.name == "openmall.ratelimit"]) == 2  # warns again later
        assert registry.get_sample_value("limiter_failures_total") == 4
    finally:
        await buckets.close()


async def test_unreachable_redis_fails_closed_with_a_503(caplog):
    registry = CollectorRegistry()
    failures = Counter("limiter_failures", "test", registry=registry)
    buckets = RedisBuckets(NO_REDIS, timeout=0.05, failures=failures, fail_closed=True)
    try:
        with pytest.raises(LimiterUnavailable) as refused:
            await buckets.hit("k", Policy())
        assert refused.value.status_code == 503 and refused.value.headers == {"Retry-After": "1"}
        assert "fail closed" in caplog.text
        assert registry.get_sample_value("limiter_failures_total") == 1
    finally:
        await buckets.close()


# ---- over HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
async def make_app(database_url):
    """``make_app(**settings)``: apps on the test database with the rate limiter on (memory unless told);
    the first one empties the tables. Memory buckets run on ``app.state.clock``, which only moves when told."""
    made = []

    async def make(**overrides):
        settings = Settings(**{
            "database_url": database_url, "base_domain": BASE_DOMAIN, "default_mall": "demo",
            "mall_cache_seconds": 0, "shop_cache_seconds": 0, "rate_limit_backend": "memory", **overrides,
        })  # fmt: skip
        application = create_app(settings)
        if isinstance(application.state.buckets, MemoryBuckets):
            application.state.clock = FakeClock()
            application.state.buckets = MemoryBuckets(clock=application.state.clock)
        if not made:
            async with application.state.engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    await conn.execute(table.delete())
        made.append(application)
        return application

    yield make
    for application in made:
        await application.state.direct_reads.close()
        if application.state.buckets is not None:
            await application.state.buckets.close()
        await application.state.engine.dispose()


@dataclass
class Tool:
    app_no: int
    client_id: str
    operator_no: int


async def install_tool(app, mall_id: str = "demo", tool: Tool | None = None) -> Tool:
    """An app installed on the mall (a new one, or ``tool`` on one more mall). The people are rows without a
    usable password: nobody logs in, and no argon2 hash is paid for."""
    tag = secrets.token_hex(4)
    async with session_scope(app.state.sessions, mall_id) as s:
        operator = Operator(login_id=f"owner{tag}", name="Owner", password_hash="!")
        s.add(operator)
        if tool is None:
            developer = Developer(email=f"dev-{tag}@example.com", name="Dev", password_hash="!")
            s.add(developer)
            await s.flush()
            made = await oauth.create_app(
                s, app.state.key, developer, name=f"Tool {tag}", app_url="https://tool.example.com/launch",
                redirect_uris=["https://tool.example.com/callback"], scopes=SCOPES, test_malls=["demo", "other"],
            )  # fmt: skip
            app_no, client_id = made.app.app_no, made.app.client_id
        else:
            app_no, client_id = tool.app_no, tool.client_id
        await s.flush()
        s.add(Install(app_no=app_no, scopes=SCOPES, operator_no=operator.operator_no))
        return Tool(app_no, client_id, operator.operator_no)


async def issue_token(app, tool: Tool, scopes: list[str], mall_id: str = "demo") -> str:
    """An access token straight in the database, as the OAuth flow would have issued it."""
    token, now = new_secret("om_at_"), utcnow()
    async with session_scope(app.state.sessions, mall_id) as s:
        s.add(
            Token(
                grant_id=secrets.token_hex(16), app_no=tool.app_no, operator_no=tool.operator_no,
                scopes=sorted(scopes), access_digest=digest(app.state.key, token),
                refresh_digest=digest(app.state.key, new_secret("om_rt_")), issued_at=now,
                access_expires_at=now + timedelta(hours=2), refresh_expires_at=now + timedelta(days=14),
            )
        )  # fmt: skip
    return token


def client(app, mall_id: str = "demo", ip: str = "127.0.0.1", **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 123))
    return httpx.AsyncClient(transport=transport, base_url=host(mall_id), headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Setup:
    app: object
    clock: FakeClock
    tool: Tool
    admin: httpx.AsyncClient  # every scope in SCOPES
    shop: httpx.AsyncClient  # the test storefront, from 127.0.0.1


@pytest.fixture
async def limited(make_app):
    app = await make_app()
    await add_mall(app, "demo", "Demo Apparel")
    tool = await install_tool(app)
    token = await issue_token(app, tool, SCOPES)
    async with client(app, **bearer(token)) as admin, client(app, **{"X-Client-Id": STOREFRONT}) as shop:
        yield Setup(app, app.state.clock, tool, admin, shop)


def limit_headers(response: httpx.Response) -> tuple[str, str, str]:
    return response.headers["x-api-call-limit"], response.headers["ratelimit-policy"], response.headers["ratelimit"]


async def test_admin_api_allows_40_calls_then_429_with_retry_after(limited):
    for n in range(1, 41):
        r = await limited.admin.get(f"{ADMIN}/store")
        assert r.status_code == 200, r.text
        assert limit_headers(r) == (f"{n}/40", '"admin";q=40;w=40', f'"admin";r={40 - n};t={n if n < 40 else 1}')
        assert "retry-after" not in r.headers
    refused = await limited.admin.get(f"{ADMIN}/store")
    err = assert_error(refused, 429, "Too many calls", "retry in 1 second")
    assert err["more_info"] == {"capacity": 40, "drain_per_second": 1.0, "retry_after": 1}
    assert refused.headers["retry-after"] == "1"
    assert limit_headers(refused) == ("40/40", '"admin";q=40;w=40', '"admin";r=0;t=1')
    limited.clock.advance(1)  # Retry-After is honest: one call has drained
    assert (await limited.admin.get(f"{ADMIN}/store")).headers["x-api-call-limit"] == "40/40"
    assert (await limited.admin.get(f"{ADMIN}/store")).status_code == 429
    limited.clock.advance(3600)
    assert (await limited.admin.get(f"{ADMIN}/store")).headers["x-api-call-limit"] == "1/40"


async def test_admin_call_limit_headers_are_on_errors_after_the_bucket_too(limited):
    missing = await limited.admin.get(f"{ADMIN}/products/999999")
    assert_error(missing, 404)
    assert limit_headers(missing) == ("1/40", '"admin";q=40;w=40', '"admin";r=39;t=1')
    bad = await limited.admin.get(f"{ADMIN}/products", params={"limit": 100_000})
    assert_error(bad, 422)
    assert bad.headers["x-api-call-limit"] == "2/40"


async def test_calls_refused_before_the_bucket_do_not_take_a_call(limited):
    async with client(limited.app) as anonymous:
        unauthenticated = await anonymous.get(f"{ADMIN}/store")
    assert_error(unauthenticated, 401)
    assert "x-api-call-limit" not in unauthenticated.headers
    assert (await limited.admin.get(f"{ADMIN}/store")).headers["x-api-call-limit"] == "1/40"


async def exhaust(c: httpx.AsyncClient, path: str, capacity: int = 40) -> None:
    for _ in range(capacity):
        assert (await c.get(path)).status_code == 200
    assert (await c.get(path)).status_code == 429


async def test_each_app_has_its_own_admin_bucket(limited):
    other_tool = await install_tool(limited.app)
    token = await issue_token(limited.app, other_tool, SCOPES)
    await exhaust(limited.admin, f"{ADMIN}/store")
    async with client(limited.app, **bearer(token)) as other:
        r = await other.get(f"{ADMIN}/store")
    assert r.status_code == 200 and r.headers["x-api-call-limit"] == "1/40"


async def test_the_same_app_has_a_bucket_per_mall(limited):
    await add_mall(limited.app, "other", "Other Shop")
    await install_tool(limited.app, "other", limited.tool)
    token = await issue_token(limited.app, limited.tool, SCOPES, mall_id="other")
    await exhaust(limited.admin, f"{ADMIN}/store")
    async with client(limited.app, "other", **bearer(token)) as other:
        r = await other.get(f"{ADMIN}/store")
    assert r.status_code == 200 and r.json()["store"]["mall_id"] == "other"
    assert r.headers["x-api-call-limit"] == "1/40"


async def set_limits(app, mall_id: str = "demo", **changes) -> None:
    async with session_scope(app.state.sessions, "*") as s:
        await malls.set_api_limits(s, mall_id, changes)


async def test_shop_api_has_a_bucket_per_client_id_and_per_ip(limited):
    await set_limits(limited.app, shop={"capacity": 2, "drain_per_second": 0.5})
    second_storefront = await install_tool(limited.app)
    for n in (1, 2):
        r = await limited.shop.get(f"{SHOP}/products")
        assert r.status_code == 200 and limit_headers(r) == (
            f"{n}/2",
            '"shop";q=2;w=4',
            f'"shop";r={2 - n};t={2 * n if n < 2 else 2}',
        )
    refused = await limited.shop.get(f"{SHOP}/products")
    err = assert_error(refused, 429, "Too many calls", "drains 0.5 per second", "retry in 2 seconds")
    assert err["more_info"]["capacity"] == 2
    assert refused.headers["retry-after"] == "2"
    assert limit_headers(refused) == ("2/2", '"shop";q=2;w=4', '"shop";r=0;t=2')
    async with (
        client(limited.app, ip="1.2.3.4", **{"X-Client-Id": STOREFRONT}) as elsewhere,
        client(limited.app, **{"X-Client-Id": second_storefront.client_id}) as other_storefront,
    ):
        for c in (elsewhere, other_storefront):
            r = await c.get(f"{SHOP}/products")
            assert r.status_code == 200 and r.headers["x-api-call-limit"] == "1/2"
    assert (await limited.shop.get(f"{SHOP}/products")).status_code == 429  # the first one is still full


async def test_shop_api_bucket_is_taken_on_cache_hits_too(make_app):
    app = await make_app(shop_cache_seconds=30)
    await add_mall(app, "demo")
    async with client(app, **{"X-Client-Id": STOREFRONT}) as shop:
        miss = await shop.get(f"{SHOP}/products")
        hit = await shop.get(f"{SHOP}/products")
        assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
        assert miss.headers.get_list("x-api-call-limit") == ["1/40"]
        assert hit.headers.get_list("x-api-call-limit") == ["2/40"]  # fresh, not the stored copy's
        assert hit.headers.get_list("ratelimit") == ['"shop";r=38;t=2']
        await set_limits(app, shop={"capacity": 2, "drain_per_second": 1})
        refused = await shop.get(f"{SHOP}/products")  # cached, yet over the bucket
    assert_error(refused, 429)
    assert "x-cache" not in refused.headers and refused.headers["retry-after"] == "1"


def limits_body(surface: str, capacity: int, drain: float) -> dict:
    return {"request": {surface: {"capacity": capacity, "drain_per_second": drain}}}


async def test_put_api_limits_applies_at_once(limited):
    put = await limited.admin.put(f"{ADMIN}/store/api-limits", json=limits_body("admin", 3, 0.5))
    assert put.status_code == 200, put.text
    assert put.json() == {"api_limits": {
        "admin": {"capacity": 3, "drain_per_second": 0.5, "window_seconds": 6},
        "shop": {"capacity": 40, "drain_per_second": 1.0, "window_seconds": 40},
    }}  # fmt: skip
    assert put.headers["x-api-call-limit"] == "1/40"  # the PUT itself was the first call, under the old limit
    for n in (2, 3):
        r = await limited.admin.get(f"{ADMIN}/store/api-limits")
        assert r.status_code == 200 and r.headers["x-api-call-limit"] == f"{n}/3"
        assert r.json() == put.json()
    fourth = await limited.admin.get(f"{ADMIN}/store")
    assert_error(fourth, 429, "holds 3 calls and drains 0.5 per second")
    assert fourth.headers["retry-after"] == "2" and fourth.headers["ratelimit-policy"] == '"admin";q=3;w=6'


async def test_put_api_limits_on_the_shop_applies_at_once(limited):
    put = await limited.admin.put(f"{ADMIN}/store/api-limits", json=limits_body("shop", 1, 2))
    assert put.status_code == 200 and put.json()["api_limits"]["admin"]["capacity"] == 40
    assert (await limited.shop.get(f"{SHOP}/products")).headers["x-api-call-limit"] == "1/1"
    assert_error(await limited.shop.get(f"{SHOP}/products"), 429)


@pytest.mark.parametrize(
    ("request_body", "field_name"),
    [
        ({"admin": {"capacity": 0, "drain_per_second": 1}}, "admin.capacity"),
        ({"admin": {"capacity": -5, "drain_per_second": 1}}, "admin.capacity"),
        ({"admin": {"capacity": 5, "drain_per_second": 0}}, "admin.drain_per_second"),
        ({"admin": {"capacity": 5, "drain_per_second": -1}}, "admin.drain_per_second"),
        ({"shop": {"capacity": 5, "drain_per_second": 1e12}}, "shop.drain_per_second"),
        ({"admin": {"capacity": 5.0, "drain_per_second": 1}}, "admin.capacity"),
        ({"admin": {"capacity": 5.5, "drain_per_second": 1}}, "admin.capacity"),
        ({"admin": {"capacity": "5", "drain_per_second": 1}}, "admin.capacity"),
        ({"admin": {"capacity": True, "drain_per_second": 1}}, "admin.capacity"),
        ({"shop": {"capacity": 5}}, "shop.drain_per_second"),
        ({"admin": {"capacity": 5, "drain_per_second": 1, "burst": 10}}, "admin.burst"),
        ({"admin": {"capacity": 5, "drain_per_second": 1}, "webhooks": {}}, "webhooks"),
        ({"admin": {"capacity": 5, "drain_per_second": 1}, "shop": {"capacity": 0, "drain_per_second": 1}},
         "shop.capacity"),
        ({}, "request"),
        ({"admin": None}, "request"),
        # keys that are also the service's own argument names must not reach it as arguments (was a 500)
        ({"cache": {"capacity": 5, "drain_per_second": 1}}, "cache"),
        ({"session": 1}, "session"),
        ({"mall_id": "x"}, "mall_id"),
        ({"admin": {"capacity": 5, "drain_per_second": "1"}}, "admin.drain_per_second"),
    ],
)  # fmt: skip
async def test_put_api_limits_refuses_bad_bodies_and_changes_nothing(limited, request_body, field_name):
    r = await limited.admin.put(f"{ADMIN}/store/api-limits", json={"request": request_body})
    err = assert_error(r, 422, field_name)
    assert err["more_info"]["field"] == field_name
    after = (await limited.admin.get(f"{ADMIN}/store/api-limits")).json()["api_limits"]
    assert after["admin"] == {"capacity": 40, "drain_per_second": 1.0, "window_seconds": 40}
    assert after["shop"] == {"capacity": 40, "drain_per_second": 1.0, "window_seconds": 40}


@pytest.mark.parametrize("body", [{"request": []}, {"request": "admin=5"}, {"admin": {}}, None])
async def test_put_api_limits_refuses_a_body_without_a_request_object(limited, body):
    r = await limited.admin.put(f"{ADMIN}/store/api-limits", json=body)
    err = assert_error(r, 422)
    assert err["more_info"]["field"] in {"request", "body"}
    assert (await limited.admin.get(f"{ADMIN}/store/api-limits")).json()["api_limits"]["admin"]["capacity"] == 40


async def test_put_api_limits_needs_write_store(limited):
    read_only = await issue_token(limited.app, limited.tool, ["mall.read_store"])
    async with client(limited.app, **bearer(read_only)) as reader:
        assert (await reader.get(f"{ADMIN}/store/api-limits")).status_code == 200
        r = await reader.put(f"{ADMIN}/store/api-limits", json=limits_body("admin", 3, 1))
        err = assert_error(r, 403, "mall.write_store")
        assert err["more_info"]["required_scope"] == "mall.write_store"
        assert (await reader.get(f"{ADMIN}/store/api-limits")).json()["api_limits"]["admin"]["capacity"] == 40


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def scrape(app) -> str:
    async with client(app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_metrics_count_refused_calls_and_label_routes_by_template(limited):
    before = await scrape(limited.app)
    await set_limits(limited.app, admin={"capacity": 1, "drain_per_second": 1})
    assert (await limited.admin.get(f"{ADMIN}/products/424242")).status_code == 404
    assert (await limited.admin.get(f"{ADMIN}/products/424242")).status_code == 429
    after = await scrape(limited.app)
    refused = "openmall_ratelimited_calls_total"
    assert metric(after, refused, surface="admin") == metric(before, refused, surface="admin") + 1
    requests, route = "openmall_http_requests_total", f"{ADMIN}/products/{{product_no}}"
    for status in ("404", "429"):
        grew = metric(after, requests, method="GET", route=route, status=status)
        assert grew == metric(before, requests, method="GET", route=route, status=status) + 1
    assert "424242" not in after  # never the raw path


# ---- Redis behind the app ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_closed", [False, True])
async def test_unreachable_redis_never_makes_a_500(make_app, fail_closed):
    app = await make_app(rate_limit_backend="redis", redis_url=NO_REDIS, rate_limit_fail_closed=fail_closed)
    assert isinstance(app.state.buckets, RedisBuckets)
    await add_mall(app, "demo")
    tool = await install_tool(app)
    token = await issue_token(app, tool, SCOPES)
    before = await scrape(app)
    async with client(app, **bearer(token)) as admin, client(app, **{"X-Client-Id": STOREFRONT}) as shop:
        answers = [await admin.get(f"{ADMIN}/store"), await shop.get(f"{SHOP}/products")]
        if fail_closed:
            for r in answers:
                err = assert_error(r, 503, "rate limiter is unavailable")
                assert err["more_info"]["reason"] == "rate_limiter_unavailable"
                assert r.headers["retry-after"] == "1"
        else:
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            # the call was not counted: no claim about the bucket (not a fresh "0/40")
            assert all("x-api-call-limit" not in r.headers and "ratelimit" not in r.headers for r in answers)
            assert answers[1].json() == {"products": []}
        health = await admin.get("/healthz")
        ready = await admin.get("/readyz")
    assert health.status_code == 200
    # failing closed the process cannot serve: not ready; failing open it serves, degraded (a shared Redis
    # outage must not take every process out of rotation at once)
    assert ready.status_code == (503 if fail_closed else 200)
    assert ready.json()["status"] == ("not ready" if fail_closed else "degraded")
    assert ready.json()["checks"]["database"] == "ok" and "unreachable" in ready.json()["checks"]["redis"]
    failures = "openmall_ratelimit_backend_failures_total"
    assert metric(await scrape(app), failures) >= metric(before, failures) + 2


@needs_redis
async def test_apps_sharing_a_redis_share_the_buckets(make_app):
    first = await make_app(rate_limit_backend="redis", redis_url=REDIS_URL)
    second = await make_app(rate_limit_backend="auto", redis_url=REDIS_URL)
    assert isinstance(second.state.buckets, RedisBuckets)
    await add_mall(first, "demo")
    await set_limits(first, admin={"capacity": 3, "drain_per_second": 0.001})  # nothing drains during the test
    tool = await install_tool(first)
    token = await issue_token(first, tool, SCOPES)
    key = f"{RedisBuckets.PREFIX}admin:demo:{tool.client_id}"
    try:
        async with client(first, **bearer(token)) as one, client(second, **bearer(token)) as two:
            seen = [await c.get(f"{ADMIN}/store") for c in (one, two, one)]
            assert [r.headers["x-api-call-limit"] for r in seen] == ["1/3", "2/3", "3/3"]
            refused = await two.get(f"{ADMIN}/store")
            assert_error(refused, 429)
            assert 990 <= int(refused.headers["retry-after"]) <= 1000
            ready = await one.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    finally:
        import redis.asyncio as redis

        raw = redis.Redis.from_url(REDIS_URL)
        await raw.delete(key)
        await raw.aclose()


# ---- the CLI ----------------------------------------------------------------------------------------------


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    return subprocess.run([sys.executable, "-m", "openmall.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cli_mall_limits_shows_and_changes_the_buckets(tmp_path):
    made = cli(tmp_path, "mall", "create", "demo", "--name", "Demo")
    assert made.returncode == 0, made.stdout + made.stderr
    changed = cli(tmp_path, "mall", "limits", "demo", "--admin-capacity", "80")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert changed.stdout.splitlines() == ["admin\tcapacity 80\tdrain 1/s", "shop\tcapacity 40\tdrain 1/s"]
    refused = cli(tmp_path, "mall", "limits", "demo", "--shop-drain", "0")
    assert refused.returncode == 1 and "shop.drain_per_second" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
    shown = cli(tmp_path, "mall", "limits", "demo")
    assert shown.stdout.splitlines() == ["admin\tcapacity 80\tdrain 1/s", "shop\tcapacity 40\tdrain 1/s"]
