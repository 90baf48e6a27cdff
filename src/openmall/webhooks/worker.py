"""The delivery worker: fan out new events, claim due deliveries, POST them signed, record each attempt.

``openmall worker`` runs this loop in its own process (as many as you like, against PostgreSQL);
``openmall serve`` runs one inside the API process in embedded mode (SQLite). Many deliveries are in
flight at once over one pooled aiohttp client (keep-alive connections per receiver; httpx's pool
managed about a tenth of the rate at 200 connections); every attempt of a delivery carries the same
``webhook-id`` (the event's id) and a fresh ``webhook-timestamp`` and signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from openmall.config import Settings
from openmall.kernel import personal
from openmall.kernel.db import ALL_MALLS, session_factory, session_scope, utcnow
from openmall.kernel.events import payload
from openmall.malls import service as malls
from openmall.malls.service import MallCache
from openmall.webhooks import service
from openmall.webhooks.targets import PinnedResolver, UnsafeTarget, check_without_dns

log = logging.getLogger("openmall.webhooks")
TIMEOUT = 10.0
KEPT = 1024  # of each answer, in the log
USER_AGENT = "openmall-webhooks/1"


def sign(secrets: list[str], webhook_id: str, at: datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per secret (two while a rotation's grace lasts)."""
    return " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)


Chore = Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]


class Worker:
    def __init__(self, engine: AsyncEngine, settings: Settings, key: bytes, *, concurrency: int = 100,
                 chores: Sequence[Chore] = ()):  # fmt: skip
        """``chores``: other domains' periodic work, run with the housekeeping (``openmall.housekeeping``)."""
        self.sessions = session_factory(engine)
        self.chores = tuple(chores)
        self.settings = settings
        self.key = key
        self.concurrency = concurrency
        self.mall_cache = MallCache(60)
        self._client: aiohttp.ClientSession | None = None
        self._stop = asyncio.Event()

    @property
    def client(self) -> aiohttp.ClientSession:
        """Made on first use, inside the running loop. Connections go to the address the resolver checked
        (never to where a name resolves a moment later); no proxies from the environment."""
        if self._client is None:
            connector = aiohttp.TCPConnector(
                limit=self.concurrency, resolver=PinnedResolver(self.settings.webhooks_allow_private),
                ttl_dns_cache=10,
            )  # fmt: skip
            self._client = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT), trust_env=False,
                headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
                skip_auto_headers=("Accept-Encoding",),
            )  # fmt: skip
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, idle: float = 0.1, housekeeping_every: float = 600.0) -> None:
        """Until stopped, keep up to ``concurrency`` deliveries in flight: claim more whenever a quarter of
        the slots are free, record finished attempts as they come (the database work overlaps the HTTP
        work instead of waiting for a whole batch); sleep ``idle`` when there is nothing to do. Every
        ``housekeeping_every`` seconds, drop log entries older than ``OPENMALL_WEBHOOK_LOG_DAYS`` and start
        the chores in a task of their own (deliveries go on meanwhile). On stop, the attempts in flight finish
        and are recorded; chores still running are cancelled (each of their steps is its own transaction)."""
        next_housekeeping = 0.0
        chores: asyncio.Task[None] | None = None
        in_flight: set[asyncio.Task[tuple[service.Work, service.Outcome]]] = set()
        finished: list[tuple[service.Work, service.Outcome]] = []
        while not self._stop.is_set() or in_flight or finished:
            claimed = 0
            try:
                if time.monotonic() >= next_housekeeping:
                    next_housekeeping = time.monotonic() + housekeeping_every
                    await self.housekeeping()
                    if self.chores and (chores is None or chores.done()):  # beside the deliveries, not in their way
                        chores = asyncio.create_task(self.run_chores())
                free = self.concurrency - len(in_flight)
                if not self._stop.is_set() and free >= max(1, self.concurrency // 4):
                    for work in await self._claim(free):
                        in_flight.add(asyncio.create_task(self._attempt_one(work)))
                        claimed += 1
                if finished:
                    batch, finished = finished, []
                    async with session_scope(self.sessions, ALL_MALLS) as session:
                        await service.record(session, batch)
            except Exception:  # noqa: BLE001 — a worker keeps going; unrecorded rows come due after their lease
                log.exception("webhook worker round failed")
            if in_flight:
                done, in_flight = await asyncio.wait(in_flight, timeout=0.05, return_when=asyncio.FIRST_COMPLETED)
                finished.extend(task.result() for task in done)
            elif not claimed and not finished:
                try:
                    await asyncio.wait_for(self._stop.wait(), idle)
                except TimeoutError:
                    pass
        if chores is not None and not chores.done():
            chores.cancel()
            await asyncio.gather(chores, return_exceptions=True)

    async def _claim(self, limit: int) -> list[service.Work]:
        """Fan out new events, lease due deliveries and read what they need: one transaction."""
        async with session_scope(self.sessions, ALL_MALLS) as session:
            await service.dispatch(session)
            numbers = await service.claim(session, limit)
            if not numbers:
                return []
            return await service.load_works(session, self.key, numbers, lambda e, spec: self._body(session, e, spec))

    async def _attempt_one(self, work: service.Work) -> tuple[service.Work, service.Outcome]:
        return work, await self.attempt(work)

    async def housekeeping(self) -> int:
        """Old log entries dropped; how many."""
        async with session_scope(self.sessions, ALL_MALLS) as session:
            return await service.forget_old_attempts(session, self.settings.webhook_log_days)

    async def run_chores(self) -> None:
        """The other domains' chores, one after the other (a failing one is logged; the others still run)."""
        for chore in self.chores:
            try:
                await chore(self.sessions)
            except Exception:  # noqa: BLE001 - tried again at the next round
                log.exception("housekeeping chore %s failed", getattr(chore, "__name__", chore))

    async def step(self) -> int:
        """One round: returns how many events and deliveries it handled.

        Claimed deliveries are loaded in one query, attempted concurrently, and recorded in one
        transaction: three round trips to the database per batch, not per delivery.
        """
        async with session_scope(self.sessions, ALL_MALLS) as session:
            dispatched = await service.dispatch(session)
        async with session_scope(self.sessions, ALL_MALLS) as session:
            numbers = await service.claim(session, self.concurrency)
        if numbers:
            await self.deliver(numbers)
        return dispatched + len(numbers)

    async def _body(self, session: Any, event: Any, spec: Any = None) -> str:
        """The event as sent; with ``spec``, its personal data masked (the subscriber lacks mall.read_personal)."""
        mall = await malls.find_mall(session, event.mall_id, self.mall_cache)
        body = payload(event, mall.timezone if mall else "UTC")
        if spec is not None:
            body["data"] = personal.mask(spec, body["data"])
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    async def deliver(self, delivery_nos: list[int]) -> list[str]:
        async with session_scope(self.sessions, ALL_MALLS) as session:
            works = await service.load_works(session, self.key, delivery_nos,
                                             lambda e, spec: self._body(session, e, spec))
        outcomes = await asyncio.gather(*(self.attempt(w) for w in works))
        async with session_scope(self.sessions, ALL_MALLS) as session:
            return await service.record(session, list(zip(works, outcomes, strict=True)))

    async def attempt(self, work: service.Work) -> service.Outcome:
        """One HTTP attempt; what happened, for ``service.record``."""
        started = utcnow()
        clock = time.perf_counter()
        status_code: int | None = None
        excerpt = error = ""
        retry_after: float | None = None
        try:
            check_without_dns(work.url, self.settings.webhooks_allow_private)  # names: when they resolve
            at = datetime.now(UTC)
            headers = {
                "webhook-id": work.webhook_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": sign(work.secrets, work.webhook_id, at, work.body),
            }
            async with self.client.post(work.url, data=work.body.encode(), headers=headers,
                                        allow_redirects=False) as response:  # fmt: skip
                status_code = response.status
                excerpt = (await _first_bytes(response)).decode("utf-8", "replace")
                if status_code in (429, 503) and response.headers.get("retry-after", "").isdigit():
                    retry_after = float(response.headers["retry-after"])
        except UnsafeTarget as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no answer within {TIMEOUT:g} s"
        except aiohttp.ClientConnectorError as exc:
            error = f"cannot connect: {exc.os_error}"[:500]
        except (aiohttp.ClientError, OSError) as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
        latency = int((time.perf_counter() - clock) * 1000)
        return service.Outcome(started, status_code, latency, excerpt, error, retry_after)


async def _first_bytes(response: aiohttp.ClientResponse, keep: int = KEPT, drain: int = 64 * 1024) -> bytes:
    """The first ``keep`` bytes of the answer; up to ``drain`` more are read so the connection can be
    kept alive (a longer answer closes it instead)."""
    kept = b""
    seen = 0
    while seen < drain and not response.content.at_eof():
        chunk = await response.content.read(drain - seen)
        if not chunk:
            break
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        seen += len(chunk)
    return kept
