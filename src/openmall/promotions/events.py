"""What coupons emit (see kernel.events): one event per member's copy, written with the change itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.events import emit, register
from openmall.kernel.timeutil import iso
from openmall.malls import service as malls
from openmall.promotions.models import Coupon, IssuedCoupon

READ_PROMOTION = "mall.read_promotion"

_COPY = {"issued_coupon_no": 501, "coupon_no": 7, "member_no": 42, "name": "White Day 10%", "kind": "PRODUCT"}
COUPON_ISSUED = register(
    "coupon.issued", READ_PROMOTION, "A member got a coupon: issued by the shop (ADMIN) or downloaded (DOWNLOAD)",
    {**_COPY, "issue_type": "DOWNLOAD", "via": "DOWNLOAD", "issued_at": "2026-03-14T10:00:00+09:00"},
)  # fmt: skip
COUPON_USED = register(
    "coupon.used", READ_PROMOTION, "A member's coupon was used by an order",
    {**_COPY, "order_id": "20260314-0000012", "used_at": "2026-03-14T10:05:00+09:00"},
)  # fmt: skip
COUPON_RESTORED = register(
    "coupon.restored", READ_PROMOTION, "A used coupon was given back (its order was cancelled)",
    {**_COPY, "order_id": "20260314-0000012"},
)  # fmt: skip


async def _timezone(session: AsyncSession) -> str:
    return (await malls.get_mall(session, session.info["mall_id"])).timezone


def _copy(issued: IssuedCoupon, coupon: Coupon) -> dict[str, Any]:
    return {"issued_coupon_no": issued.issued_coupon_no, "coupon_no": coupon.coupon_no, "member_no": issued.member_no,
            "name": coupon.name, "kind": coupon.kind}  # fmt: skip


async def issued(session: AsyncSession, coupon: Coupon, copies: list[IssuedCoupon], via: str) -> None:
    tz = await _timezone(session)
    for copy in copies:
        data = {
            **_copy(copy, coupon),
            "issue_type": coupon.issue_type,
            "via": via,
            "issued_at": iso(copy.issued_at, tz),
        }
        await emit(session, COUPON_ISSUED, data)


async def used(session: AsyncSession, copy: IssuedCoupon, coupon: Coupon) -> None:
    tz = await _timezone(session)
    assert copy.used_at is not None
    await emit(session, COUPON_USED, {**_copy(copy, coupon), "order_id": copy.used_order_id,
                                      "used_at": iso(copy.used_at, tz)})  # fmt: skip


async def restored(session: AsyncSession, copy: IssuedCoupon, coupon: Coupon, order_id: str | None) -> None:
    await emit(session, COUPON_RESTORED, {**_copy(copy, coupon), "order_id": order_id})
