"""What orders emit (see kernel.events), written in the order's own transaction (the outbox).

``data`` is the order as the Admin API shows it (``GET /api/v2/admin/orders/{order_id}``); ``order.status_changed``
adds ``previous_status``, the claim events add ``claim`` (as ``GET /api/v2/admin/orders/{order_id}/claims`` shows
it). Subscribers need ``mall.read_order``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel import personal
from openmall.kernel.events import emit, emit_many, register

SCOPE = "mall.read_order"

# the buyer's and the receiver's details need mall.read_personal, in Admin answers and in webhooks alike
PERSONAL: personal.Spec = {
    "orderer": {"name": personal.mask_name, "email": personal.mask_email, "mobile": personal.mask_phone},
    "shipping_address": {"receiver_name": personal.mask_name, "receiver_phone": personal.mask_phone,
                         "address2": personal.mask_detail},
    "deposit": {"depositor": personal.mask_name},
}  # fmt: skip

_OPTION = {"order_option_no": 41, "product_no": 12, "variant_no": 31, "product_name": "White Cotton Tee",
           "option_text": "Color: white / Size: M", "quantity": 2, "claimed_quantity": 0, "status": "PAY_DONE",
           "sale_price": "19800.00", "immediate_discount": "0.00", "option_price": "0.00",
           "additional_discount": "0.00", "product_coupon_discount": "0.00", "cart_coupon_share": "0.00",
           "basis_amount": "39600.00", "shipping_group": "default"}  # fmt: skip
EXAMPLE: dict[str, Any] = {
    "order_id": "20261124-0000001", "order_no": 7, "member_no": 3, "order_sheet_no": "202611241530123456",
    "status": "PAY_DONE", "next_statuses": ["PRODUCT_PREPARE", "DELIVERY_PREPARE", "DELIVERY_ING",
                                            "CANCEL_REQUEST", "CANCEL_DONE"],
    "pay_type": "CARD", "tracking_key": "kakao-white-day", "channel_type": "KAKAO",
    "product_amount": "39600.00", "cart_coupon_discount": "0.00", "shipping_fee": "3000.00",
    "shipping_coupon_discount": "0.00", "mileage_used": "1000.00", "pay_amount": "41600.00",
    "refunded_amount": "0.00", "refunded_mileage": "0.00", "mileage_earned": "0.00", "coupons": [],
    "orderer": {"name": "Kim Minji", "email": "minji@example.com", "mobile": "010-1234-5678"},
    "shipping_address": {"receiver_name": "Kim Minji", "receiver_phone": "010-1234-5678", "zip_code": "06236",
                         "address1": "Teheran-ro 152, Gangnam-gu, Seoul", "address2": "12F", "remote": False},
    "deposit": {}, "created_at": "2026-11-24T15:30:12+09:00", "paid_at": "2026-11-24T15:30:12+09:00",
    "confirmed_at": None, "updated_at": "2026-11-24T15:30:12+09:00", "options": [_OPTION], "shipments": [],
}  # fmt: skip
_CLAIM = {"claim_no": 5, "order_id": "20261124-0000001", "kind": "CANCEL", "status": "DONE",
          "items": [{"order_option_no": 41, "quantity": 1, "from_status": "PAY_DONE"}], "reason": "changed my mind",
          "refund_amount": "19800.00", "refund_mileage": "0.00", "restored_coupons": [],
          "created_at": "2026-11-24T16:00:00+09:00", "completed_at": "2026-11-24T16:00:00+09:00"}  # fmt: skip

ORDER_CREATED = register("order.created", SCOPE, "An order was placed (paid by card, or waiting for a deposit)",
                         EXAMPLE, PERSONAL)  # fmt: skip
ORDER_PAID = register("order.paid", SCOPE, "An order was paid: card approved, or the deposit confirmed",
                      EXAMPLE, PERSONAL)  # fmt: skip
ORDER_STATUS_CHANGED = register(
    "order.status_changed", SCOPE, "An order's status changed; data has previous_status",
    {**EXAMPLE, "status": "PRODUCT_PREPARE", "previous_status": "PAY_DONE"}, PERSONAL,
)  # fmt: skip
ORDER_CLAIM_REQUESTED = register(
    "order.claim_requested", SCOPE, "A cancel, return or exchange was requested; data has the claim",
    {**EXAMPLE, "claim": {**_CLAIM, "status": "REQUESTED", "completed_at": None}}, PERSONAL,
)  # fmt: skip
ORDER_CLAIM_COMPLETED = register("order.claim_completed", SCOPE, "A claim was completed (refunded, restocked) or "
                                 "rejected; data has the claim", {**EXAMPLE, "claim": _CLAIM}, PERSONAL)  # fmt: skip


async def emit_order(session: AsyncSession, type: str, data: dict[str, Any]) -> None:
    await emit(session, type, data)


async def emit_orders(session: AsyncSession, types: Sequence[str], data: dict[str, Any],
                      also: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:  # fmt: skip
    """Several events of one order at once (``order.created`` and ``order.paid`` of an order paid as it is placed):
    as ``emit`` each, the same ``data`` rendered once, written in one statement with the events ``also`` (``(type,
    data)``: the stock the order took, ``catalog.stock.order_events``)."""
    await emit_many(session, [*((t, data) for t in types), *also])
