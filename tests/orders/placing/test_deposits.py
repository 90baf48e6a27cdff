"""Bank transfers whose deposit never arrived are cancelled after the due date (``orders.deposits``), by the
worker's housekeeping or ``openmall orders expire-deposits``: stock, mileage and coupons come back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from openmall.housekeeping import CHORES
from openmall.kernel import clock
from openmall.kernel.db import session_scope
from openmall.orders import deposits
from openmall.orders.models import Order
from openmall.orders.payments import DEPOSIT_DAYS
from openmall.webhooks.worker import Worker
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import MY_ORDERS, ORDERS, events_of, ok, pay, sheet

PAST_DUE = timedelta(days=DEPOSIT_DAYS, minutes=1)


async def _bank_order(shop: OrderShop, client, **choices) -> dict:
    s = await sheet(client, [(shop.white_s, 2)], **choices)
    return ok(await pay(client, s, pay_type="BANK_TRANSFER"), 201)["order"]


async def test_an_overdue_deposit_cancels_the_order_and_gives_everything_back(app, shop: OrderShop, member_client):
    client = await member_client(mileage="5000")
    coupon = await shop.coupon(client.buyer, "CART", value="2000")
    placed = await _bank_order(shop, client, cart_coupon_no=coupon, mileage="1000")
    assert placed["status"] == "DEPOSIT_WAIT"
    assert await shop.stock(shop.white_s) == 3 and await shop.mileage_of(client.buyer) == Decimal("4000")

    assert await deposits.expire(app.state.sessions) == []  # not due yet
    with clock.travel(timedelta(days=DEPOSIT_DAYS) - timedelta(minutes=1)):
        assert await deposits.expire(app.state.sessions) == []
    with clock.travel(PAST_DUE):
        expired = await deposits.expire(app.state.sessions)
        assert [(e.mall_id, e.order_id) for e in expired] == [("demo", placed["order_id"])]
        assert await deposits.expire(app.state.sessions) == []  # once

    order = ok(await client.get(f"{MY_ORDERS}/{placed['order_id']}"))["order"]
    assert order["status"] == "CANCEL_DONE" and order["refunded_amount"] == "0.00"
    assert await shop.stock(shop.white_s) == 5  # back on sale
    assert await shop.mileage_of(client.buyer) == Decimal("5000")  # the mileage it used
    mine = ok(await client.get("/api/v2/shop/profile/coupons?usable=true"))["coupons"]
    assert [(c["issued_coupon_no"], c["used_at"]) for c in mine] == [(coupon, None)]  # it can be used again
    claims = ok(await client.get(f"{MY_ORDERS}/{placed['order_id']}/claims"))["claims"]
    assert [(c["kind"], c["status"]) for c in claims] == [("CANCEL", "DONE")]
    assert "deposit did not arrive" in claims[0]["reason"]
    changed = await events_of(app, "order.status_changed")
    assert [e["status"] for e in changed if e["order_id"] == placed["order_id"]] == ["CANCEL_REQUEST", "CANCEL_DONE"]


async def test_a_deposit_confirmed_in_time_or_a_card_order_stays(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    paid_by_deposit = await _bank_order(shop, client)
    ok(await admin.post(f"{ORDERS}/{paid_by_deposit['order_id']}/deposit"))
    by_card = ok(await pay(client, await sheet(client, [(shop.white_m, 1)])), 201)["order"]
    with clock.travel(PAST_DUE * 3):
        assert await deposits.expire(app.state.sessions) == []
    for placed in (paid_by_deposit, by_card):
        assert ok(await client.get(f"{MY_ORDERS}/{placed['order_id']}"))["order"]["status"] == "PAY_DONE"


async def test_a_running_worker_does_it_among_its_chores(app, shop: OrderShop, member_client):
    client = await member_client()
    placed = await _bank_order(shop, client)
    worker = Worker(app.state.engine, app.state.settings, app.state.key, concurrency=2, chores=CHORES)

    async def status() -> str:  # read from the database: three days on, the member's token has expired
        async with session_scope(app.state.sessions, "demo") as s:
            return await s.scalar(select(Order.status).where(Order.order_id == placed["order_id"]))

    with clock.travel(PAST_DUE):
        running = asyncio.create_task(worker.run(idle=0.02))
        try:
            for _ in range(250):  # the first round does the housekeeping
                if await status() == "CANCEL_DONE":
                    break
                await asyncio.sleep(0.02)
        finally:
            worker.stop()
            await running
            await worker.close()
    assert await status() == "CANCEL_DONE"


async def test_an_order_that_cannot_be_cancelled_keeps_no_other_waiting(app, shop, member_client, monkeypatch):
    client = await member_client()
    stuck, later = await _bank_order(shop, client), await _bank_order(shop, client)
    monkeypatch.setattr(deposits, "BATCH", 1)  # one order a round: the stuck one would be every round's first
    real = deposits._cancel

    async def failing_first(sessions, mall_id, order_id, cutoff):
        if order_id == stuck["order_id"]:
            raise RuntimeError("a broken order")
        return await real(sessions, mall_id, order_id, cutoff)

    monkeypatch.setattr(deposits, "_cancel", failing_first)
    with clock.travel(PAST_DUE):
        assert [e.order_id for e in await deposits.expire(app.state.sessions)] == [later["order_id"]]
