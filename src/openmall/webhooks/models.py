from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, UTCDateTime, utcnow


class Subscription(MallOwned, Base):
    """Where an installed app wants its events, which ones, and the secret that signs them."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (UniqueConstraint("mall_id", "app_no"),)

    subscription_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    app_no: Mapped[int] = mapped_column(IdType, ForeignKey("apps.app_no", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret_sealed: Mapped[str] = mapped_column(String(300))  # whsec_…, sealed under the server key
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(300), nullable=True)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # both sign until then
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # the receiver said 410
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Delivery(MallOwned, Base):
    """One event for one subscription: attempted until it succeeds or the retries run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_no", "subscription_no"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    delivery_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_no: Mapped[int] = mapped_column(IdType, ForeignKey("events.event_no", ondelete="CASCADE"))
    subscription_no: Mapped[int] = mapped_column(
        IdType, ForeignKey("webhook_subscriptions.subscription_no", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, succeeded, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # a worker holds it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Attempt(MallOwned, Base):
    """The delivery log: one row per HTTP attempt."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_mall_started", "mall_id", "started_at"),)

    attempt_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    delivery_no: Mapped[int] = mapped_column(IdType, ForeignKey("webhook_deliveries.delivery_no", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")  # the first 1 KB of the answer
    error: Mapped[str] = mapped_column(String(500), default="")
