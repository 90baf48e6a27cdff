"""Events: the transactional outbox.

``emit(session, type, data)`` adds the event to the caller's unit of work: it is committed with the
change it describes, or rolled back with it; nothing is sent from inside a request. Webhook workers
(``openmall.webhooks``) read the outbox afterwards and deliver each event to its subscribers.

Every event type is registered once with the scope a subscriber needs (the read scope of its
group) and an example of its ``data``; a domain adds its own in its ``events.py``::

    PRODUCT_CREATED = register("product.created", "mall.read_product", {"product_no": 12, ...})
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import utcnow
from openmall.kernel.events.models import Event
from openmall.kernel.fastsql import Statement
from openmall.kernel.timeutil import iso


@dataclass(frozen=True)
class EventType:
    name: str
    scope: str  # what an app must hold to subscribe
    description: str
    example: dict[str, Any]
    personal: Any = None  # which fields of ``data`` are personal data (a ``kernel.personal`` spec), if any


REGISTRY: dict[str, EventType] = {}


def register(name: str, scope: str, description: str, example: dict[str, Any], personal: Any = None) -> str:
    """``personal``: the fields of ``data`` that are personal data (a ``kernel.personal`` spec); a subscriber whose
    install lacks ``mall.read_personal`` gets them masked."""
    if name in REGISTRY and REGISTRY[name].scope != scope:
        raise ValueError(f"event type {name} is registered twice with different scopes")
    REGISTRY[name] = EventType(name, scope, description, example, personal)
    return name


async def emit(session: AsyncSession, type: str, data: dict[str, Any]) -> Event:
    """Record that ``type`` happened in the session's mall, in the session's transaction."""
    if type not in REGISTRY:
        raise ValueError(f"unknown event type {type!r}; register it first")
    event = Event(event_id=f"msg_{uuid.uuid4().hex}", type=type, occurred_at=utcnow(), data=data)
    session.add(event)
    await session.flush()
    return event


_INSERT = Statement(insert(Event))


async def emit_all(session: AsyncSession, types: Sequence[str], data: dict[str, Any]) -> None:
    """Several events about one thing at once (an order created and paid), with the same ``data``, in one
    statement: as ``emit`` each, in the session's transaction (a rollback takes them too)."""
    await emit_many(session, [(t, data) for t in types])


async def emit_many(session: AsyncSession, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Several events, each ``(type, data)``, in one statement: as ``emit`` each, in the session's transaction."""
    unknown = [t for t, _ in events if t not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; register it first")
    now = utcnow()
    await _INSERT.insert_many(session, [{"event_id": f"msg_{uuid.uuid4().hex}", "type": t, "occurred_at": now,
                                         "data": data, "dispatched_at": None} for t, data in events])  # fmt: skip


def payload(event: Event, timezone: str) -> dict[str, Any]:
    """What a subscriber receives: ``{id, type, mall_id, occurred_at, data}``."""
    return {
        "id": event.event_id,
        "type": event.type,
        "mall_id": event.mall_id,
        "occurred_at": iso(event.occurred_at, timezone),
        "data": event.data,
    }
