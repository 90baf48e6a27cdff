"""Helpers of the order-placing tests: an order sheet taken to payment in one call, an Admin API client, and what a
refused call must leave as it was. The members, catalog and coupons come from ``tests/orders/conftest.py``."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from openmall.catalog.models import Variant
from openmall.customers.models import Member, MileageEntry
from openmall.kernel.db import session_scope
from openmall.kernel.events.models import Event
from openmall.orders.models import Claim, Order, OrderOption, OrderSheet, Payment
from openmall.promotions.models import IssuedCoupon
from tests.conftest import host
from tests.orders.conftest import ADMIN, SHEETS, SHOP, OrderShop

PAY = f"{SHOP}/payments"
MY_ORDERS = f"{SHOP}/profile/orders"
ORDERS = f"{ADMIN}/orders"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
NO_FUNDS_CARD = "4000000000009995"
ADDRESS = {"receiver_name": "Jane Kim", "receiver_phone": "010-1234-5678", "zip_code": "04524",
           "address1": "1 Sejong-daero", "address2": "3F"}  # fmt: skip


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def sheet(client: httpx.AsyncClient, items: list[tuple[int, int]], **choices: Any) -> dict:
    """A calculated order sheet of ``items`` (variant_no, quantity) with ``choices`` (default: an address)."""
    made = ok(await client.post(SHEETS, json={"items": [{"variant_no": v, "quantity": q} for v, q in items]}), 201)
    no = made["order_sheet"]["order_sheet_no"]
    body = {"shipping_address": ADDRESS, **choices}
    return ok(await client.post(f"{SHEETS}/{no}/calculate", json=body))["order_sheet"]


async def reserve(client: httpx.AsyncClient, sheet_: dict, pay_type: str = "CARD") -> httpx.Response:
    amount = sheet_["price"]["amount_to_pay"]
    return await client.post(f"{PAY}/reserve", json={"order_sheet_no": sheet_["order_sheet_no"],
                                                      "pay_type": pay_type, "amount": amount})  # fmt: skip


async def pay(client: httpx.AsyncClient, sheet_: dict, card: str = GOOD_CARD, pay_type: str = "CARD",
              **extra: Any) -> httpx.Response:  # fmt: skip
    """Reserve the sheet's amount and confirm: the confirm's response."""
    key = ok(await reserve(client, sheet_, pay_type), 201)["payment"]["payment_key"]
    body = {"payment_key": key, **({"card_number": card} if pay_type == "CARD" else {}), **extra}
    return await client.post(f"{PAY}/confirm", json=body)


async def order(client: httpx.AsyncClient, items: list[tuple[int, int]], **choices: Any) -> dict:
    """A card order of ``items``: the order as the confirm answers it."""
    return ok(await pay(client, await sheet(client, items, **choices)), 201)["order"]


@pytest.fixture
async def admin_client(app, shop: OrderShop):
    """``await admin_client(scopes)``: an Admin API client of the demo mall whose token holds ``scopes``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    clients: list[httpx.AsyncClient] = []

    async def make(scopes: list[str]) -> httpx.AsyncClient:
        headers = await shop.admin_headers(scopes)
        clients.append(httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers))
        return clients[-1]

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def admin(admin_client):
    return await admin_client(["mall.read_order", "mall.write_order"])


@dataclass
class Counts:
    orders: int
    options: int
    claims: int
    payments_approved: int
    sheets_ordered: int
    coupons_used: int
    mileage: dict[int, Decimal]
    ledger: int
    stock: dict[int, int]
    events: dict[str, int]


async def counts(app, mall_id: str = "demo") -> Counts:
    """What a refused payment or claim must leave as it was."""
    async with session_scope(app.state.sessions, mall_id) as s:

        async def n(stmt: Any) -> int:
            return int(await s.scalar(stmt) or 0)

        events = dict((await s.execute(select(Event.type, func.count()).group_by(Event.type))).all())
        return Counts(
            orders=await n(select(func.count()).select_from(Order)),
            options=await n(select(func.count()).select_from(OrderOption)),
            claims=await n(select(func.count()).select_from(Claim)),
            payments_approved=await n(select(func.count()).select_from(Payment).where(Payment.status == "APPROVED")),
            sheets_ordered=await n(select(func.count()).select_from(OrderSheet).where(OrderSheet.status == "ORDERED")),
            coupons_used=await n(select(func.count()).select_from(IssuedCoupon)
                                 .where(IssuedCoupon.used_at.is_not(None))),
            mileage=dict((await s.execute(select(Member.member_no, Member.mileage_balance))).all()),
            ledger=await n(select(func.count()).select_from(MileageEntry)),
            stock=dict((await s.execute(select(Variant.variant_no, Variant.quantity))).all()),
            events={k: v for k, v in events.items() if k.startswith(("order.", "mileage.", "coupon."))},
        )  # fmt: skip


async def events_of(app, type_: str, mall_id: str = "demo") -> list[dict]:
    async with session_scope(app.state.sessions, mall_id) as s:
        rows = await s.scalars(select(Event).where(Event.type == type_).order_by(Event.occurred_at))
        return [e.data for e in rows]
