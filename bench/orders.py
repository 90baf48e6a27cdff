"""Order placement benchmark: ``POST /api/v2/shop/payments/confirm`` (the call that places an order) by 100
concurrent buyers on PostgreSQL.

    .venv/bin/python bench/orders.py [--duration 10] [--buyers 100] [--rate 150] [--workers 1]

1. drops and recreates the database (default ``openmall_bench_orders`` on 127.0.0.1:5432), loads the demo mall
   (``openmall demo-data --products 200``) and opens its Shop API call bucket wide;
2. writes straight into the database: ``--buyers`` members with an access token and a default address, stock of
   1,000,000 on ``--variants`` variants, and for every buyer enough order sheets of one unit of a random variant,
   each priced once by ``orders.sheets.quote`` and reserved for card payment (a ``RESERVED`` payment of the
   amount to pay) — the setup is not measured, the confirmation is: in one transaction it claims the sheet,
   re-prices it, takes the stock, charges the test gateway, takes the order id, writes the order and its events;
3. starts ``openmall.app:create_app`` under uvicorn (``--workers`` processes, as ``openmall serve`` does);
4. measures two loads, each after a warm-up: **paced** — the buyers together start ``--rate`` orders a second
   (Poisson arrivals, each on one of the buyers' keep-alive connections; latency counts from the planned start,
   so a server that falls behind is not flattered), the goal's load — and **saturated** — every buyer confirms
   again as soon as its order is placed (closed loop), the most orders a second this machine takes;
5. checks that every answer was a 201 and that the database holds exactly the orders answered, with the stock taken
   for each; prints orders/s, p50 and p99 per load against the goal (>= 150 orders/s with p99 <= 100 ms).

A MISS is a measurement: the exit status is 0. It is 1 when an answer was not a 201 or the database disagrees, 2
when the benchmark could not run, 130 on Ctrl-C. Only 127.0.0.1 is contacted; the server is stopped on every exit.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shop_api as common  # noqa: E402  - the shared servers, database setup and HTTP response reader
from shop_api import BenchError, Server  # noqa: E402

DEFAULT_DB_URL = "postgresql://postgres@127.0.0.1:5432/openmall_bench_orders"
SECRET_KEY = "openmall-bench-orders-fixed-key"  # a benchmark database's key, not a secret
MALL = "demo"
STOREFRONT = "demo-storefront"
CONFIRM_PATH = "/api/v2/shop/payments/confirm"
CARD = "4242424242424242"
GOAL_RATE, GOAL_P99_MS = 150.0, 100.0
STOCK = 1_000_000


@dataclass
class Buyer:
    member_no: int
    token: str
    keys: list[str] = field(default_factory=list)  # reserved payments, used from the end


# --------------------------------------------------------------------------- setup


async def prepare(db_url: str, buyers: int, per_buyer: int, variants: int) -> tuple[list[Buyer], dict[int, int]]:
    """Members, tokens, addresses, stock and reserved payments; (buyers, variant_no → stock before)."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from openmall.catalog.models import Product, Variant
    from openmall.customers.auth import issue_tokens
    from openmall.customers.models import Address, Member
    from openmall.kernel.db import create_engine, session_factory, session_scope, utcnow
    from openmall.models import load_all
    from openmall.orders import sheets
    from openmall.orders.models import OrderSheet, Payment

    load_all()
    key = SECRET_KEY.encode()
    engine = create_engine(db_url, pool_size=2)
    factory = session_factory(engine)
    rng = random.Random(7)
    try:
        async with session_scope(factory, MALL) as s:
            rows = (await s.execute(
                select(Variant.variant_no, Variant.product_no).join(Product, Product.product_no == Variant.product_no)
                .where(Product.display.is_(True), Product.selling.is_(True), Variant.display.is_(True),
                       Variant.selling.is_(True)).order_by(Variant.variant_no)
            )).all()  # fmt: skip
            chosen = rows[:variants]
            if not chosen:
                raise BenchError("the demo mall has no variant on sale; did `openmall demo-data` run?")
            await s.execute(update(Variant).where(Variant.variant_no.in_([v for v, _ in chosen]))
                            .values(quantity=STOCK))  # fmt: skip
        made: list[Buyer] = []
        async with session_scope(factory, MALL) as s:
            for i in range(buyers):
                member = Member(member_id=f"buyer{i:04d}", name=f"Buyer {i}", email=f"buyer{i}@bench.example")
                s.add(member)
                await s.flush()
                s.add(Address(member_no=member.member_no, receiver_name=f"Buyer {i}", receiver_phone="010-0000-0000",
                              zip_code="04524", address1="1 Sejong-daero", is_default=True))  # fmt: skip
                tokens = await issue_tokens(s, key, member, True)
                made.append(Buyer(member.member_no, tokens.access_token))
        # one quote per variant: every sheet of that variant has the same amount to pay
        amounts: dict[int, tuple[int, object]] = {}
        async with session_scope(factory, MALL) as s:
            first = await s.scalar(select(Member).where(Member.member_no == made[0].member_no))
            for variant_no, product_no in chosen:
                sheet = await sheets.create_sheet(s, first, items=[(variant_no, 1)])
                q = await sheets.quote(s, first, sheet)
                if q.invalid_reasons or q.priced is None:
                    continue
                amounts[variant_no] = (product_no, q.amount_to_pay)
            await s.rollback()  # the sample sheets were only for pricing
        if not amounts:
            raise BenchError("no variant of the demo mall can be ordered (price not in whole won?)")
        usable = sorted(amounts)
        now = utcnow()
        async with session_scope(factory, MALL) as s:
            for buyer in made:
                for _ in range(per_buyer):
                    variant_no = rng.choice(usable)
                    product_no, amount = amounts[variant_no]
                    no, key_ = sheets.new_sheet_no(), f"pay_{secrets.token_hex(16)}"
                    s.add(OrderSheet(order_sheet_no=no, member_no=buyer.member_no, status="OPEN", choices={},
                                     priced={}, items=[{"product_no": product_no, "variant_no": variant_no,
                                                        "quantity": 1, "cart_item_no": None}],
                                     tracking_key="bench", channel_type="BENCH", created_at=now,
                                     expires_at=now + timedelta(hours=24)))  # fmt: skip
                    s.add(Payment(payment_key=key_, order_sheet_no=no, member_no=buyer.member_no, pay_type="CARD",
                                  amount=amount, status="RESERVED", gateway="test", created_at=now))  # fmt: skip
                    buyer.keys.append(key_)
                await s.flush()
        async with session_scope(factory, MALL) as s:
            stock = dict((await s.execute(select(Variant.variant_no, Variant.quantity)
                                          .where(Variant.variant_no.in_(usable)))).all())  # fmt: skip
        return made, stock
    finally:
        await engine.dispose()


async def verify(db_url: str, placed: int, stock_before: dict[int, int]) -> list[str]:
    """What the database says against what the server answered."""
    from sqlalchemy import func, select

    from openmall.catalog.models import Variant
    from openmall.kernel.db import create_engine, session_factory, session_scope
    from openmall.orders.models import Order, OrderOption

    engine = create_engine(db_url, pool_size=1)
    problems = []
    try:
        async with session_scope(session_factory(engine), MALL) as s:
            orders = await s.scalar(select(func.count()).select_from(Order))
            units = await s.scalar(select(func.coalesce(func.sum(OrderOption.quantity), 0)))
            ids = await s.scalar(select(func.count(func.distinct(Order.order_id))))
            now = dict((await s.execute(select(Variant.variant_no, Variant.quantity)
                                        .where(Variant.variant_no.in_(list(stock_before))))).all())  # fmt: skip
        taken = sum(stock_before.values()) - sum(now.values())
        if orders != placed:
            problems.append(f"{orders} orders in the database, {placed} answered 201")
        if ids != orders:
            problems.append(f"{orders} orders but {ids} distinct order ids")
        if taken != units:
            problems.append(f"{taken} units of stock taken for {units} units ordered")
    finally:
        await engine.dispose()
    return problems


# --------------------------------------------------------------------------- server


def start_server(env: dict[str, str], log_dir: Path, workers: int) -> Server:
    """uvicorn with ``workers`` processes, as ``openmall serve --workers N`` runs it (its CPU: the whole group)."""
    import subprocess

    port = common._free_port()  # noqa: SLF001
    log = log_dir / "openmall.log"
    cmd = [sys.executable, "-m", "uvicorn", "openmall.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=common._die_with_parent)  # noqa: SLF001  # fmt: skip
    return Server("openmall", port, proc, log)


def group_cpu(server: Server) -> float | None:
    """CPU seconds of the server's whole process group (uvicorn's worker processes included), Linux /proc."""
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == server.proc.pid:  # the process group: the session uvicorn was started in
            total += (int(fields[11]) + int(fields[12])) / common.CLK_TCK
            found = True
    return total if found else None


# --------------------------------------------------------------------------- load


def _confirm_request(buyer: Buyer, key: str) -> bytes:
    body = json.dumps({"payment_key": key, "card_number": CARD}).encode()
    head = (f"POST {CONFIRM_PATH} HTTP/1.1\r\nHost: {MALL}.localhost\r\nAccept: application/json\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-Client-Id: {STOREFRONT}\r\n"
            f"Authorization: Bearer {buyer.token}\r\n\r\n")  # fmt: skip
    return head.encode() + body


@dataclass
class Run:
    name: str
    seconds: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    placed: int = 0
    server_cpu: float | None = None
    db_cpu: float | None = None

    def pct(self, q: float) -> float:
        if not self.latencies_ns:
            return float("nan")
        xs = sorted(self.latencies_ns)
        return xs[min(len(xs) - 1, int(q * len(xs)))] / 1e6

    @property
    def rate(self) -> float:
        return len(self.latencies_ns) / self.seconds if self.seconds else 0.0


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(request)
        status, body, keep_alive = await common._read_response(self.reader)  # noqa: SLF001
        if not keep_alive:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


async def _place(conn: Connection, buyer: Buyer, started_ns: int, run: Run | None) -> None:
    if not buyer.keys:
        raise BenchError("the reserved payments ran out: raise --orders-per-buyer")
    status, body = await conn.send(_confirm_request(buyer, buyer.keys.pop()))
    took = time.perf_counter_ns() - started_ns
    if run is None:
        return
    if status == 201:
        run.latencies_ns.append(took)
        run.placed += 1
    elif len(run.errors) < 5:
        run.errors.append(f"HTTP {status}: {body[:300].decode(errors='replace')}")
    else:
        run.errors.append("")


async def saturated(port: int, buyers: list[Buyer], seconds: float, run: Run | None) -> None:
    """Every buyer confirms again as soon as its order is placed."""
    deadline = time.perf_counter() + seconds

    async def buyer_loop(buyer: Buyer) -> None:
        conn = Connection(port)
        try:
            while time.perf_counter() < deadline:
                await _place(conn, buyer, time.perf_counter_ns(), run)
        finally:
            await conn.close()

    await asyncio.gather(*(buyer_loop(b) for b in buyers))


async def paced(port: int, buyers: list[Buyer], rate: float, seconds: float, run: Run | None, seed: int) -> None:
    """``rate`` orders a second in all (Poisson arrivals), each by a random buyer on its own connection; an order
    whose buyer is still busy waits for it, and its latency counts from when it was planned."""
    rng = random.Random(seed)
    conns = {b.member_no: Connection(port) for b in buyers}
    locks = {b.member_no: asyncio.Lock() for b in buyers}
    tasks = []

    async def one(buyer: Buyer, planned_ns: int) -> None:
        async with locks[buyer.member_no]:
            await _place(conns[buyer.member_no], buyer, planned_ns, run)

    start = time.perf_counter()
    at = 0.0
    while at < seconds:
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        planned_ns = int((start + at) * 1e9)
        tasks.append(asyncio.create_task(one(rng.choice(buyers), planned_ns)))
        at += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    for c in conns.values():
        await c.close()


async def measure(server: Server, name: str, buyers: list[Buyer], args: argparse.Namespace) -> Run:
    if name == "paced":
        await paced(server.port, buyers, args.rate, args.warmup, None, seed=1)
    else:
        await saturated(server.port, buyers, args.warmup, None)
    run = Run(name)
    cpu0, db0 = group_cpu(server), common.postgres_cpu_seconds()
    t0 = time.perf_counter()
    if name == "paced":
        await paced(server.port, buyers, args.rate, args.duration, run, seed=2)
    else:
        await saturated(server.port, buyers, args.duration, run)
    run.seconds = time.perf_counter() - t0
    cpu1, db1 = group_cpu(server), common.postgres_cpu_seconds()
    run.server_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    run.db_cpu = db1 - db0 if db0 is not None and db1 is not None else None
    return run


def report(runs: list[Run], args: argparse.Namespace) -> None:
    print(f"{'load':<34}{'orders':>8}{'orders/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'app CPU':>9}{'db CPU':>8}")  # fmt: skip
    for r in runs:
        label = (f"paced {args.rate:g}/s, {args.buyers} buyers" if r.name == "paced"
                 else f"saturated, {args.buyers} buyers")  # fmt: skip
        app_cpu = f"{r.server_cpu / r.seconds:.0%}" if r.server_cpu is not None else "?"
        db_cpu = f"{r.db_cpu / r.seconds:.0%}" if r.db_cpu is not None else "?"
        print(f"{label:<34}{len(r.latencies_ns):>8}{r.rate:>10.1f}{r.pct(0.5):>9.1f}{r.pct(0.99):>9.1f}"
              f"{len(r.errors):>8}{app_cpu:>9}{db_cpu:>8}")  # fmt: skip
    paced_run = next(r for r in runs if r.name == "paced")
    top = next(r for r in runs if r.name == "saturated")
    rate_ok = paced_run.rate >= GOAL_RATE * 0.97 and top.rate >= GOAL_RATE  # Poisson: the count itself varies ±3 %
    p99_ok = paced_run.pct(0.99) <= GOAL_P99_MS
    print()
    print(f"goal: >= {GOAL_RATE:g} orders/s with p99 <= {GOAL_P99_MS:g} ms at {args.buyers} concurrent buyers")
    print(f"  throughput: {'MET' if rate_ok else 'MISS'} — paced load kept up at {paced_run.rate:.1f}/s; "
          f"saturated {top.rate:.1f}/s (p99 {top.pct(0.99):.0f} ms: with every buyer always waiting, latency is "
          f"buyers / throughput)")  # fmt: skip
    print(f"  latency:    {'MET' if p99_ok else 'MISS'} — p99 {paced_run.pct(0.99):.1f} ms at {args.rate:g} orders/s")


async def run(args: argparse.Namespace, servers: list[Server], log_dir: Path) -> int:
    db_url = args.db_url
    print(f"database: recreating {db_url}, loading the demo mall ({args.products} products) …", flush=True)
    await common._recreate_database(db_url)  # noqa: SLF001
    await asyncio.to_thread(common.load_data, db_url, args.products)
    # enough reserved payments for both loads at well above the goal's rate
    per_buyer = args.orders_per_buyer or max(40, int((args.duration + args.warmup) * 2 * 600 / args.buyers))
    started = time.perf_counter()
    buyers, stock_before = await prepare(db_url, args.buyers, per_buyer, args.variants)
    await common._settle_database(db_url, analyze=True)  # noqa: SLF001
    print(f"          {args.buyers} buyers, {args.buyers * per_buyer:,} reserved payments over {len(stock_before)} "
          f"variants, in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip

    env = {**common._app_env(db_url), "OPENMALL_SECRET_KEY": SECRET_KEY,  # noqa: SLF001
           "OPENMALL_DB_POOL_SIZE": str(args.pool_size)}  # fmt: skip
    gc.collect()  # the buyers and their keys live to the end: keep the load's own full collections from
    gc.freeze()  # pausing it for tens of ms (that would count as the server's latency)
    server = start_server(env, log_dir, args.workers)
    servers.append(server)
    await common.wait_ready(server, "/api/v2/shop/products")
    print(
        f"server:   uvicorn, {args.workers} worker(s), pool {args.pool_size} connections per process, "
        f":{server.port}; {args.warmup:g} s warm-up + {args.duration:g} s per load\n",
        flush=True,
    )

    runs = []
    for name in ("paced", "saturated"):
        runs.append(await measure(server, name, buyers, args))
        if server.proc.poll() is not None:
            raise BenchError(f"the server died during the run:\n{server.log_tail()}")
    report(runs, args)

    errors = [e for r in runs for e in r.errors]
    # the warm-ups placed orders too: the payments approved are every 201 the server answered
    problems = await verify(db_url, await _count_answered(db_url), stock_before)
    if errors:
        print(f"\nFAILED: {len(errors)} confirmations did not answer 201:", file=sys.stderr)
        for e in [e for e in errors if e][:5]:
            print(f"  {e}", file=sys.stderr)
        return 1
    if problems:
        print("\nFAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("\nchecked: every confirmation answered 201; the database holds one order per payment approved, distinct "
          "order ids, and exactly the stock they took")  # fmt: skip
    return 0


async def _count_answered(db_url: str) -> int:
    """Payments the server approved (each answered a 201, warm-ups included)."""
    from sqlalchemy import func, select

    from openmall.kernel.db import create_engine, session_factory, session_scope
    from openmall.orders.models import Payment

    engine = create_engine(db_url, pool_size=1)
    try:
        async with session_scope(session_factory(engine), MALL) as s:
            return int(await s.scalar(select(func.count()).select_from(Payment).where(Payment.status == "APPROVED")))
    finally:
        await engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark order placement (payment confirmation) on PostgreSQL.")
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per load (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per load (default 3)")
    p.add_argument("--buyers", type=int, default=100, help="concurrent buyers, one connection each (default 100)")
    p.add_argument("--rate", type=float, default=GOAL_RATE, help=f"orders/s of the paced load (default {GOAL_RATE:g})")
    p.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    p.add_argument("--pool-size", type=int, default=10, help="database connections per process (default 10)")
    p.add_argument("--products", type=int, default=200, help="products in the demo mall (default 200)")
    p.add_argument("--variants", type=int, default=200, help="variants the orders spread over (default 200)")
    p.add_argument("--orders-per-buyer", type=int, default=0, help="reserved payments per buyer (default: enough)")
    p.add_argument(
        "--db-url", default=DEFAULT_DB_URL, help=f"a dedicated database, recreated (default {DEFAULT_DB_URL})"
    )
    p.add_argument("--keep-db", action="store_true", help="leave the database in place afterwards")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers: list[Server] = []
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with tempfile.TemporaryDirectory(prefix="openmall-bench-orders-") as tmp:
        try:
            return asyncio.run(run(args, servers, Path(tmp)))
        except BenchError as exc:
            print(f"benchmark could not run: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        finally:
            for s in servers:
                s.stop()
            if not args.keep_db:
                try:
                    asyncio.run(common._drop_database(args.db_url))  # noqa: SLF001
                except Exception:  # noqa: BLE001 - best effort
                    pass


if __name__ == "__main__":
    sys.exit(main())
