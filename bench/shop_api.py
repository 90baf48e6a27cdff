"""Shop API benchmark: openmall on PostgreSQL against a bare FastAPI endpoint, in one run.

    .venv/bin/python bench/shop_api.py [--duration 10] [--connections 32] [--products 10000]

1. drops and recreates the database (default ``openmall_bench`` on 127.0.0.1:5432) and loads
   the demo mall with ``--products`` products (``openmall demo-data``);
2. starts two uvicorn processes with identical flags, one worker each: openmall and
   ``bench/bare_app.py`` (one GET route returning a small JSON dict);
3. for each target (bare, product detail, product list ``limit=100``) warms up, then drives
   ``--connections`` keep-alive HTTP/1.1 connections for ``--duration`` seconds with a load
   generator written on raw asyncio streams (so that client overhead does not cap the bare
   endpoint), checking that every response is a 200;
4. prints requests, req/s, p50, p99, errors and CPU per target, then the ratios to the bare
   endpoint against the goals of the issue (detail >= 30 %, list of 100 >= 10 %).

A MISS is a measurement, not a failure: the exit status is 0. It is non-zero only when the
benchmark itself failed (a server did not start, the data did not load, a response was not 200).
Only 127.0.0.1 is contacted; both servers are stopped on exit, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DB_URL = "postgresql://postgres@127.0.0.1:5432/openmall_bench"
GOALS = {"detail": 0.30, "list": 0.10}
LIST_PATH = "/api/v2/shop/products?limit=100"
DETAIL_PATH = "/api/v2/shop/products/{no}"
BARE_PATH = "/ping"
STOREFRONT = "demo-storefront"
MAX_REQUESTS_PER_TARGET = 5_000_000  # a hard bound besides the duration
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class BenchError(Exception):
    """The benchmark itself could not run (as opposed to a goal being missed)."""


class ResponseError(BenchError):
    """The server under test answered something other than a 200."""


# --------------------------------------------------------------------------- database


def _split_db_url(url: str) -> tuple[str, str]:
    """(admin url on the 'postgres' database, name of the bench database), as plain postgresql:// URLs."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise BenchError(f"--db-url must be a postgresql:// URL, not {url!r}")
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise BenchError(f"the benchmark only talks to a local PostgreSQL, not {parts.hostname!r}")
    name = parts.path.lstrip("/")
    if not name or not name.replace("_", "").isalnum():
        raise BenchError(f"database name {name!r} must be letters, digits and underscores")
    if name in ("postgres", "template0", "template1", "test"):
        raise BenchError(f"refusing to drop database {name!r}; use a dedicated one such as openmall_bench")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    return admin, name


async def _recreate_database(url: str) -> None:
    import asyncpg

    admin, name = _split_db_url(url)
    try:
        conn = await asyncpg.connect(admin, timeout=10)
    except Exception as exc:  # noqa: BLE001 - any connection failure is a setup failure
        raise BenchError(f"cannot connect to PostgreSQL at {admin}: {exc}") from exc
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(url: str) -> None:
    import asyncpg

    admin, name = _split_db_url(url)
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _settle_database(url: str, analyze: bool) -> None:
    """VACUUM ANALYZE (unless told not to) and CHECKPOINT, so that a measurement starts from a steady state.

    ANALYZE is what autovacuum would have done by the time a real shop serves traffic; the loader
    does not run it, and this PostgreSQL runs with autovacuum off. CHECKPOINT flushes the load now
    rather than during a measurement.
    """
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        if analyze:
            await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def postgres_cpu_seconds() -> float | None:
    """CPU time (user + system) of the local PostgreSQL server (Linux /proc), or None.

    Live ``postgres`` processes count their own time; the postmaster also counts the time of the
    backends that have exited (its cutime/cstime), since the pool opens and closes connections.
    """
    procs: dict[int, tuple[int, list[str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm_end = text.rfind(")")
        if text[text.find("(") + 1 : comm_end] == "postgres":
            fields = text[comm_end + 1 :].split()
            procs[int(stat.parent.name)] = (int(fields[1]), fields)
    if not procs:
        return None
    total = 0
    for ppid, fields in procs.values():
        total += int(fields[11]) + int(fields[12])
        if ppid not in procs:  # the postmaster: add its reaped children
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def _app_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    env["OPENMALL_DATABASE_URL"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def load_data(db_url: str, products: int) -> float:
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "openmall.cli", "demo-data", "--products", str(products)]
    done = subprocess.run(cmd, env=_app_env(db_url), capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise BenchError(
            f"`openmall demo-data` failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    # one client from one IP asks thousands of times a second: open its call bucket wide, so that every
    # call still goes through the limiter (as shipped) and none is refused
    wide = ["--shop-capacity", "1000000000", "--shop-drain", "1000000000"]
    limits = subprocess.run([sys.executable, "-m", "openmall.cli", "mall", "limits", "demo", *wide],
                            env=_app_env(db_url), capture_output=True, text=True, timeout=120)  # fmt: skip
    if limits.returncode != 0:
        raise BenchError(f"`openmall mall limits` failed:\n{limits.stdout[-2000:]}{limits.stderr[-2000:]}")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            return None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the group is uvicorn and its children
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=5)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Linux: have the kernel SIGTERM the server if this benchmark is killed without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; the finally in main() is the primary cleanup
        pass


def start_server(name: str, app: str, env: dict[str, str], log_dir: Path, *extra: str) -> Server:
    port = _free_port()
    log = log_dir / f"{name}.log"
    cmd = [
        sys.executable, "-m", "uvicorn", app, *extra,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
    return Server(name, port, proc, log)


async def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"{server.name} server exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            status, _ = await http_get(server.port, path)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = str(exc) or type(exc).__name__
        await asyncio.sleep(0.1)
    raise BenchError(
        f"{server.name} server did not answer 200 on {path} within {timeout:.0f} s ({last}):\n{server.log_tail()}"
    )


# --------------------------------------------------------------------------- HTTP/1.1 client


def _request(port: int, path: str) -> bytes:
    # a storefront names itself (the demo data installs demo-storefront); the bare app ignores the header
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n"
    return f"{head}X-Client-Id: {STOREFRONT}\r\n\r\n".encode("ascii")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one response; Content-Length or chunked bodies."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    keep_alive = True
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif key == b"connection":
            keep_alive = value.strip().lower() != b"close"
    if length >= 0:
        body = await reader.readexactly(length)
    elif chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
        keep_alive = False
    return status, body, keep_alive


async def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    async def go() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(_request(port, path))
            status, body, _ = await _read_response(reader)
            return status, body
        finally:
            writer.close()

    return await asyncio.wait_for(go(), timeout)


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    db_cpu: float | None = None
    client_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ns)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        ordered = sorted(self.latencies_ns)
        rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
        return ordered[rank] / 1e6

    def note_error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


CpuProbe = Callable[[], tuple[float | None, float | None]]


class Load:
    """Prepared requests, cycled over keep-alive connections until a deadline (or a budget of requests): each
    ``connection`` coroutine is one client connection; 200 answers count their latency in ``result``."""

    def __init__(self, port: int, requests: list[bytes], result: Any, max_requests: int | None = None):
        self.port, self.requests, self.result, self.max_requests = port, requests, result, max_requests
        self.counter = self.issued = 0

    async def connection(self, deadline: int) -> None:
        clock, result, latencies = time.perf_counter_ns, self.result, self.result.latencies_ns
        reader = writer = None
        try:
            while clock() < deadline and (self.max_requests is None or self.issued < self.max_requests):
                if writer is None:
                    try:
                        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    except OSError as exc:
                        result.note_error(f"connect: {exc}")
                        await asyncio.sleep(0.05)
                        continue
                req = self.requests[self.counter % len(self.requests)]
                self.counter += 1
                self.issued += 1
                t0 = clock()
                try:
                    writer.write(req)
                    status, body, keep_alive = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as exc:
                    result.note_error(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader = writer = None
                    continue
                t1 = clock()
                if t1 > deadline:
                    break  # finished after the window closed: not counted
                if status == 200:
                    latencies.append(t1 - t0)
                else:
                    result.note_error(f"HTTP {status}: {body[:200]!r}")
                if not keep_alive:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()


async def drive(
    name: str,
    port: int,
    paths: list[str],
    connections: int,
    seconds: float,
    max_requests: int,
    probe: CpuProbe | None = None,
) -> Result:
    """Keep `connections` keep-alive connections busy for `seconds`; requests cycle through `paths`.

    The window is exact: when it closes, CPU counters are read (`probe`) and requests still in
    flight are abandoned (neither counted nor waited for).
    """
    requests = [_request(port, p) for p in paths]
    result = Result(name)
    clock = time.perf_counter_ns
    load = Load(port, requests, result, max_requests)

    before = probe() if probe else (None, None)
    cpu0 = time.process_time()
    t_start = clock()
    deadline = t_start + int(seconds * 1e9)
    tasks = [asyncio.ensure_future(load.connection(deadline)) for _ in range(connections)]
    await asyncio.wait(tasks, timeout=seconds)  # returns early only if max_requests ran out
    t_end = min(clock(), deadline)
    result.client_cpu = time.process_time() - cpu0
    after = probe() if probe else (None, None)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    result.seconds = (t_end - t_start) / 1e9
    if result.seconds > 0:
        result.client_cpu /= result.seconds
        if before[0] is not None and after[0] is not None:
            result.server_cpu = (after[0] - before[0]) / result.seconds
        if before[1] is not None and after[1] is not None:
            result.db_cpu = (after[1] - before[1]) / result.seconds
    return result


async def measure(server: Server, name: str, paths: list[str], args: argparse.Namespace) -> Result:
    if args.warmup > 0:
        warm = await drive(name, server.port, paths, args.connections, args.warmup, MAX_REQUESTS_PER_TARGET)
        if warm.errors:
            raise ResponseError(f"{name}: {warm.errors} errors during warm-up, e.g. {warm.error_samples}")
    return await drive(
        name,
        server.port,
        paths,
        args.connections,
        args.duration,
        MAX_REQUESTS_PER_TARGET,
        probe=lambda: (server.cpu_seconds(), postgres_cpu_seconds()),
    )


# --------------------------------------------------------------------------- the run


async def pick_products(port: int, wanted: int) -> list[int]:
    """Displayed product numbers, read from the list endpoint itself (pages of 500)."""
    nos: list[int] = []
    offset = 0
    while len(nos) < wanted and offset <= 10_000:
        status, body = await http_get(port, f"/api/v2/shop/products?limit=500&offset={offset}&fields=product_no")
        if status != 200:
            raise BenchError(f"listing products for the detail test answered {status}: {body[:300]!r}")
        page = [p["product_no"] for p in json.loads(body)["products"]]
        nos.extend(page)
        if len(page) < 500:
            break
        offset += 500
    if not nos:
        raise BenchError("the list endpoint shows no products; did the demo data load?")
    return nos[:wanted]


async def check_payloads(port: int, product_no: int) -> tuple[int, int]:
    """Sanity checks on what is being measured; returns the body sizes (list, detail)."""
    status, body = await http_get(port, LIST_PATH)
    if status != 200:
        raise BenchError(f"GET {LIST_PATH} answered {status}: {body[:300]!r}")
    count = len(json.loads(body)["products"])
    if count != 100:
        raise BenchError(f"GET {LIST_PATH} returned {count} products, not 100")
    path = DETAIL_PATH.format(no=product_no)
    status, detail = await http_get(port, path)
    if status != 200 or "product" not in json.loads(detail):
        raise BenchError(f"GET {path} answered {status}: {detail[:300]!r}")
    return len(body), len(detail)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def report(results: list[Result], labels: dict[str, str]) -> None:
    header = (
        f"{'target':<34} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
        f" {'app CPU':>7} {'pg CPU':>7} {'gen CPU':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{labels[r.name]:<34} {r.requests:>9} {r.rps:>9.0f} {r.percentile_ms(50):>8.2f} "
            f"{r.percentile_ms(99):>8.2f} {r.errors:>6} "
            f"{_pct(r.server_cpu):>7} {_pct(r.db_cpu):>7} {_pct(r.client_cpu):>7}"
        )
    by = {r.name: r for r in results}
    bare = by["bare"].rps
    print()
    for key, label in (("detail", "product detail / bare"), ("list", "list of 100 / bare")):
        ratio = by[key].rps / bare if bare else 0.0
        verdict = "PASS" if ratio >= GOALS[key] else "MISS"
        print(f"{label:<24} {ratio * 100:6.1f} %   goal >= {GOALS[key] * 100:.0f} %   {verdict}   (as shipped)")
    for key, label in (("detail", "product detail / bare"), ("list", "list of 100 / bare")):
        if f"{key}_nocache" in by:
            ratio = by[f"{key}_nocache"].rps / bare if bare else 0.0
            verdict = "PASS" if ratio >= GOALS[key] else "MISS"
            print(f"{label:<24} {ratio * 100:6.1f} %   goal >= {GOALS[key] * 100:.0f} %   {verdict}   (cache off)")


async def run(args: argparse.Namespace, servers: list[Server], log_dir: Path) -> int:
    db_url = args.db_url
    if not args.reuse_db:
        print(f"database: recreating {db_url} and loading {args.products:,} products …", flush=True)
        await _recreate_database(db_url)
        took = await asyncio.to_thread(load_data, db_url, args.products)
        await _settle_database(db_url, analyze=not args.no_analyze)
        settled = "CHECKPOINT (no ANALYZE)" if args.no_analyze else "VACUUM ANALYZE + CHECKPOINT"
        print(f"          loaded in {took:.1f} s, then {settled}", flush=True)
    else:
        print(f"database: reusing {db_url}", flush=True)

    env = _app_env(db_url)
    app = start_server("openmall", "openmall.app:create_app", env, log_dir, "--factory")
    servers.append(app)
    # the same server with its shared response cache off: what every cache miss costs
    raw = start_server("openmall-nocache", "openmall.app:create_app", {**env, "OPENMALL_SHOP_CACHE_SECONDS": "0"},
                       log_dir, "--factory")  # fmt: skip
    servers.append(raw)
    bare = start_server("bare", "bare_app:app", env, log_dir, "--app-dir", str(BENCH_DIR))
    servers.append(bare)
    await asyncio.gather(wait_ready(app, LIST_PATH), wait_ready(raw, LIST_PATH), wait_ready(bare, BARE_PATH))

    nos = await pick_products(app.port, args.detail_products)
    list_size, detail_size = await check_payloads(app.port, nos[0])
    status, bare_body = await http_get(bare.port, BARE_PATH)
    print(
        f"servers:  uvicorn, 1 worker each, openmall on :{app.port}, bare on :{bare.port}; "
        f"{args.connections} connections, {args.warmup:g} s warm-up + {args.duration:g} s per target",
    )
    print(
        f"payloads: bare {len(bare_body)} B, detail {detail_size:,} B (rotating over {len(nos)} displayed products), "
        f"list {list_size:,} B",
        flush=True,
    )
    print()

    targets = [
        ("bare", bare, [BARE_PATH], f"bare FastAPI GET {BARE_PATH}"),
        ("detail", app, [DETAIL_PATH.format(no=n) for n in nos], "GET /products/{no}"),
        ("list", app, [LIST_PATH], "GET /products?limit=100"),
        ("detail_nocache", raw, [DETAIL_PATH.format(no=n) for n in nos], "GET /products/{no}, cache off"),
        ("list_nocache", raw, [LIST_PATH], "GET /products?limit=100, cache off"),
    ]
    labels = {key: label for key, _, _, label in targets}
    results = []
    for key, server, paths, _label in targets:
        results.append(await measure(server, key, paths, args))
        for s in servers:
            if s.proc.poll() is not None:
                raise BenchError(f"{s.name} server died during the run:\n{s.log_tail()}")
    report(results, labels)

    errors = sum(r.errors for r in results)
    if errors:
        print(f"\nFAILED: {errors} requests did not answer 200:", file=sys.stderr)
        for r in results:
            for sample in r.error_samples:
                print(f"  {r.name}: {sample}", file=sys.stderr)
        return 1
    if any(r.requests == 0 for r in results):
        print("\nFAILED: a target completed no requests", file=sys.stderr)
        return 1
    return 0


def stop_on_term() -> None:
    """SIGTERM and SIGHUP unwind as Ctrl-C does: into the caller's ``finally``, which stops the servers."""

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)


def loop_runner() -> Callable[..., Any]:
    """uvloop's ``run`` when it is installed (the load generator's own overhead matters), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run
    return uvloop.run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark openmall's Shop API (product detail, list of 100) on PostgreSQL "
        "against a bare FastAPI endpoint, in one run.",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per target (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target, not measured (default 2)")
    p.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    p.add_argument("--products", type=int, default=10_000, help="products in the demo mall (default 10000)")
    p.add_argument(
        "--detail-products",
        type=int,
        default=1000,
        help="displayed products the detail test rotates over (default 1000)",
    )
    p.add_argument(
        "--db-url", default=DEFAULT_DB_URL, help=f"bench database, dropped and recreated (default {DEFAULT_DB_URL})"
    )
    p.add_argument("--reuse-db", action="store_true", help="keep the database as it is: skip drop, create and load")
    p.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip the VACUUM ANALYZE after loading (measure a freshly loaded database without planner statistics)",
    )
    p.add_argument("--drop-db", action="store_true", help="drop the bench database at the end")
    args = p.parse_args(argv)
    if not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600] seconds")
    if not 0 <= args.warmup <= 120:
        p.error("--warmup must be in [0, 120] seconds")
    if not 1 <= args.connections <= 512:
        p.error("--connections must be between 1 and 512")
    if not 100 <= args.products <= 1_000_000:
        p.error("--products must be between 100 and 1,000,000 (the list test reads 100)")
    if not 1 <= args.detail_products <= 10_000:
        p.error("--detail-products must be between 1 and 10,000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        _split_db_url(args.db_url)  # validate before touching anything
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2

    stop_on_term()
    runner = loop_runner()

    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="openmall-bench-") as tmp:
        try:
            return runner(run(args, servers, Path(tmp)))
        except BenchError as exc:
            print(f"\nbenchmark failed: {exc}", file=sys.stderr)
            return 1 if isinstance(exc, ResponseError) else 2
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        finally:
            for s in reversed(servers):
                s.stop()
            if args.drop_db:
                try:
                    asyncio.run(_drop_database(args.db_url))
                except Exception as exc:  # noqa: BLE001
                    print(f"could not drop the bench database: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
