from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, UTCDateTime, utcnow
from openmall.kernel.ratelimit import DEFAULT_CAPACITY, DEFAULT_DRAIN


class Mall(Base):
    __tablename__ = "malls"

    mall_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="KRW")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    # the call buckets (kernel/ratelimit.py): capacity in calls, drain in calls per second
    admin_call_capacity: Mapped[int] = mapped_column(Integer, default=DEFAULT_CAPACITY, server_default="40")
    admin_call_drain: Mapped[float] = mapped_column(Float, default=DEFAULT_DRAIN, server_default="1")
    shop_call_capacity: Mapped[int] = mapped_column(Integer, default=DEFAULT_CAPACITY, server_default="40")
    shop_call_drain: Mapped[float] = mapped_column(Float, default=DEFAULT_DRAIN, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
