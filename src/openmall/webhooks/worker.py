"""The delivery worker: fan out new events, claim due deliveries, POST them signed, record each attempt.

``openmall worker`` runs this loop in its own process (as many as you like, against PostgreSQL);
``openmall serve`` runs one inside the API process in embedded mode (SQLite). Many deliveries are in
flight at once over one pooled HTTP client; every attempt of a delivery carries the same
``webhook-id`` (the event's id) and a fresh ``webhook-timestamp`` and signature.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import Webhook

from openmall.config import Settings
from openmall.kernel.db import ALL_MALLS, session_factory, session_scope, utcnow
from openmall.kernel.events import payload
from openmall.kernel.events.models import Event
from openmall.malls import service as malls
from openmall.malls.service import MallCache
from openmall.webhooks import service
from openmall.webhooks.targets import PinnedTransport, UnsafeTarget, check_target

log = logging.getLogger("openmall.webhooks")
TIMEOUT = 10.0
USER_AGENT = "openmall-webhooks/1"


def sign(secrets: list[str], webhook_id: str, at: datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per secret (two while a rotation's grace lasts)."""
    return " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)


class Worker:
    def __init__(self, engine: AsyncEngine, settings: Settings, key: bytes, *, concurrency: int = 100,
                 transport: httpx.AsyncBaseTransport | None = None):  # fmt: skip
        self.sessions = session_factory(engine)
        self.settings = settings
        self.key = key
        self.concurrency = concurrency
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        # connections go to the address that was checked, never to where a name resolves a moment later
        transport = transport or PinnedTransport(allow_private=settings.webhooks_allow_private, limits=limits)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT, transport=transport, follow_redirects=False, limits=limits,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )  # fmt: skip
        self.mall_cache = MallCache(60)
        self._stop = asyncio.Event()

    async def close(self) -> None:
        await self.client.aclose()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, idle: float = 0.2, housekeeping_every: float = 600.0) -> None:
        """Until stopped: fan out, deliver what is due; sleep ``idle`` when there was nothing to do; every
        ``housekeeping_every`` seconds, drop log entries older than ``OPENMALL_WEBHOOK_LOG_DAYS``."""
        next_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_housekeeping:
                    next_housekeeping = time.monotonic() + housekeeping_every
                    await self.housekeeping()
                busy = await self.step()
            except Exception:  # noqa: BLE001 — a worker keeps going; the row stays due and is retried
                log.exception("webhook worker step failed")
                busy = 0
            if not busy:
                try:
                    await asyncio.wait_for(self._stop.wait(), idle)
                except TimeoutError:
                    pass

    async def housekeeping(self) -> int:
        async with session_scope(self.sessions, ALL_MALLS) as session:
            return await service.forget_old_attempts(session, self.settings.webhook_log_days)

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

    async def _body(self, session: Any, event: Event) -> str:
        mall = await malls.find_mall(session, event.mall_id, self.mall_cache)
        return json.dumps(payload(event, mall.timezone if mall else "UTC"), separators=(",", ":"), ensure_ascii=False)

    async def deliver(self, delivery_nos: list[int]) -> list[str]:
        async with session_scope(self.sessions, ALL_MALLS) as session:
            works = await service.load_works(session, self.key, delivery_nos, lambda e: self._body(session, e))
        outcomes = await asyncio.gather(*(self.attempt(w) for w in works))
        async with session_scope(self.sessions, ALL_MALLS) as session:
            return [
                await service.record(session, work, **outcome) for work, outcome in zip(works, outcomes, strict=True)
            ]

    async def attempt(self, work: service.Work) -> dict[str, Any]:
        """One HTTP attempt; what happened, for ``service.record``."""
        started = utcnow()
        clock = time.perf_counter()
        status_code: int | None = None
        excerpt = error = ""
        retry_after: float | None = None
        try:
            await check_target(work.url, self.settings.webhooks_allow_private)
            at = datetime.now(UTC)
            headers = {
                "webhook-id": work.webhook_id,
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": sign(work.secrets, work.webhook_id, at, work.body),
            }
            response = await self.client.post(work.url, content=work.body.encode(), headers=headers)
            status_code = response.status_code
            excerpt = response.content[:1024].decode("utf-8", "replace")
            if status_code in (429, 503) and response.headers.get("retry-after", "").isdigit():
                retry_after = float(response.headers["retry-after"])
        except UnsafeTarget as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"no answer within {TIMEOUT:g} s"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:500]
        latency = int((time.perf_counter() - clock) * 1000)
        return {"started": started, "status_code": status_code, "latency_ms": latency, "excerpt": excerpt,
                "error": error, "retry_after": retry_after}  # fmt: skip
