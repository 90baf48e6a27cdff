"""Admin API benchmark: what the call bucket costs, with no limiter, the memory bucket and the Redis bucket, in one run.

    .venv/bin/python bench/admin_api.py [--duration 10] [--connections 32] [--products 2000]

1. drops and recreates the database (default ``openmall_bench_admin`` on 127.0.0.1:5432), loads the
   demo mall with ``--products`` products (``openmall demo-data``), raises the demo mall's Admin
   bucket to a billion calls draining a billion per second (``openmall mall limits``: every call goes
   through the whole limiter and is allowed), and writes an app, its install and a bearer token
   (scopes ``mall.read_product`` and ``mall.read_store``) straight into the database;
2. starts three uvicorn processes, one worker each, identical but for ``OPENMALL_RATE_LIMIT_BACKEND``:
   ``off``, ``memory`` and ``redis`` (``OPENMALL_REDIS_URL``, default redis://127.0.0.1:6379/0);
3. checks what is measured: every server answers 200, the memory and Redis servers send
   ``X-Api-Call-Limit`` counting the call (``1/1000000000``, not the ``0/…`` of a Redis that failed
   open) and the Redis bucket's key is in Redis, while the ``off`` server sends no such header;
4. per target (``GET /api/v2/admin/products/{no}`` rotating over ``--detail-products`` products, and
   ``GET /api/v2/admin/store``, the cheapest Admin read, where the limiter's share is largest): warms
   each server up, then measures the three servers interleaved, ``--rounds`` slices of
   ``duration / rounds`` seconds each, the order rotating from round to round, so that whatever else
   the machine does falls on all three alike;
5. prints requests, req/s, p50, p99, errors, CPU per server and the database connections each server
   opened per second (``pg_stat_database.sessions``: a pool smaller than the requests in flight opens
   and closes connections all the time, which costs more than the limiter), then memory/off and
   redis/off against the goals of the issue (memory >= 95 %, Redis >= 85 % of the throughput without
   a limiter), with the spread of the ratios over the rounds and per second of app CPU; after the run
   the Redis server must report no backend failure (``openmall_ratelimit_backend_failures_total``).

The load generator, the servers and the database setup are ``bench/shop_api.py``'s. Exit status as
there: 0 when the benchmark ran (a MISS is a measurement), 1 when a response was not a 200, 2 when it
could not run, 130 on Ctrl-C. Only 127.0.0.1 is contacted; the servers are stopped on every exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shop_api as common  # noqa: E402  - the shared load generator, servers and database setup
from shop_api import BenchError, ResponseError, Server  # noqa: E402

DEFAULT_DB_URL = "postgresql://postgres@127.0.0.1:5432/openmall_bench_admin"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "openmall-bench-admin-fixed-key"  # a benchmark database's key, not a secret
MALL, HOST = "demo", "demo.localhost"
SCOPES = ["mall.read_product", "mall.read_store"]
UNLIMITED = "1000000000"  # capacity and drain per second: every call allowed, none skips the limiter
BACKENDS = ("off", "memory", "redis")
GOALS = {"memory": 0.95, "redis": 0.85}
DETAIL_PATH = "/api/v2/admin/products/{no}"
STORE_PATH = "/api/v2/admin/store"
BUCKET_KEY = "openmall:bucket:admin:{mall}:{client_id}"  # RedisBuckets.PREFIX + "admin:" + mall + ":" + app


# --------------------------------------------------------------------------- setup


def _env(db_url: str, redis_url: str) -> dict[str, str]:
    return {**common._app_env(db_url), "OPENMALL_SECRET_KEY": SECRET_KEY, "OPENMALL_REDIS_URL": redis_url}


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "openmall.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        raise BenchError(
            f"`openmall {' '.join(args)}` failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


async def issue_token(db_url: str) -> tuple[str, str]:
    """(client_id, access token) of a bench app installed on the demo mall, written as the OAuth flow would."""
    from sqlalchemy import select

    from openmall.demo_data import DEMO_DEVELOPER, DEMO_OPERATOR
    from openmall.kernel.db import create_engine, session_factory, session_scope, utcnow
    from openmall.kernel.secrets import digest, new_secret
    from openmall.oauth import service as oauth
    from openmall.oauth.models import Developer, Install, Operator, Token

    key, tag = SECRET_KEY.encode(), secrets.token_hex(4)
    engine = create_engine(db_url, pool_size=1)
    try:
        async with session_scope(session_factory(engine), MALL) as s:
            developer = await s.scalar(select(Developer).where(Developer.email == DEMO_DEVELOPER[0]))
            operator_no = await s.scalar(select(Operator.operator_no).where(Operator.login_id == DEMO_OPERATOR[0]))
            if developer is None or operator_no is None:
                raise BenchError("the demo data has no developer or operator; did `openmall demo-data` run?")
            made = await oauth.create_app(
                s, key, developer, name=f"Bench tool {tag}", app_url="https://bench.example.com/launch",
                redirect_uris=["https://bench.example.com/callback"], scopes=SCOPES, test_malls=[MALL],
            )  # fmt: skip
            s.add(Install(app_no=made.app.app_no, scopes=SCOPES, operator_no=operator_no))
            token, now = new_secret("om_at_"), utcnow()
            s.add(Token(
                grant_id=secrets.token_hex(16), app_no=made.app.app_no, operator_no=operator_no, scopes=SCOPES,
                access_digest=digest(key, token), refresh_digest=digest(key, new_secret("om_rt_")), issued_at=now,
                access_expires_at=now + timedelta(hours=2), refresh_expires_at=now + timedelta(days=14),
            ))  # fmt: skip
            return made.app.client_id, token
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- HTTP with a bearer token


def admin_request(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: application/json\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode("ascii")  # fmt: skip


async def fetch(port: int, request: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, headers with lower-case names, body)."""

    async def go() -> tuple[int, dict[str, str], bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            return int(head[0].split(" ", 2)[1]), headers, body
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


def _proc_cpu(comm: str) -> float | None:
    """CPU seconds (user + system) of the processes named ``comm`` (Linux /proc), e.g. redis-server."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.find("(") + 1 : text.rfind(")")] == comm:
            fields = text[text.rfind(")") + 1 :].split()
            total += int(fields[11]) + int(fields[12])
            found = True
    return total / common.CLK_TCK if found else None


@dataclass
class Slice(common.Result):
    redis_cpu: float | None = None
    pg_sessions: int | None = None  # connections PostgreSQL accepted for the bench database meanwhile


class PgSessions:
    """Counts the connections opened to the bench database (``pg_stat_database.sessions``, PostgreSQL 14+).

    A server whose database pool is smaller than the requests in flight opens and closes connections
    all the time (overflow connections are closed when they come back); this makes that visible.
    """

    def __init__(self, db_url: str):
        self.admin_url, self.name = common._split_db_url(db_url)
        self.conn = None

    async def count(self) -> int | None:
        import asyncpg

        try:
            if self.conn is None:
                self.conn = await asyncpg.connect(self.admin_url, timeout=10)
            return await self.conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = $1", self.name)
        except (OSError, asyncpg.PostgresError):
            return None  # an older PostgreSQL, or no permission: the column stays empty

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


async def drive(name: str, port: int, requests: list[bytes], connections: int, seconds: float,
                cpu: Server | None = None, sessions: PgSessions | None = None) -> Slice:  # fmt: skip
    """``shop_api.drive`` with prepared requests (a bearer token and the mall's host), Redis's CPU and the
    database connections opened meanwhile too."""
    result, clock = Slice(name), time.perf_counter_ns
    load = common.Load(port, requests, result)

    def probe() -> tuple[float | None, float | None, float | None]:
        return (cpu.cpu_seconds() if cpu else None), common.postgres_cpu_seconds(), _proc_cpu("redis-server")

    opened = await sessions.count() if sessions else None
    before, cpu0 = (probe() if cpu else (None, None, None)), time.process_time()
    t_start = clock()
    deadline = t_start + int(seconds * 1e9)
    tasks = [asyncio.ensure_future(load.connection(deadline)) for _ in range(connections)]
    await asyncio.wait(tasks, timeout=seconds)
    t_end = min(clock(), deadline)
    result.client_cpu = time.process_time() - cpu0
    after = probe() if cpu else (None, None, None)
    # let the requests in flight finish (not counted), so that their work does not spill into the next slice
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    now_opened = await sessions.count() if sessions else None
    if opened is not None and now_opened is not None:
        result.pg_sessions = now_opened - opened

    result.seconds = (t_end - t_start) / 1e9
    if result.seconds > 0:
        result.client_cpu /= result.seconds
        share = [
            None if a is None or b is None else (b - a) / result.seconds for a, b in zip(before, after, strict=True)
        ]
        result.server_cpu, result.db_cpu, result.redis_cpu = share
    return result


# --------------------------------------------------------------------------- checks, measurement, report


async def pick_products(port: int, token: str, wanted: int) -> list[int]:
    nos: list[int] = []
    while len(nos) < wanted and len(nos) <= 10_000:
        path = f"/api/v2/admin/products?limit=500&offset={len(nos)}&fields=product_no"
        status, _, body = await fetch(port, admin_request(path, token))
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
        page = [p["product_no"] for p in json.loads(body)["products"]]
        nos.extend(page)
        if len(page) < 500:
            break
    if not nos:
        raise BenchError("the Admin API lists no products; did the demo data load?")
    return nos[:wanted]


async def check_limiter(servers: dict[str, Server], token: str, client_id: str, redis_url: str, product_no: int
                        ) -> dict[str, int]:  # fmt: skip
    """Each server answers 200 on both targets; the limited ones count the call in ``X-Api-Call-Limit``."""
    import redis.asyncio as redis

    sizes: dict[str, int] = {}
    r = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        key = BUCKET_KEY.format(mall=MALL, client_id=client_id)
        await r.delete(key)  # this run's own app: no other process uses the key
        for backend, server in servers.items():
            for path in (DETAIL_PATH.format(no=product_no), STORE_PATH):
                status, headers, body = await fetch(server.port, admin_request(path, token))
                if status != 200:
                    raise BenchError(f"{backend} server: GET {path} answered {status}: {body[:300]!r}")
                sizes[path] = len(body)
                limit = headers.get("x-api-call-limit")
                if backend == "off" and limit is not None:
                    raise BenchError(f"the off server sent X-Api-Call-Limit: {limit}; is the limiter really off?")
                if backend != "off" and limit != f"1/{UNLIMITED}":
                    raise BenchError(f"{backend} server: X-Api-Call-Limit is {limit!r}, expected '1/{UNLIMITED}' "
                                     "(missing: no limiter in the path; 0/…: Redis failed open)")  # fmt: skip
                if backend == "redis" and not await r.exists(key):
                    raise BenchError(f"the Redis server answered, but its bucket {key} is not in Redis")
    except (OSError, redis.RedisError) as exc:
        raise BenchError(f"cannot talk to Redis at {redis_url}: {exc}") from exc
    finally:
        await r.aclose()
    return sizes


async def backend_failures(server: Server) -> float:
    status, body = await common.http_get(server.port, "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics answered {status}")
    for line in body.decode().splitlines():
        if line.startswith("openmall_ratelimit_backend_failures_total"):
            return float(line.split()[-1])
    return 0.0


def combine(name: str, slices: list[Slice]) -> Slice:
    out = Slice(name)
    out.seconds = sum(s.seconds for s in slices)
    for s in slices:
        out.latencies_ns.extend(s.latencies_ns)
        out.errors += s.errors
        out.error_samples.extend(s.error_samples[: 5 - len(out.error_samples)])
    if all(s.pg_sessions is not None for s in slices):
        out.pg_sessions = sum(s.pg_sessions or 0 for s in slices)
    for attr in ("server_cpu", "db_cpu", "redis_cpu", "client_cpu"):
        values = [(getattr(s, attr), s.seconds) for s in slices]
        if out.seconds and all(v is not None for v, _ in values):
            setattr(out, attr, sum(v * w for v, w in values) / out.seconds)
    return out


async def measure_target(
    key: str,
    servers: dict[str, Server],
    requests: list[bytes],
    args: argparse.Namespace,
    sessions: PgSessions | None = None,
) -> tuple[dict[str, Slice], list[dict[str, float]]]:
    """Warm-up each server, then ``args.rounds`` interleaved slices: (combined per backend, req/s per round)."""
    for backend, server in servers.items():
        if args.warmup > 0:
            warm = await drive(f"{key} {backend}", server.port, requests, args.connections, args.warmup)
            if warm.errors:
                raise ResponseError(f"{key} {backend}: {warm.errors} errors during warm-up, e.g. {warm.error_samples}")
    slices: dict[str, list[Slice]] = {b: [] for b in servers}
    rounds: list[dict[str, float]] = []
    for i in range(args.rounds):
        order = list(servers)[i % len(servers) :] + list(servers)[: i % len(servers)]
        this: dict[str, float] = {}
        for backend in order:
            s = await drive(f"{key} {backend}", servers[backend].port, requests, args.connections,
                            args.duration / args.rounds, cpu=servers[backend], sessions=sessions)  # fmt: skip
            slices[backend].append(s)
            this[backend] = s.rps
        rounds.append(this)
        for server in servers.values():
            if server.proc.poll() is not None:
                raise BenchError(f"{server.name} server died during the run:\n{server.log_tail()}")
    return {b: combine(f"{key} {b}", v) for b, v in slices.items()}, rounds


def _per_cpu(r: Slice) -> float | None:
    """Requests per second of the app's CPU: what a call costs, whatever share of the cores the app was given."""
    return r.rps / r.server_cpu if r.server_cpu else None


def report(label: str, results: dict[str, Slice], rounds: list[dict[str, float]], primary: bool) -> None:
    print(f"{label}")
    header = (
        f"  {'limiter':<8} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'app CPU':>7} {'req/CPU-s':>9} {'pg CPU':>7} {'pg conn/s':>9} {'redis CPU':>9} {'gen CPU':>7}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for backend, r in results.items():
        per_cpu = _per_cpu(r)
        conns = "-" if r.pg_sessions is None or not r.seconds else f"{r.pg_sessions / r.seconds:.0f}"
        print(
            f"  {backend:<8} {r.requests:>9} {r.rps:>8.0f} {r.percentile_ms(50):>7.2f} {r.percentile_ms(99):>7.2f} "
            f"{r.errors:>6} {common._pct(r.server_cpu):>7} {'-' if per_cpu is None else f'{per_cpu:.0f}':>9} "
            f"{common._pct(r.db_cpu):>7} {conns:>9} {common._pct(r.redis_cpu):>9} {common._pct(r.client_cpu):>7}"
        )
    off = results["off"]
    for backend, goal in GOALS.items():
        ratio = results[backend].rps / off.rps if off.rps else 0.0
        per_round = [r[backend] / r["off"] for r in rounds if r.get("off")]
        spread = f"rounds {min(per_round) * 100:.0f}–{max(per_round) * 100:.0f} %" if per_round else ""
        cpu_off, cpu_this = _per_cpu(off), _per_cpu(results[backend])
        per_cpu = f"per app CPU-s {cpu_this / cpu_off * 100:.1f} %" if cpu_off and cpu_this else ""
        verdict = "PASS" if ratio >= goal else "MISS"
        note = "" if primary else "  [the cheapest read: informative]"
        print(f"  {backend + '/off':<11} {ratio * 100:6.1f} %   goal >= {goal * 100:.0f} %   {verdict}   "
              f"({spread}; {per_cpu}){note}")  # fmt: skip
    if any(r.pg_sessions and r.pg_sessions > r.seconds for r in results.values()):  # more than one a second
        print("  note: the servers' database pools opened and closed connections during the measurement (pg conn/s;")
        print("        more requests in flight than OPENMALL_DB_POOL_SIZE): the ratios include that churn, which")
        print("        the limiter's timing changes; --connections 10 (≤ the default pool of 10) measures without it")
    print(flush=True)


async def run(args: argparse.Namespace, servers: dict[str, Server], log_dir: Path) -> int:
    env = _env(args.db_url, args.redis_url)
    started = time.perf_counter()
    if not args.reuse_db:
        print(f"database: recreating {args.db_url} and loading {args.products:,} products …", flush=True)
        await common._recreate_database(args.db_url)
        await asyncio.to_thread(_cli, env, "demo-data", "--products", str(args.products))
        await common._settle_database(args.db_url, analyze=True)
    else:
        print(f"database: reusing {args.db_url}", flush=True)
    limits = await asyncio.to_thread(_cli, env, "mall", "limits", MALL,
                                     "--admin-capacity", UNLIMITED, "--admin-drain", UNLIMITED)  # fmt: skip
    client_id, token = await issue_token(args.db_url)
    print(f"          ready in {time.perf_counter() - started:.1f} s; demo mall's buckets: "
          f"{' / '.join(line.strip() for line in limits.splitlines())}", flush=True)  # fmt: skip

    for backend in BACKENDS:
        servers[backend] = common.start_server(
            f"openmall-{backend}", "openmall.app:create_app", {**env, "OPENMALL_RATE_LIMIT_BACKEND": backend},
            log_dir, "--factory",
        )  # fmt: skip
    await asyncio.gather(*(common.wait_ready(s, "/healthz") for s in servers.values()))

    nos = await pick_products(servers["off"].port, token, args.detail_products)
    sizes = await check_limiter(servers, token, client_id, args.redis_url, nos[0])
    ports = ", ".join(f"{b} :{s.port}" for b, s in servers.items())
    print(f"servers:  uvicorn, 1 worker each ({ports}), Redis {args.redis_url}; {args.connections} connections, "
          f"{args.warmup:g} s warm-up per server, then {args.rounds} interleaved rounds of "
          f"{args.duration / args.rounds:.2g} s per server ({args.duration:g} s each in all)")  # fmt: skip
    print(
        f"checked:  200s; X-Api-Call-Limit: 1/{UNLIMITED} from memory and redis (the bucket's key in Redis), "
        "none from off"
    )
    detail_size = sizes[DETAIL_PATH.format(no=nos[0])]
    print(f"payloads: product {detail_size:,} B (rotating over {len(nos)} products), store {sizes[STORE_PATH]} B")
    print(flush=True)

    load_before = os.getloadavg()[0]
    targets = [
        ("detail", f"GET {DETAIL_PATH}", [admin_request(DETAIL_PATH.format(no=n), token) for n in nos], True),
        ("store", f"GET {STORE_PATH}", [admin_request(STORE_PATH, token)], False),
    ]
    errors = 0
    sessions = PgSessions(args.db_url)
    try:
        for key, label, requests, primary in targets:
            if key not in args.targets:
                continue
            results, rounds = await measure_target(key, servers, requests, args, sessions)
            report(label, results, rounds, primary)
            for r in results.values():
                errors += r.errors
                for sample in r.error_samples:
                    print(f"  {r.name}: {sample}", file=sys.stderr)
                if r.requests == 0:
                    print(f"FAILED: {r.name} completed no requests", file=sys.stderr)
                    return 1
    finally:
        await sessions.close()
    failures = await backend_failures(servers["redis"])
    if failures:
        print(f"WARNING: the Redis server let {failures:g} calls through unchecked (Redis failures): "
              "its figures are not the Redis bucket's", file=sys.stderr)  # fmt: skip
        return 1
    print("redis:    no backend failure during the run (openmall_ratelimit_backend_failures_total 0)")
    print(
        f"machine:  {os.cpu_count()} CPUs; 1-minute load average {load_before:.2f} before the measurements, "
        f"{os.getloadavg()[0]:.2f} after (the benchmark alone makes 1.5–2; more: other work shared the cores)"
    )
    if errors:
        print(f"\nFAILED: {errors} requests did not answer 200", file=sys.stderr)
        return 1
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark an Admin API read with no limiter, the memory bucket and the "
                                "Redis bucket, in one run, and print the ratios.")  # fmt: skip
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per server and target (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server and target (default 2)")
    p.add_argument(
        "--rounds", type=int, default=6, help="interleaved slices the duration is cut into; a multiple of 3 (default 6)"
    )
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    p.add_argument("--products", type=int, default=2000, help="products in the demo mall (default 2000)")
    p.add_argument(
        "--detail-products", type=int, default=300, help="products the detail read rotates over (default 300)"
    )
    p.add_argument("--targets", default="detail,store", help="comma-separated: detail, store (default both)")
    p.add_argument(
        "--db-url", default=DEFAULT_DB_URL, help=f"bench database, dropped and recreated (default {DEFAULT_DB_URL})"
    )
    p.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"Redis of the redis server (default {DEFAULT_REDIS_URL}); nothing is flushed",
    )
    p.add_argument("--reuse-db", action="store_true", help="skip drop, create and load (a new token is still written)")
    p.add_argument("--drop-db", action="store_true", help="drop the bench database at the end")
    args = p.parse_args(argv)
    args.targets = {t.strip() for t in args.targets.split(",") if t.strip()}
    if not args.targets or not args.targets <= {"detail", "store"}:
        p.error("--targets takes detail, store or both")
    if not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600] seconds")
    if not 0 <= args.warmup <= 120:
        p.error("--warmup must be in [0, 120] seconds")
    if not 1 <= args.rounds <= 99 or args.rounds % 3 or args.duration / args.rounds < 0.2:
        p.error("--rounds must be a multiple of 3 (each server leads equally often), slices of at least 0.2 s")
    if not 1 <= args.connections <= 512:
        p.error("--connections must be between 1 and 512")
    if not 1 <= args.products <= 1_000_000:
        p.error("--products must be between 1 and 1,000,000")
    if not 1 <= args.detail_products <= 10_000:
        p.error("--detail-products must be between 1 and 10,000")
    if not args.redis_url.startswith(("redis://127.0.0.1", "redis://localhost", "redis://[::1]")):
        p.error("--redis-url must be a local redis:// URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        common._split_db_url(args.db_url)  # validate (local, not a shared database) before touching anything
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    if common._split_db_url(args.db_url)[1] == "openmall_bench" and not args.reuse_db:
        print("benchmark failed: openmall_bench is shop_api.py's database; use another", file=sys.stderr)
        return 2

    common.stop_on_term()
    runner = common.loop_runner()

    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="openmall-bench-admin-") as tmp:
        try:
            return runner(run(args, servers, Path(tmp)))
        except BenchError as exc:
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1 if isinstance(exc, ResponseError) else 2
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        finally:
            for s in reversed(list(servers.values())):
                s.stop()
            if args.drop_db:
                try:
                    asyncio.run(common._drop_database(args.db_url))
                except Exception as exc:  # noqa: BLE001
                    print(f"could not drop the bench database: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
