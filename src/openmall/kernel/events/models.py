from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, UTCDateTime, utcnow


class Event(MallOwned, Base):
    """The outbox: one row per thing that happened, written in the transaction that made it happen."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_undispatched", "dispatched_at", "event_no"),)

    event_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)  # msg_…: the webhook-id of every delivery
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # fanned out to webhooks
