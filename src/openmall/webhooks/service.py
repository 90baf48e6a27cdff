"""Webhook subscriptions, the fan-out of outbox events into deliveries, claiming and recording attempts.

Workers run across malls (their sessions are bound to every mall, ``ALL_MALLS``); each step is one
short transaction. Claims take ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that workers never hold
the same row, and a lease: a delivery whose worker died becomes due again when its lease ends.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import utcnow
from openmall.kernel.errors import InvalidInput
from openmall.kernel.events import REGISTRY
from openmall.kernel.events.models import Event
from openmall.kernel.secrets import seal, unseal
from openmall.models import load_all
from openmall.oauth import scopes as scope_registry
from openmall.oauth.models import App
from openmall.webhooks.models import Attempt, Delivery, Subscription
from openmall.webhooks.targets import UnsafeTarget, check_target

load_all()  # every domain's event types, whichever process this is

# after the first attempt fails: retries at 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then failed
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
LEASE = timedelta(seconds=60)  # longer than an attempt's 10 s timeout
SECRET_GRACE = timedelta(hours=24)  # after a rotation, the old secret signs too for this long


def new_webhook_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes (the Standard Webhooks secret format)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# ---- subscriptions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionSecret:
    subscription: Subscription
    secret: str | None  # shown once, when it was made or rotated


async def get_subscription(session: AsyncSession, app_no: int) -> Subscription | None:
    return await session.scalar(select(Subscription).where(Subscription.app_no == app_no))


async def set_subscription(
    session: AsyncSession, key: bytes, app_no: int, granted: frozenset[str], url: str, event_types: list[str],
    allow_private: bool,
) -> SubscriptionSecret:  # fmt: skip
    """Create or change the app's subscription in the session's mall (a new one gets a secret)."""
    unknown = sorted(set(event_types) - set(REGISTRY))
    if unknown:
        raise InvalidInput(f"unknown event types: {', '.join(unknown)}", field="event_types", known=sorted(REGISTRY))
    missing = sorted({REGISTRY[t].scope for t in event_types} - scope_registry.implied(granted))
    if missing:
        raise InvalidInput(f"subscribing needs the scope {', '.join(missing)}", field="event_types", missing=missing)
    try:
        await check_target(url, allow_private)
    except UnsafeTarget as exc:
        raise InvalidInput(str(exc), field="url") from None
    found = await get_subscription(session, app_no)
    secret = None
    if found is None:
        secret = new_webhook_secret()
        found = Subscription(app_no=app_no, url=url, event_types=sorted(set(event_types)),
                             secret_sealed=seal(key, secret))  # fmt: skip
        session.add(found)
    else:
        found.url, found.event_types, found.disabled_at = url, sorted(set(event_types)), None
    await session.flush()
    return SubscriptionSecret(found, secret)


async def rotate_secret(session: AsyncSession, key: bytes, subscription: Subscription) -> str:
    """A new signing secret; the old one keeps signing (second signature) for SECRET_GRACE."""
    secret = new_webhook_secret()
    subscription.previous_secret_sealed = subscription.secret_sealed
    subscription.previous_until = utcnow() + SECRET_GRACE
    subscription.secret_sealed = seal(key, secret)
    await session.flush()
    return secret


def signing_secrets(key: bytes, subscription: Subscription, now: datetime) -> list[str]:
    secrets = [unseal(key, subscription.secret_sealed)]
    if subscription.previous_secret_sealed and subscription.previous_until and subscription.previous_until > now:
        secrets.append(unseal(key, subscription.previous_secret_sealed))
    return secrets


async def remove_subscription(session: AsyncSession, app_no: int) -> None:
    """The app was uninstalled: its subscription and pending deliveries go."""
    found = await get_subscription(session, app_no)
    if found is not None:
        await session.delete(found)
        await session.flush()


# ---- the delivery log, as the subscribing app sees it -------------------------------------------------------

LOG_STATUSES = ("succeeded", "failed", "pending")


@dataclass(frozen=True)
class LogEntry:
    attempt: Attempt
    delivery: Delivery
    event_id: str
    event_type: str


async def list_attempts(
    session: AsyncSession, app_no: int, *, limit: int, offset: int = 0, since_no: int | None = None,
    status: str | None = None,
) -> list[LogEntry]:  # fmt: skip
    """The app's attempts in the session's mall, newest first (or, after ``since_no``, oldest first)."""
    if status is not None and status not in LOG_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(LOG_STATUSES)}", field="status",
                           allowed=list(LOG_STATUSES))  # fmt: skip
    query = (
        select(Attempt, Delivery, Event.event_id, Event.type)
        .join(Delivery, Delivery.delivery_no == Attempt.delivery_no)
        .join(Subscription, Subscription.subscription_no == Delivery.subscription_no)
        .join(Event, Event.event_no == Delivery.event_no)
        .where(Subscription.app_no == app_no)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if since_no is not None:
        query = query.where(Attempt.attempt_no > since_no).order_by(Attempt.attempt_no)
    else:
        query = query.order_by(Attempt.started_at.desc(), Attempt.attempt_no.desc()).offset(offset)
    rows = (await session.execute(query.limit(limit))).all()
    return [LogEntry(attempt, delivery, event_id, event_type) for attempt, delivery, event_id, event_type in rows]


async def redeliver(session: AsyncSession, app_no: int, attempt_no: int) -> Delivery | None:
    """Make the attempt's delivery due now again (a new attempt, same webhook-id); None: not the app's."""
    delivery = await session.scalar(
        select(Delivery)
        .join(Attempt, Attempt.delivery_no == Delivery.delivery_no)
        .join(Subscription, Subscription.subscription_no == Delivery.subscription_no)
        .where(Attempt.attempt_no == attempt_no, Subscription.app_no == app_no)
    )  # fmt: skip
    if delivery is None:
        return None
    delivery.status, delivery.next_attempt_at = "pending", utcnow()
    delivery.lease_until = delivery.finished_at = None
    await session.flush()
    return delivery


# ---- fan-out and claims (workers: sessions bound to ALL_MALLS) ---------------------------------------------


def _skip_locked(session: AsyncSession, statement: Any) -> Any:
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        return statement.with_for_update(skip_locked=True)
    return statement  # SQLite: one writer at a time anyway


async def dispatch(session: AsyncSession, limit: int = 500) -> int:
    """Turn new outbox events into one delivery per matching subscription; returns the events handled."""
    events = list(await session.scalars(
        _skip_locked(session, select(Event).where(Event.dispatched_at.is_(None)).order_by(Event.event_no).limit(limit))
    ))  # fmt: skip
    if not events:
        return 0
    malls = {e.mall_id for e in events}
    subs = list(await session.scalars(
        select(Subscription).where(Subscription.mall_id.in_(malls), Subscription.disabled_at.is_(None))
    ))  # fmt: skip
    now = utcnow()
    for event in events:
        for sub in subs:
            if sub.mall_id == event.mall_id and event.type in sub.event_types:
                session.add(Delivery(mall_id=event.mall_id, event_no=event.event_no,
                                     subscription_no=sub.subscription_no, next_attempt_at=now))  # fmt: skip
        event.dispatched_at = now
    await session.flush()
    return len(events)


async def claim(session: AsyncSession, limit: int, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker (a lease of LEASE); returns their numbers."""
    now = now or utcnow()
    due = select(Delivery.delivery_no).where(
        Delivery.status == "pending", Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
    ).order_by(Delivery.next_attempt_at).limit(limit)  # fmt: skip
    numbers = list(await session.scalars(_skip_locked(session, due)))
    if numbers:
        await session.execute(
            update(Delivery).where(Delivery.delivery_no.in_(numbers)).values(lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return numbers


@dataclass(frozen=True)
class Work:
    """What a worker needs to attempt one delivery, read in one transaction."""

    delivery_no: int
    mall_id: str
    url: str
    webhook_id: str
    body: str
    secrets: list[str]
    attempts: int


async def load_works(session: AsyncSession, key: bytes, delivery_nos: list[int], body_of: Any) -> list[Work]:
    """Everything the claimed deliveries need, in one query (secrets unsealed once per subscription)."""
    rows = (await session.execute(
        select(Delivery, Event, Subscription)
        .join(Event, Event.event_no == Delivery.event_no)
        .join(Subscription, Subscription.subscription_no == Delivery.subscription_no)
        .where(Delivery.delivery_no.in_(delivery_nos))
    )).all()  # fmt: skip
    now = utcnow()
    secrets: dict[int, list[str]] = {}
    works = []
    for delivery, event, sub in rows:
        if sub.subscription_no not in secrets:
            secrets[sub.subscription_no] = signing_secrets(key, sub, now)
        works.append(Work(delivery.delivery_no, delivery.mall_id, sub.url, event.event_id, await body_of(event),
                          secrets[sub.subscription_no], delivery.attempts))  # fmt: skip
    return works


async def record(
    session: AsyncSession, work: Work, *, started: datetime, status_code: int | None, latency_ms: int,
    excerpt: str, error: str, retry_after: float | None = None,
) -> str:  # fmt: skip
    """Log the attempt and move the delivery on: succeeded, due again later, or failed. Returns the status."""
    session.add(Attempt(mall_id=work.mall_id, delivery_no=work.delivery_no, started_at=started,
                        status_code=status_code, latency_ms=latency_ms, response_excerpt=excerpt[:1024],
                        error=error[:500]))  # fmt: skip
    attempts = work.attempts + 1
    now = utcnow()
    values: dict[str, Any] = {"attempts": attempts, "lease_until": None}
    if status_code is not None and 200 <= status_code < 300:
        values.update(status="succeeded", finished_at=now)
    elif status_code == 410 or attempts > len(RETRY_DELAYS):
        values.update(status="failed", finished_at=now)
        if status_code == 410:  # Gone: the receiver wants no more
            delivery = await session.get(Delivery, work.delivery_no)
            await session.execute(
                update(Subscription).where(Subscription.subscription_no == delivery.subscription_no)
                .values(disabled_at=now).execution_options(synchronize_session=False)
            )  # fmt: skip
    else:
        delay = max(RETRY_DELAYS[attempts - 1], retry_after or 0)
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    await session.execute(
        update(Delivery).where(Delivery.delivery_no == work.delivery_no).values(**values)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return values.get("status", "pending")


async def forget_old_attempts(session: AsyncSession, days: int, limit: int = 5000) -> int:
    """Delete logged attempts older than ``days`` (in slices, so that no run holds locks for long)."""
    cutoff = utcnow() - timedelta(days=days)
    old = list(await session.scalars(
        select(Attempt.attempt_no).where(Attempt.started_at < cutoff).order_by(Attempt.attempt_no).limit(limit)
    ))  # fmt: skip
    if old:
        await session.execute(
            delete(Attempt).where(Attempt.attempt_no.in_(old)).execution_options(synchronize_session=False)
        )
    return len(old)


async def app_of(session: AsyncSession, app_no: int) -> App | None:
    return await session.get(App, app_no)
