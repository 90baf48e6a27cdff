"""Apps see every change of a variant's stock: ``product.inventory_changed`` when an order takes it, when a cancel or
a return gives it back, and when the merchant or an app sets it; written with the change (the outbox)."""

from __future__ import annotations

from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.kernel.events.models import Event
from tests.orders.conftest import ADMIN, OrderShop
from tests.orders.placing.conftest import GOOD_CARD, MY_ORDERS, PAY, events_of, ok, order, reserve, sheet

INVENTORY = "product.inventory_changed"


async def test_an_order_tells_the_stock_it_took_and_a_cancel_the_stock_back(app, shop: OrderShop, member_client):
    client = await member_client()
    placed = await order(client, [(shop.white_s, 2), (shop.jeans_navy_28, 1)])
    oid = placed["order_id"]
    taken = sorted(await events_of(app, INVENTORY), key=lambda e: e["variant_no"])
    assert taken == sorted([
        {"product_no": shop.catalog.white_tee, "variant_no": shop.white_s, "quantity": 3, "change": -2,
         "reason": "ORDER", "order_id": oid},
        {"product_no": shop.catalog.jeans, "variant_no": shop.jeans_navy_28, "quantity": 2, "change": -1,
         "reason": "ORDER", "order_id": oid},
    ], key=lambda e: e["variant_no"])  # fmt: skip
    async with session_scope(app.state.sessions, "demo") as s:  # written with the order's own events, at once
        rows = (await s.execute(select(Event.type, Event.occurred_at).order_by(Event.event_no))).all()
    placing = [r for r in rows if r.type in ("order.created", "order.paid", INVENTORY)]
    assert len(placing) == 4 and len({r.occurred_at for r in placing}) == 1

    tee = next(o for o in placed["options"] if o["variant_no"] == shop.white_s)
    body = {"kind": "CANCEL", "reason": "changed my mind", "items": [{"order_option_no": tee["order_option_no"],
                                                                     "quantity": 1}]}  # fmt: skip
    ok(await client.post(f"{MY_ORDERS}/{oid}/claims", json=body), 201)
    back = (await events_of(app, INVENTORY))[2:]
    assert back == [{"product_no": shop.catalog.white_tee, "variant_no": shop.white_s, "quantity": 4, "change": 1,
                     "reason": "CANCEL", "order_id": oid}]  # fmt: skip


async def test_a_refused_order_tells_nothing(app, shop: OrderShop, member_client):
    client = await member_client()
    made = await sheet(client, [(shop.white_s, 1), (shop.jeans_black_28, 1)])
    key = ok(await reserve(client, made), 201)["payment"]["payment_key"]
    await shop.set_stock(shop.jeans_black_28, 0)  # sold out between the reserve and the confirm
    confirm = await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD})
    assert confirm.status_code == 409
    assert await events_of(app, INVENTORY) == []


async def test_the_merchant_setting_stock_is_told(app, shop: OrderShop, admin_client):
    admin = await admin_client(["mall.read_product", "mall.write_product"])
    path = f"{ADMIN}/products/{shop.catalog.white_tee}/variants/{shop.white_s}/inventories"
    ok(await admin.put(path, json={"request": {"quantity": 9}}))
    ok(await admin.put(path, json={"request": {"adjust": -3}}))
    ok(await admin.put(path, json={"request": {"quantity": 6}}))  # no change: nothing to tell
    assert [(e["quantity"], e["change"], e["reason"]) for e in await events_of(app, INVENTORY)] == [
        (9, 4, "ADJUST"), (6, -3, "ADJUST")]


async def test_an_app_can_subscribe_to_stock_changes(app, shop: OrderShop, admin_client):
    app.state.settings.webhooks_allow_private = True  # a receiver on loopback: nothing leaves the machine
    apps = await admin_client(["mall.read_product", "mall.read_application", "mall.write_application"])
    listed = ok(await apps.get(f"{ADMIN}/webhooks/events"))
    assert INVENTORY in str(listed)
    made = ok(await apps.put(f"{ADMIN}/webhooks/setting", json={"request": {
        "url": "http://127.0.0.1:9/stock", "event_types": [INVENTORY, "product.restocked"]}}))  # fmt: skip
    assert made["webhook"]["event_types"] == [INVENTORY, "product.restocked"]
