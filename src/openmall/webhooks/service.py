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

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel import personal
from openmall.kernel.db import utcnow
from openmall.kernel.errors import InvalidInput
from openmall.kernel.events import REGISTRY
from openmall.kernel.events.models import Event
from openmall.kernel.secrets import seal, unseal
from openmall.models import load_all
from openmall.oauth import scopes as scope_registry
from openmall.oauth.models import App, Install
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


def signing_secrets(key: bytes, subscription: Any, now: datetime) -> list[str]:
    """The secrets that sign now (a Subscription, or a row with its secret columns)."""
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


async def dispatch(session: AsyncSession, limit: int = 1000) -> int:
    """Turn new outbox events into one delivery per matching subscription; returns the events handled."""
    events = (await session.execute(_skip_locked(session, (
        select(Event.event_no, Event.mall_id, Event.type).where(Event.dispatched_at.is_(None))
        .order_by(Event.event_no).limit(limit)
    )))).all()  # fmt: skip
    if not events:
        return 0
    malls = {e.mall_id for e in events}
    subs = (await session.execute(
        select(Subscription.subscription_no, Subscription.mall_id, Subscription.event_types)
        .where(Subscription.mall_id.in_(malls), Subscription.disabled_at.is_(None))
    )).all()  # fmt: skip
    now = utcnow()
    rows = [
        {"mall_id": e.mall_id, "event_no": e.event_no, "subscription_no": sub.subscription_no, "status": "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for e in events for sub in subs if sub.mall_id == e.mall_id and e.type in sub.event_types
    ]  # fmt: skip
    if rows:
        await session.execute(insert(Delivery), rows)
    await session.execute(
        update(Event).where(Event.event_no.in_([e.event_no for e in events])).values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return len(events)


async def claim(session: AsyncSession, limit: int, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` due deliveries for this worker (a lease of LEASE); returns their numbers.
    One statement: the due rows are picked (skipping rows another worker has locked) and leased."""
    now = now or utcnow()
    due = select(Delivery.delivery_no).where(
        Delivery.status == "pending", Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
    ).order_by(Delivery.next_attempt_at).limit(limit)  # fmt: skip
    leased = await session.scalars(
        update(Delivery).where(Delivery.delivery_no.in_(_skip_locked(session, due).scalar_subquery()))
        .values(lease_until=now + LEASE).returning(Delivery.delivery_no)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return sorted(leased)


@dataclass(frozen=True)
class Work:
    """What a worker needs to attempt one delivery, read in one transaction."""

    delivery_no: int
    mall_id: str
    subscription_no: int
    url: str
    webhook_id: str
    body: str
    secrets: list[str]
    attempts: int


async def load_works(session: AsyncSession, key: bytes, delivery_nos: list[int], body_of: Any) -> list[Work]:
    """Everything the claimed deliveries need, in one query of plain columns (no ORM objects to build);
    secrets are unsealed once per subscription and bodies made once per event (and once more, masked, for
    subscribers whose install lacks ``mall.read_personal`` when the event carries personal data:
    ``body_of(row, spec)`` masks what ``spec`` names)."""
    rows = (await session.execute(
        select(Delivery.delivery_no, Delivery.mall_id, Delivery.attempts, Event.event_no, Event.event_id, Event.type,
               Event.occurred_at, Event.data, Subscription.subscription_no, Subscription.url,
               Subscription.secret_sealed, Subscription.previous_secret_sealed, Subscription.previous_until,
               Install.scopes.label("install_scopes"))
        .join(Event, Event.event_no == Delivery.event_no)
        .join(Subscription, Subscription.subscription_no == Delivery.subscription_no)
        .outerjoin(Install, and_(Install.app_no == Subscription.app_no, Install.mall_id == Subscription.mall_id))
        .where(Delivery.delivery_no.in_(delivery_nos))
    )).all()  # fmt: skip
    now = utcnow()
    secrets: dict[int, list[str]] = {}
    bodies: dict[tuple[int, bool], str] = {}
    works = []
    for row in rows:
        if row.subscription_no not in secrets:
            secrets[row.subscription_no] = signing_secrets(key, row, now)
        spec = REGISTRY[row.type].personal if row.type in REGISTRY else None
        masked = spec is not None and personal.SCOPE not in scope_registry.implied(row.install_scopes or ())
        if (row.event_no, masked) not in bodies:
            bodies[(row.event_no, masked)] = await body_of(row, spec if masked else None)
        works.append(Work(row.delivery_no, row.mall_id, row.subscription_no, row.url, row.event_id,
                          bodies[(row.event_no, masked)], secrets[row.subscription_no], row.attempts))  # fmt: skip
    return works


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt came to."""

    started: datetime
    status_code: int | None
    latency_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


def _next_state(work: Work, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The delivery's new columns after this attempt: succeeded, due again later, or failed."""
    attempts = work.attempts + 1
    code = outcome.status_code
    values: dict[str, Any] = {"delivery_no": work.delivery_no, "attempts": attempts, "lease_until": None,
                              "status": "pending", "finished_at": None}  # fmt: skip
    if code is not None and 200 <= code < 300:
        values.update(status="succeeded", finished_at=now)
    elif code == 410 or attempts > len(RETRY_DELAYS):
        values.update(status="failed", finished_at=now)
    else:
        delay = max(RETRY_DELAYS[attempts - 1], outcome.retry_after or 0)
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    return values


async def record(session: AsyncSession, results: list[tuple[Work, Outcome]]) -> list[str]:
    """Log the attempts and move their deliveries on, in one statement each (not one per delivery).

    A ``410 Gone`` also disables the subscription. Returns each delivery's new status.
    """
    if not results:
        return []
    now = utcnow()
    await session.execute(insert(Attempt), [
        {"mall_id": w.mall_id, "delivery_no": w.delivery_no, "started_at": o.started, "status_code": o.status_code,
         "latency_ms": o.latency_ms, "response_excerpt": o.excerpt[:1024], "error": o.error[:500]}
        for w, o in results
    ])  # fmt: skip
    states = [_next_state(w, o, now) for w, o in results]
    finished = [s for s in states if s["status"] != "pending"]
    retried = [s for s in states if s["status"] == "pending"]
    for group in (finished, retried):  # one executemany per shape of row
        if group:
            await session.execute(update(Delivery), group)
    gone = sorted({w.subscription_no for w, o in results if o.status_code == 410})
    if gone:  # the receiver wants no more
        await session.execute(
            update(Subscription).where(Subscription.subscription_no.in_(gone)).values(disabled_at=now)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return [s["status"] for s in states]


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
