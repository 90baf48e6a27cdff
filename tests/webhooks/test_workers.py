"""Real ``openmall worker`` processes on one PostgreSQL, delivering to a loopback receiver.

Two workers share 1,000 events without losing any; a worker killed (SIGKILL) in the middle of a
delivery loses nothing either: when its lease ends another worker sends the event again, with the
same ``webhook-id``. Every request the receiver gets is verified with ``standardwebhooks``.

Those run only when ``OPENMALL_TEST_DATABASE_URL`` names a PostgreSQL database (it is wiped). One
in-process test on a temporary SQLite database shows a known gap: a name that resolves to a public
address when it is checked and to loopback when the HTTP client connects (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from standardwebhooks.webhooks import Webhook

from openmall.config import Settings, normalize_database_url
from openmall.kernel.db import Base, create_engine, session_factory, session_scope
from openmall.kernel.events import emit
from openmall.kernel.migrate import upgrade_async
from openmall.malls import service as malls
from openmall.models import load_all
from openmall.oauth import service as oauth
from openmall.webhooks import service as webhooks
from openmall.webhooks.models import Attempt, Delivery
from openmall.webhooks.worker import Worker
from tests.conftest import _reset_postgres, worker_database_url

PG_URL = worker_database_url()

needs_pg = pytest.mark.skipif(
    not PG_URL,
    reason="webhook worker process tests skipped: set OPENMALL_TEST_DATABASE_URL "
    "(a PostgreSQL database that is wiped, e.g. postgresql://postgres@127.0.0.1:5432/test)",
)

SECRET_KEY = "test-workers-fixed-server-key-0123456789"  # seals the subscription's secret; every worker uses it
MALL = "hooks"
EVENTS = 1000
STARTUP_SECONDS = 30

load_all()


# ---- the receiver ------------------------------------------------------------------------------------------


@dataclass
class Inbox:
    secret: str = ""
    hold_first: float = 0.0  # seconds the first request is held before it is answered
    received: list[str] = field(default_factory=list)  # webhook-id of every request, in arrival order
    bad: list[str] = field(default_factory=list)  # requests whose signature did not verify
    first_arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receiver(BaseHTTPRequestHandler):
    inbox: Inbox

    def do_POST(self) -> None:  # noqa: N802
        inbox = self.inbox
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k: v for k, v in self.headers.items()}
        try:
            payload = Webhook(inbox.secret).verify(body, headers)
            assert payload["id"] == headers["webhook-id"]
        except Exception as exc:  # noqa: BLE001 — recorded, and answered with a 400, for the test to report
            with inbox.lock:
                inbox.bad.append(f"{headers.get('webhook-id')}: {exc!r}")
            self._answer(400)
            return
        with inbox.lock:
            inbox.received.append(headers["webhook-id"])
            first = len(inbox.received) == 1
        if first and inbox.hold_first:
            inbox.first_arrived.set()
            time.sleep(inbox.hold_first)  # the worker that sent it may be killed meanwhile
        self._answer(200)

    def _answer(self, status: int) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the worker is gone
            pass

    def log_message(self, *args: object) -> None:
        return


class Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # not 5: two workers open up to 200 connections at once, refused ones fail the attempt


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()
    handler = type("BoundReceiver", (Receiver,), {"inbox": box})
    server = Listener(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield box, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


# ---- the database and the worker processes ----------------------------------------------------------------


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    yield url, engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def pg_url() -> str:
    url = normalize_database_url(PG_URL or "")
    await _reset_postgres(url)
    await upgrade_async(url)  # left migrated: the other PostgreSQL tests empty the tables, not the schema
    return url


@pytest.fixture
async def sessions(pg_url: str) -> AsyncIterator:
    engine = create_engine(pg_url)
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    yield session_factory(engine)
    await engine.dispose()


async def _subscribe(sessions, url: str, allow_private: bool = True) -> str:
    """A mall with an installed app subscribed to product.created at ``url``; returns the signing secret."""
    key = SECRET_KEY.encode()
    async with session_scope(sessions, "*") as s:
        await malls.create_mall(s, MALL, "Hooks")
    async with session_scope(sessions, MALL) as s:
        developer = await oauth.create_developer(s, "hooks@example.com", "Hooks", "correct horse battery")
        made = await oauth.create_app(s, key, developer, name="Hooks", app_url="https://hooks.example/",
                                      redirect_uris=["https://hooks.example/cb"], scopes=["mall.read_product"],
                                      test_malls=[MALL])  # fmt: skip
        await oauth.install_app(s, made.app, MALL, None, ["mall.read_product"])
        sub = await webhooks.set_subscription(s, key, made.app.app_no, frozenset({"mall.read_product"}), url,
                                              ["product.created"], allow_private=allow_private)  # fmt: skip
    assert sub.secret
    return sub.secret


async def _emit(sessions, count: int, batches: int) -> set[str]:
    ids: set[str] = set()
    per = count // batches
    for b in range(batches):
        async with session_scope(sessions, MALL) as s:
            for i in range(b * per, (b + 1) * per):
                ids.add((await emit(s, "product.created", {"product_no": i + 1, "name": f"P{i + 1}"})).event_id)
    assert len(ids) == count
    return ids


@dataclass
class WorkerProc:
    proc: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator:
    started: list[WorkerProc] = []

    def start(name: str, concurrency: int = 100) -> WorkerProc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
        for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            env.pop(proxy, None)  # httpx honours these: the receiver is on loopback
        env.update(OPENMALL_DATABASE_URL=PG_URL or "", OPENMALL_SECRET_KEY=SECRET_KEY,
                   OPENMALL_WEBHOOKS_ALLOW_PRIVATE="1")  # fmt: skip
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "openmall.cli", "worker", "--concurrency", str(concurrency)],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        worker = WorkerProc(proc, log)
        started.append(worker)
        deadline = time.monotonic() + STARTUP_SECONDS
        while "webhook worker on" not in worker.tail():  # printed just before its loop starts
            if proc.poll() is not None:
                pytest.fail(f"openmall worker exited with {proc.returncode}:\n{worker.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"openmall worker did not start in {STARTUP_SECONDS} s:\n{worker.tail()}")
            time.sleep(0.1)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.proc.terminate()  # SIGTERM: the worker stops after its current round
            try:
                worker.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait(timeout=5)


async def _state(sessions) -> str:
    """Deliveries by status and attempts, and the attempts' errors: what a failure message needs."""
    async with session_scope(sessions, "*") as s:
        rows = (await s.execute(select(Delivery.status, Delivery.attempts, func.count()).group_by(
            Delivery.status, Delivery.attempts))).all()  # fmt: skip
        errors = (await s.execute(select(Attempt.status_code, Attempt.error, func.count()).group_by(
            Attempt.status_code, Attempt.error))).all()  # fmt: skip
    return f"deliveries (status, attempts, count): {rows}; attempts (status, error, count): {errors}"


async def _wait_for(condition, seconds: float, what: str, workers: list[WorkerProc], sessions=None) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        for w in workers:
            if w.proc.poll() is not None and w.proc.returncode != -signal.SIGKILL:
                pytest.fail(f"a worker exited with {w.proc.returncode}:\n{w.tail()}")
        if time.monotonic() > deadline:
            logs = "\n---\n".join(w.tail() for w in workers)
            state = await _state(sessions) if sessions is not None else ""
            pytest.fail(f"{what} did not happen within {seconds:g} s; {state}; worker logs:\n{logs}")
        await asyncio.sleep(0.2)


async def _deliveries(sessions) -> list[Delivery]:
    async with session_scope(sessions, "*") as s:
        return list(await s.scalars(select(Delivery).order_by(Delivery.delivery_no)))


# ---- the tests ---------------------------------------------------------------------------------------------


@needs_pg
async def test_two_workers_deliver_a_thousand_events_each_at_least_once(sessions, inbox, start_worker) -> None:
    box, url = inbox
    box.secret = await _subscribe(sessions, url)
    clock = time.monotonic()
    workers = [start_worker("worker-a"), start_worker("worker-b")]
    ids = await _emit(sessions, EVENTS, batches=4)

    async def all_received() -> bool:
        with box.lock:
            return set(box.received) >= ids

    await _wait_for(all_received, 30, f"all {EVENTS} events reaching the receiver", workers, sessions)

    async def all_recorded() -> bool:  # the last answers may still be being written down
        return all(d.status != "pending" for d in await _deliveries(sessions))

    await _wait_for(all_recorded, 10, "every delivery being recorded", workers, sessions)
    elapsed = time.monotonic() - clock
    deliveries = await _deliveries(sessions)
    async with session_scope(sessions, "*") as s:
        attempt_rows = await s.scalar(select(func.count()).select_from(Attempt))
    assert box.bad == []
    assert len(deliveries) == EVENTS  # one per event: fan-out ran once per event, across both workers
    assert {d.status for d in deliveries} == {"succeeded"}
    with box.lock:
        received = list(box.received)
    assert set(received) == ids
    # a webhook-id may arrive twice only if it was attempted twice: every request is an attempt on record
    assert sum(d.attempts for d in deliveries) == attempt_rows == len(received)
    assert all(w.proc.poll() is None for w in workers), "a worker died"
    print(f"{EVENTS} events delivered by two workers in {elapsed:.1f} s; {len(received) - len(ids)} duplicates")


@needs_pg
async def test_a_delivery_held_by_a_killed_worker_is_sent_again_after_its_lease(
    sessions, inbox, start_worker
) -> None:  # fmt: skip
    box, url = inbox
    box.secret = await _subscribe(sessions, url)
    box.hold_first = 3.0
    first = start_worker("worker-killed", concurrency=10)
    (event_id,) = await _emit(sessions, 1, batches=1)
    if not await asyncio.to_thread(box.first_arrived.wait, 20):
        pytest.fail(f"the event never reached the receiver:\n{first.tail()}")
    first.proc.send_signal(signal.SIGKILL)  # kill -9 while the receiver holds its request
    assert first.proc.wait(timeout=5) == -signal.SIGKILL
    (held,) = await _deliveries(sessions)
    assert held.status == "pending" and held.attempts == 0 and held.lease_until is not None

    second = start_worker("worker-second", concurrency=10)
    await asyncio.sleep(2)  # several idle rounds of the second worker: the lease still keeps the row from it
    assert box.received == [event_id]
    assert (await _deliveries(sessions))[0].status == "pending"

    # The lease is 60 s (webhooks.service.LEASE). Rather than wait for it, time passes for this row only:
    # its lease_until is moved into the past, exactly what the clock would have done a minute later.
    async with session_scope(sessions, "*") as s:
        await s.execute(text("UPDATE webhook_deliveries SET lease_until = now() - interval '1 second'"))

    async def done() -> bool:
        return (await _deliveries(sessions))[0].status != "pending"

    await _wait_for(done, 20, "the second worker delivering the event again", [second], sessions)
    (delivery,) = await _deliveries(sessions)
    assert box.bad == []
    assert box.received == [event_id, event_id]  # the same webhook-id: the receiver can tell it is a repeat
    assert delivery.status == "succeeded"
    # the killed worker never recorded its attempt: one attempt on record, two requests received
    assert delivery.attempts == 1


async def test_a_name_rebound_to_loopback_after_the_check_gets_nothing(
    sqlite_sessions, inbox, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """DNS rebinding: ``rebind.test`` is public while the subscription is saved, and loopback from then
    on, where a receiver listens. The worker's resolver must refuse the loopback answer; were it handed to
    the connection, the receiver would get the signed request. No answer the worker sees is public, so
    nothing here can leave this machine, with or without the guard."""
    url, engine = sqlite_sessions
    box, loopback = inbox
    port = int(loopback.rsplit(":", 1)[1].split("/")[0])
    saving = True  # the public answer only while the subscription is checked; never to the worker
    lookups: list[str] = []

    async def rebinding_getaddrinfo(host, port_, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host  # aiohttp's resolver may ask with bytes
        if name != "rebind.test":
            raise OSError(f"no DNS in tests: {host}")
        address = "93.184.216.34" if saving else "127.0.0.1"
        lookups.append(address)
        return [(2, 1, 6, "", (address, port_))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", rebinding_getaddrinfo)
    sessions = session_factory(engine)
    box.secret = await _subscribe(sessions, f"http://rebind.test:{port}/hooks", allow_private=False)
    saving = False
    await _emit(sessions, 1, batches=1)
    worker = Worker(engine, Settings(database_url=url, webhooks_allow_private=False), SECRET_KEY.encode())
    try:
        await worker.step()
    finally:
        await worker.close()
    assert lookups[0] == "93.184.216.34", "the subscription was saved after a check of a public answer"
    assert "127.0.0.1" in lookups[1:], f"the worker never looked the name up again (lookups: {lookups})"
    assert box.received == [], f"the signed request reached the loopback receiver (lookups: {lookups})"
    (delivery,) = await _deliveries(sessions)
    assert delivery.status != "succeeded" and delivery.attempts == 1  # the attempt failed and was recorded
