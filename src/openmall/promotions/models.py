"""Coupons: what they take off and where they apply, and the copies issued to members."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, MoneyType, UTCDateTime, utcnow


class Coupon(MallOwned, Base):
    """A coupon: a product, cart or shipping discount, fixed or percent with a cap."""

    __tablename__ = "coupons"

    coupon_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # PRODUCT, CART, SHIPPING
    discount_type: Mapped[str] = mapped_column(String(16))  # FIXED, PERCENT
    discount_amount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # FIXED
    discount_rate: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # PERCENT
    max_discount: Mapped[Decimal | None] = mapped_column(MoneyType(), nullable=True)  # PERCENT's cap
    min_order_amount: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))
    target_product_nos: Mapped[list[int]] = mapped_column(JSON, default=list)  # empty: every product
    target_category_nos: Mapped[list[int]] = mapped_column(JSON, default=list)
    target_option_values: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"name","value"}]
    issue_type: Mapped[str] = mapped_column(String(16), default="ISSUED")  # ISSUED (by the shop), DOWNLOAD
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_issue_count: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: unlimited
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")  # ACTIVE, STOPPED
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class IssuedCoupon(MallOwned, Base):
    """A member's copy of a coupon: at most one per member, used at most once."""

    __tablename__ = "issued_coupons"
    __table_args__ = (
        UniqueConstraint("coupon_no", "member_no"),
        Index("ix_issued_coupons_mall_member", "mall_id", "member_no"),
    )

    issued_coupon_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    coupon_no: Mapped[int] = mapped_column(IdType, ForeignKey("coupons.coupon_no", ondelete="CASCADE"))
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_order_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
