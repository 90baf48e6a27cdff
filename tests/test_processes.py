"""Call buckets shared by real server processes, on one PostgreSQL and one Redis.

Two ``openmall serve`` processes, and one ``openmall serve --workers 2``, are started as an operator
would start them. An app's Admin API calls, split between the processes, fill one bucket: 40 calls
are allowed, the rest are refused with a 429 until the bucket drains (1 call per second).

Runs only when both ``OPENMALL_TEST_DATABASE_URL`` (a PostgreSQL database that is wiped) and
``OPENMALL_TEST_REDIS_URL`` are set; the Redis is shared, so every run uses a mall of its own.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from openmall.config import normalize_database_url
from openmall.kernel.db import create_engine, session_factory, session_scope, utcnow
from openmall.kernel.migrate import upgrade_async
from openmall.kernel.ratelimit import RedisBuckets
from openmall.kernel.secrets import digest, new_secret
from openmall.malls import service as malls
from openmall.oauth import service as oauth
from openmall.oauth.models import Install, Token
from tests.conftest import _reset_postgres, assert_error, worker_database_url

PG_URL = worker_database_url()
REDIS_URL = os.environ.get("OPENMALL_TEST_REDIS_URL")

pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="multi-process call bucket tests skipped: set both OPENMALL_TEST_DATABASE_URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/test, wiped) and OPENMALL_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379)",
)

SECRET_KEY = "test-processes-fixed-server-key-0123456789"  # the DB's digests and every server use it
STORE = "/api/v2/admin/store"
CAPACITY = 40  # the default Admin API bucket: 40 calls, draining 1 per second
CALL_LIMIT = re.compile(rf"^(\d+)/{CAPACITY}$")
STARTUP_SECONDS = 60


@dataclass
class Tool:
    client_id: str
    token: str


@dataclass
class World:
    mall_id: str
    pair: Tool  # the app whose calls are split between two server processes
    workers: Tool  # the app that calls the server with two workers


@dataclass
class Server:
    base: str
    proc: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@dataclass
class Servers:
    pair: tuple[Server, Server]
    workers: Server


async def _tool(factory, mall_id: str, tag: str) -> Tool:
    """An app installed on the mall by its operator, and a live access token with mall.read_store."""
    key = SECRET_KEY.encode()
    token, now = new_secret("om_at_"), utcnow()
    async with session_scope(factory, mall_id) as s:
        developer = await oauth.create_developer(s, f"dev-{tag}@example.com", "Dev", "correct horse battery")
        made = await oauth.create_app(
            s, key, developer, name=f"Bucket tool {tag}", app_url="https://tool.example.com/launch",
            redirect_uris=["https://tool.example.com/callback"], scopes=["mall.read_store"], test_malls=[mall_id],
        )  # fmt: skip
        operator = await oauth.create_operator(s, f"owner{tag}", "Owner", "correct horse battery")
        s.add(Install(app_no=made.app.app_no, scopes=["mall.read_store"], operator_no=operator.operator_no))
        await s.flush()
        s.add(
            Token(
                grant_id=secrets.token_hex(16),
                app_no=made.app.app_no,
                operator_no=operator.operator_no,
                scopes=["mall.read_store"],
                access_digest=digest(key, token),
                refresh_digest=digest(key, new_secret("om_rt_")),
                issued_at=now,
                access_expires_at=now + timedelta(hours=2),
                refresh_expires_at=now + timedelta(days=14),
            )
        )
        return Tool(made.app.client_id, token)


@pytest.fixture(scope="module")
async def world() -> World:
    url = normalize_database_url(PG_URL or "")
    await _reset_postgres(url)
    await upgrade_async(url)  # left migrated: the other PostgreSQL tests empty the tables, not the schema
    mall_id = f"procs{secrets.token_hex(4)}"  # Redis keys of earlier runs never collide
    engine = create_engine(url)
    try:
        factory = session_factory(engine)
        async with session_scope(factory, "*") as s:
            await malls.create_mall(s, mall_id, "Processes")
        pair = await _tool(factory, mall_id, f"{mall_id}a")
        workers = await _tool(factory, mall_id, f"{mall_id}b")
    finally:
        await engine.dispose()
    return World(mall_id, pair, workers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(folder: Path, name: str, *args: str) -> Server:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        OPENMALL_DATABASE_URL=PG_URL or "",
        OPENMALL_REDIS_URL=REDIS_URL or "",
        OPENMALL_SECRET_KEY=SECRET_KEY,
        OPENMALL_BASE_DOMAIN="localhost",
    )
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "openmall.cli", "serve", "--no-demo", "--port", str(port), *args],
            cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return Server(f"http://127.0.0.1:{port}", proc, log)


def _stop(server: Server) -> None:
    if server.proc.poll() is not None:
        return
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)  # its own session: the server and its workers
        server.proc.wait(timeout=5)


def _wait_healthy(server: Server, deadline: float, started_workers: int = 1) -> None:
    """/healthz answers and (with several workers) every worker has logged its startup."""
    while True:
        if server.proc.poll() is not None:
            pytest.fail(f"openmall serve exited with {server.proc.returncode}:\n{server.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"openmall serve did not become healthy in {STARTUP_SECONDS} s:\n{server.tail()}")
        try:
            healthy = httpx.get(server.base + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            healthy = False
        if healthy and server.tail().count("Application startup complete") >= started_workers:
            return
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(p) for p in found]


def _multiproc_dir(server: Server) -> Path | None:
    """The PROMETHEUS_MULTIPROC_DIR that `openmall serve --workers N` made for its workers (Linux only)."""
    for pid in _children(server.proc.pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return Path(item.split(b"=", 1)[1].decode())
    return None


@pytest.fixture(scope="module")
def servers(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    folder = tmp_path_factory.mktemp("processes")
    started: list[Server] = []
    metrics_dir: Path | None = None
    try:
        for name, args in (("a", ()), ("b", ()), ("workers", ("--workers", "2"))):
            started.append(_start(folder, name, *args))
        deadline = time.monotonic() + STARTUP_SECONDS
        a, b, two = started
        _wait_healthy(a, deadline)
        _wait_healthy(b, deadline)
        _wait_healthy(two, deadline, started_workers=2)
        metrics_dir = _multiproc_dir(two)
        yield Servers((a, b), two)
    finally:
        for server in started:
            _stop(server)
        if metrics_dir is not None and metrics_dir.name.startswith("openmall-metrics-"):
            shutil.rmtree(metrics_dir, ignore_errors=True)  # the CLI leaves its temporary folder behind


# ---- helpers -------------------------------------------------------------------------------------------


async def _burst(client: httpx.AsyncClient, bases: list[str], mall_id: str, token: str, n: int) -> list[httpx.Response]:
    """``n`` concurrent calls to the store, alternating between the servers."""
    headers = {"Host": f"{mall_id}.localhost", "Authorization": f"Bearer {token}"}
    calls = [client.get(bases[i % len(bases)] + STORE, headers=headers) for i in range(n)]
    return list(await asyncio.gather(*calls))


async def _warm_up(client: httpx.AsyncClient, bases: list[str], mall_id: str) -> None:
    """Open the servers' database connections and cache the mall with calls refused before any bucket."""
    for r in await _burst(client, bases, mall_id, "om_at_not-a-token", 12 * len(bases)):
        assert_error(r, 401)
        assert "x-api-call-limit" not in r.headers  # an unknown token never reaches a bucket


async def _ready(client: httpx.AsyncClient, base: str) -> None:
    r = await client.get(base + "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


def _check(responses: list[httpx.Response], mall_id: str) -> tuple[int, int]:
    """Every answer is a 200 or a 429 in the error format, each with the bucket's headers: (allowed, refused)."""
    allowed = refused = 0
    for r in responses:
        limit = r.headers.get("x-api-call-limit", "")
        assert CALL_LIMIT.match(limit), (r.status_code, dict(r.headers))
        assert r.headers.get("ratelimit-policy") == f'"admin";q={CAPACITY};w={CAPACITY}'
        if r.status_code == 200:
            allowed += 1
            assert r.json()["store"]["mall_id"] == mall_id
            assert 1 <= int(CALL_LIMIT.match(limit).group(1)) <= CAPACITY
            assert "retry-after" not in r.headers
        else:
            refused += 1
            err = assert_error(r, 429, "Too many calls")
            assert limit == f"{CAPACITY}/{CAPACITY}"  # refused only when the bucket is full
            # full at capacity with 1 call draining per second: room for one more within a second
            assert r.headers.get("retry-after") == "1", dict(r.headers)
            assert err["more_info"] == {"capacity": CAPACITY, "drain_per_second": 1.0, "retry_after": 1}
    return allowed, refused


def _bound(elapsed: float) -> int:
    """The most calls a bucket can allow within ``elapsed`` seconds from empty: capacity + what drained."""
    return CAPACITY + math.floor(elapsed)


# ---- two processes -------------------------------------------------------------------------------------


async def test_two_processes_share_one_bucket(world: World, servers: Servers):
    bases = [s.base for s in servers.pair]
    tool = world.pair
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        for base in bases:
            await _ready(client, base)
        await _warm_up(client, bases, world.mall_id)

        t0 = time.perf_counter()
        first = await _burst(client, bases, world.mall_id, tool.token, 60)
        t1 = time.perf_counter()
        allowed, refused = _check(first, world.mall_id)
        assert allowed + refused == 60
        most = _bound(t1 - t0)
        assert CAPACITY <= allowed <= most, f"{allowed} allowed in a burst of {t1 - t0:.2f} s (at most {most})"
        if t1 - t0 < 1:
            assert (allowed, refused) == (40, 20)

        import redis.asyncio as redis

        r = redis.Redis.from_url(REDIS_URL or "")
        try:
            key = f"{RedisBuckets.PREFIX}admin:{world.mall_id}:{tool.client_id}"
            assert await r.exists(key) == 1  # the bucket lives in Redis, not in either process
            assert 0 < await r.pttl(key) <= (CAPACITY + 1) * 1000
        finally:
            await r.aclose()

        wait = 3.0
        await asyncio.sleep(wait)
        t2 = time.perf_counter()
        later = await _burst(client, bases, world.mall_id, tool.token, 10)
        t3 = time.perf_counter()
        again, _ = _check(later, world.mall_id)
        # at least what drained while nothing was allowed; at most what drained since the first call, and since
        # the first burst ended full (the second burst itself may take a while on a busy machine: it drains too)
        most_later = min(_bound(t3 - t0) - allowed, int(t3 - t1) + 1)
        assert wait - 1 <= again <= most_later, (
            f"{again} of 10 allowed {t2 - t1:.2f} s after the burst, which took {t3 - t2:.2f} s (bound {most_later})"
        )


# ---- one process, two workers --------------------------------------------------------------------------


def _refused_total(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "openmall_ratelimited_calls_total" and sample.labels.get("surface") == "admin":
                total += sample.value
    return total


async def test_two_workers_share_one_bucket_and_add_up_their_metrics(world: World, servers: Servers):
    base = servers.workers.base
    tool = world.workers
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await _ready(client, base)
        await _warm_up(client, [base, base], world.mall_id)
        t0 = time.perf_counter()
        burst = await _burst(client, [base], world.mall_id, tool.token, 50)
        elapsed = time.perf_counter() - t0
        allowed, refused = _check(burst, world.mall_id)
        most = _bound(elapsed)
        assert CAPACITY <= allowed <= most, f"{allowed} allowed in a burst of {elapsed:.2f} s (at most {most})"
        if elapsed < 1:
            assert (allowed, refused) == (40, 10)

    seen = []
    for _ in range(6):  # a new connection each time: whichever worker answers must report both workers' calls
        async with httpx.AsyncClient(timeout=10) as scraper:
            r = await scraper.get(base + "/metrics")
        assert r.status_code == 200, r.text
        seen.append(_refused_total(r.text))
    folder = _multiproc_dir(servers.workers)
    files = sorted(p.name for p in folder.glob("counter_*.db")) if folder else "unknown"
    assert seen == [refused] * len(seen), f"refused {refused} calls; /metrics said {seen} (worker files: {files})"
