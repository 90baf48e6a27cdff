"""Concurrent buyers on PostgreSQL: stock, a coupon and a mileage balance are never spent twice.

These need real concurrency (several connections, row locks), so they run on PostgreSQL only: set
``OPENMALL_TEST_DATABASE_URL`` (a database of your own; it is wiped). SQLite serialises every writer and proves
nothing here.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from openmall.kernel.db import session_scope
from openmall.orders.models import Order
from openmall.promotions.models import IssuedCoupon
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import GOOD_CARD, PAY, ok, reserve, sheet


@pytest.fixture(autouse=True)
def _postgres_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("concurrency is tested on PostgreSQL only (set OPENMALL_TEST_DATABASE_URL); SQLite serialises "
                    "every writer")  # fmt: skip


async def _reserved(client, items, **choices) -> str:
    s = await sheet(client, items, **choices)
    return ok(await reserve(client, s), 201)["payment"]["payment_key"]


async def _confirm(client, key: str):
    return await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD})


async def _orders(app) -> int:
    async with session_scope(app.state.sessions, "demo") as s:
        return int(await s.scalar(select(func.count()).select_from(Order)) or 0)


async def test_fifty_buyers_for_ten_units_make_exactly_ten_orders(app, shop: OrderShop, member_client):
    await shop.set_stock(shop.white_s, 10)
    clients = [await member_client() for _ in range(50)]
    keys = [await _reserved(c, [(shop.white_s, 1)]) for c in clients]
    answers = await asyncio.gather(*(_confirm(c, k) for c, k in zip(clients, keys, strict=True)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 10 and codes.count(409) == 40, codes
    assert all("sold out" in r.json()["error"]["message"].lower() for r in answers if r.status_code == 409), [
        r.json()["error"]["message"] for r in answers if r.status_code == 409
    ]
    assert await shop.stock(shop.white_s) == 0
    assert await _orders(app) == 10
    ids = sorted(r.json()["order"]["order_id"] for r in answers if r.status_code == 201)
    assert len(set(ids)) == 10


async def test_one_coupon_confirmed_twice_at_once_makes_one_order(app, shop: OrderShop, member_client):
    client = await member_client()
    coupon = await shop.coupon(client.buyer, "CART", value="3000")
    keys = [await _reserved(client, [(shop.white_s, 1)], cart_coupon_no=coupon) for _ in range(2)]
    answers = await asyncio.gather(*(_confirm(client, k) for k in keys))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    assert await _orders(app) == 1
    assert await shop.stock(shop.white_s) == 4  # the refused order gave its unit back
    async with session_scope(app.state.sessions, "demo") as s:
        used = await s.execute(select(IssuedCoupon.used_order_id).where(IssuedCoupon.issued_coupon_no == coupon))
        placed = next(r.json()["order"]["order_id"] for r in answers if r.status_code == 201)
        assert used.scalar_one() == placed


async def test_a_mileage_balance_spent_twice_at_once_is_spent_once(app, shop: OrderShop, member_client):
    client = await member_client(mileage="5000")
    keys = [await _reserved(client, [(shop.white_s, 1)], mileage="5000") for _ in range(2)]
    answers = await asyncio.gather(*(_confirm(client, k) for k in keys))
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 201 and codes[1] in (409, 422), [r.text for r in answers]
    assert "mileage" in next(r.text for r in answers if r.status_code != 201)
    assert await shop.mileage_of(client.buyer) == Decimal("0")
    assert await _orders(app) == 1
    assert await shop.stock(shop.white_s) == 4
