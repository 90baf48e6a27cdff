"""Webhook delivery: deliveries per second of one `openmall worker`, and commit-to-receipt latency.

    python bench/webhooks.py [--events 5000] [--rate 100] [--seconds 10]

1. Throughput: ``--events`` events are committed first, then one worker process starts; the local
   receiver (in this process, keep-alive HTTP/1.1, answers 200 at once) counts arrivals per second.
2. Latency: with the worker idle, events are committed at ``--rate`` per second for ``--seconds``;
   each one's commit time is compared with its arrival at the receiver (p50, p99).

Goals (issue 5): at least 1,000 deliveries/s per worker, p50 at most 100 ms. Uses its own
PostgreSQL database ``openmall_bench_hooks`` (dropped and recreated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
DB = "openmall_bench_hooks"
PG = "postgresql://postgres@127.0.0.1:5432"
KEY = "bench-webhooks-key"


class Receiver:
    """A minimal HTTP/1.1 server: records when each webhook-id arrives, answers 200."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.arrived.setdefault(headers.get("webhook-id", ""), time.time())
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def prepare(url: str, receiver_url: str) -> None:
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {DB}")
    await admin.close()
    env = {**os.environ, "OPENMALL_DATABASE_URL": url, "OPENMALL_SECRET_KEY": KEY}
    subprocess.run([sys.executable, "-m", "openmall.cli", "mall", "create", "bench", "--name", "Bench"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    os.environ.update({"OPENMALL_SECRET_KEY": KEY})
    from openmall.kernel.db import create_engine, session_factory, session_scope
    from openmall.models import load_all
    from openmall.oauth import service as oauth
    from openmall.webhooks import service as webhooks

    load_all()
    engine = create_engine(url)
    async with session_scope(session_factory(engine), "bench") as s:
        dev = await oauth.create_developer(s, "bench@example.com", "Bench", "correct horse battery")
        made = await oauth.create_app(s, KEY.encode(), dev, name="Bench", app_url="https://bench.example/",
                                      redirect_uris=["https://bench.example/cb"], scopes=["mall.read_product"],
                                      test_malls=["bench"])  # fmt: skip
        await oauth.install_app(s, made.app, "bench", None, ["mall.read_product"])
        await webhooks.set_subscription(s, KEY.encode(), made.app.app_no, frozenset({"mall.read_product"}),
                                        receiver_url, ["product.updated"], allow_private=True)  # fmt: skip
    await engine.dispose()


async def emit_events(url: str, count: int, per_tx: int) -> dict[str, float]:
    """Commit ``count`` product.updated events, ``per_tx`` per transaction; returns commit time per event id."""
    import openmall.catalog.events  # noqa: F401 — registers the product events
    from openmall.kernel.db import create_engine, session_factory, session_scope
    from openmall.kernel.events import emit

    engine = create_engine(url)
    committed: dict[str, float] = {}
    factory = session_factory(engine)
    done = 0
    while done < count:
        n = min(per_tx, count - done)
        async with session_scope(factory, "bench") as s:
            ids = [(await emit(s, "product.updated", {"product_no": done + i})).event_id for i in range(n)]
        now = time.time()
        committed.update(dict.fromkeys(ids, now))
        done += n
    await engine.dispose()
    return committed


def start_worker(url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENMALL_DATABASE_URL": url,
        "OPENMALL_SECRET_KEY": KEY,
        "OPENMALL_WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    cmd = [sys.executable, "-m", "openmall.cli", "worker", "--concurrency", str(concurrency)]
    log = open(Path("/tmp") / "openmall-bench-worker.log", "wb")  # noqa: SIM115 — lives as long as the worker
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)


async def main(args: argparse.Namespace) -> int:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
    await prepare(url, f"http://127.0.0.1:{port}/hooks")

    committed = await emit_events(url, args.events, 500)
    worker = start_worker(url, args.concurrency)
    try:
        deadline = time.time() + 300
        while len(receiver.arrived) < args.events and time.time() < deadline and worker.poll() is None:
            await asyncio.sleep(0.05)
        times = sorted(receiver.arrived[i] for i in committed if i in receiver.arrived)
        got = len(times)
        # the steady rate: from the 5th to the 95th percentile of arrivals (startup and tail excluded)
        lo, hi = times[int(got * 0.05)], times[int(got * 0.95) - 1]
        rate = (int(got * 0.95) - int(got * 0.05)) / max(hi - lo, 1e-9)
        print(
            f"throughput: {got:,} of {args.events:,} events delivered by one worker; {rate:,.0f} deliveries/s "
            f"(goal >= 1,000: {'PASS' if rate >= 1000 else 'MISS'})"
        )

        receiver.arrived.clear()
        latencies: list[float] = []
        sent: dict[str, float] = {}
        interval = 1 / args.rate
        end = time.time() + args.seconds
        while time.time() < end:
            t0 = time.time()
            sent.update(await emit_events(url, 1, 1))
            await asyncio.sleep(max(0.0, interval - (time.time() - t0)))
        await asyncio.sleep(3)
        latencies = sorted((receiver.arrived[i] - t) * 1000 for i, t in sent.items() if i in receiver.arrived)
        if latencies:
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"latency:    {len(latencies):,} of {len(sent):,} events at {args.rate}/s; commit to receipt "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (goal p50 <= 100 ms: {'PASS' if p50 <= 100 else 'MISS'})"
            )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)
        server.close()
    print(json.dumps({"events": args.events, "concurrency": args.concurrency}))
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--rate", type=int, default=100, help="events per second in the latency phase")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--concurrency", type=int, default=200)
    raise SystemExit(asyncio.run(main(p.parse_args())))
