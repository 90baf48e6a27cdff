"""The whole path over HTTP, and the orders of the Admin API and the Shop API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from openmall.kernel.db import utcnow
from openmall.kernel.timeutil import to_mall_time
from tests.conftest import STOREFRONT, assert_error, host
from tests.orders.conftest import ADMIN, SHEETS, SHOP, OrderShop
from tests.orders.placing.conftest import ADDRESS, MY_ORDERS, ORDERS, PAY, events_of, ok, order, pay, sheet

SCOPES = ["mall.read_order", "mall.write_order", "mall.write_customer", "mall.read_customer", "mall.write_mileage",
          "mall.read_mileage", "mall.write_promotion", "mall.read_promotion"]  # fmt: skip


async def test_the_whole_path_from_sign_up_to_mileage_earned(app, shop: OrderShop):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    merchant = httpx.AsyncClient(transport=transport, base_url=host("demo"),
                                 headers=await shop.admin_headers(SCOPES))  # fmt: skip
    storefront = httpx.AsyncClient(transport=transport, base_url=host("demo"), headers={"X-Client-Id": STOREFRONT})
    async with merchant, storefront:
        # the merchant: a default member group earning 2 % and taking 5 % off
        ok(await merchant.post(f"{ADMIN}/customers/groups", json={"request": {
            "name": "Silver", "discount_rate": "5", "mileage_rate": "2", "is_default": True}}), 201)  # fmt: skip
        # the shopper signs up and logs in
        jane = {"member_id": "jane", "password": "correct horse 42", "name": "Jane Kim", "email": "jane@example.com"}
        ok(await storefront.post(f"{SHOP}/members", json=jane), 201)
        login = ok(await storefront.post(f"{SHOP}/oauth/token", json={"member_id": "jane",
                                                                       "password": "correct horse 42"}))  # fmt: skip
        member_no = login["member_no"]
        storefront.headers["Authorization"] = f"Bearer {login['access_token']}"
        # the merchant gives mileage and a cart coupon
        ok(await merchant.post(f"{ADMIN}/customers/{member_no}/mileage",
                               json={"request": {"amount": "3000", "reason": "welcome"}}), 201)  # fmt: skip
        ends = (utcnow() + timedelta(days=7)).isoformat()
        coupon = ok(await merchant.post(f"{ADMIN}/coupons", json={"request": {
            "name": "5,000 off", "kind": "CART", "discount_type": "FIXED", "discount_amount": "5000",
            "ends_at": ends}}), 201)["coupon"]  # fmt: skip
        issued = ok(await merchant.post(f"{ADMIN}/coupons/{coupon['coupon_no']}/issue",
                                        json={"request": {"member_nos": [member_no]}}), 201)  # fmt: skip
        issued_no = issued["issue"]["issued"][0]["issued_coupon_no"]
        # cart → order sheet (campaign tracking key) → calculate with the coupon, mileage and an address
        item = ok(await storefront.post(f"{SHOP}/cart", json={"variant_no": shop.jeans_navy_28, "quantity": 2}), 201)
        made = ok(await storefront.post(f"{SHEETS}?trackingKey=fri-talk-77",
                                        json={"cart_item_nos": [item["cart_item"]["cart_item_no"]]}), 201)  # fmt: skip
        no = made["order_sheet"]["order_sheet_no"]
        calc = ok(await storefront.post(f"{SHEETS}/{no}/calculate", json={
            "cart_coupon_no": issued_no, "mileage": "3000", "shipping_address": ADDRESS}))["order_sheet"]  # fmt: skip
        price = calc["price"]
        # 2 × 59,000 = 118,000; 5 % group discount 5,900; coupon 5,000; free shipping; mileage 3,000
        assert (price["product_amount"], price["cart_coupon_discount"], price["shipping_fee"], price["mileage"],
                price["amount_to_pay"]) == ("112100.00", "5000.00", "0.00", "3000.00", "104100.00")  # fmt: skip
        # pay by card
        placed = ok(await pay(storefront, calc), 201)["order"]
        oid = placed["order_id"]
        assert placed["status"] == "PAY_DONE" and placed["tracking_key"] == "fri-talk-77"
        assert placed["coupons"] == [{"issued_coupon_no": issued_no, "kind": "CART", "variant_no": None,
                                      "discount": "5000.00"}]  # fmt: skip
        assert ok(await storefront.get(f"{SHOP}/cart"))["cart"]["cart_items"] == []  # the ordered cart line is gone
        assert await shop.stock(shop.jeans_navy_28) == 1
        # the merchant prepares, ships, delivers
        listed = ok(await merchant.get(ORDERS, params={"status": "PAY_DONE"}))["orders"]
        assert [o["order_id"] for o in listed] == [oid]
        ok(await merchant.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "PRODUCT_PREPARE"}}))
        shipped = ok(await merchant.post(f"{ORDERS}/{oid}/shipments", json={"request": {
            "carrier": "CJ Logistics", "tracking_number": "6301-2345-6789"}}), 201)["order"]  # fmt: skip
        assert shipped["status"] == "DELIVERY_ING"
        assert shipped["shipments"][0]["tracking_number"] == "6301-2345-6789"
        ok(await merchant.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "DELIVERY_DONE"}}))
        # the buyer confirms: 2 % of 104,100 = 2,082 mileage
        confirmed = ok(await storefront.post(f"{MY_ORDERS}/{oid}/confirm"))["order"]
        assert confirmed["status"] == "BUY_CONFIRM" and confirmed["mileage_earned"] == "2082.00"
        ledger = ok(await storefront.get(f"{SHOP}/profile/mileage"))["mileage"]
        assert ledger["balance"] == "2082.00"
        mine = ok(await storefront.get(MY_ORDERS))["orders"]
        assert [(o["order_id"], o["status"]) for o in mine] == [(oid, "BUY_CONFIRM")]
        changes = [(e["previous_status"], e["status"]) for e in await events_of(app, "order.status_changed")]
        assert changes == [("PAY_DONE", "PRODUCT_PREPARE"), ("PRODUCT_PREPARE", "DELIVERY_ING"),
                           ("DELIVERY_ING", "DELIVERY_DONE"), ("DELIVERY_DONE", "BUY_CONFIRM")]  # fmt: skip
        assert_error(await storefront.post(f"{MY_ORDERS}/{oid}/confirm"), 409, "BUY_CONFIRM")


async def test_admin_lists_by_dates_and_statuses_and_counts(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    first = await order(client, [(shop.white_s, 1)])
    second = await order(client, [(shop.white_m, 1)])
    ok(await admin.put(f"{ORDERS}/{second['order_id']}/status", json={"request": {"status": "PRODUCT_PREPARE"}}))
    today = to_mall_time(utcnow(), "Asia/Seoul").date()
    listed = ok(await admin.get(ORDERS, params={"start_date": str(today), "end_date": str(today)}))["orders"]
    assert [o["order_id"] for o in listed] == [second["order_id"], first["order_id"]]  # newest first
    assert ok(await admin.get(f"{ORDERS}/count", params={"status": "PAY_DONE,PRODUCT_PREPARE"}))["count"] == 2
    assert ok(await admin.get(f"{ORDERS}/count", params={"status": "PAY_DONE"}))["count"] == 1
    tomorrow = today + timedelta(days=1)
    assert ok(await admin.get(ORDERS, params={"start_date": str(tomorrow)}))["orders"] == []
    assert ok(await admin.get(ORDERS, params={"limit": 1, "offset": 1}))["orders"][0]["order_id"] == first["order_id"]
    only = ok(await admin.get(f"{ORDERS}/{first['order_id']}", params={"fields": "order_id,status"}))["order"]
    assert only == {"order_id": first["order_id"], "status": "PAY_DONE"}
    assert_error(await admin.get(ORDERS, params={"start_date": "2026-13-01"}), 422, "start_date")
    assert_error(await admin.get(ORDERS, params={"status": "SHIPPED"}), 422, "SHIPPED")
    assert_error(await admin.get(ORDERS, params={"start_date": str(tomorrow), "end_date": str(today)}), 422)
    assert_error(await admin.get(f"{ORDERS}/20000101-0000001"), 404, "20000101-0000001")


async def test_status_changes_go_through_the_state_machine(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    oid = (await order(client, [(shop.white_s, 1)]))["order_id"]
    err = assert_error(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "DELIVERY_DONE"}}),
                       409, "PAY_DONE", "DELIVERY_ING")  # fmt: skip
    assert "PRODUCT_PREPARE" in err["more_info"]["allowed"]
    assert_error(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "CANCEL_DONE"}}), 422, "claim")
    assert_error(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "NOPE"}}), 422, "status")
    ok(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "DELIVERY_PREPARE"}}))
    assert_error(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "PRODUCT_PREPARE"}}), 409)
    assert ok(await admin.get(f"{ORDERS}/{oid}"))["order"]["status"] == "DELIVERY_PREPARE"
    # a read-only token cannot write
    reader = await shop.admin_headers(["mall.read_order"])
    assert_error(await admin.put(f"{ORDERS}/{oid}/status", headers=reader,
                                 json={"request": {"status": "DELIVERY_ING"}}), 403, "mall.write_order")  # fmt: skip
    assert_error(await admin.get(ORDERS, headers={"Authorization": "Bearer nope"}), 401)


async def test_a_member_sees_only_their_own_orders(app, shop: OrderShop, member_client):
    jane, john = await member_client(), await member_client()
    mine = await order(jane, [(shop.white_s, 1)])
    assert_error(await john.get(f"{MY_ORDERS}/{mine['order_id']}"), 404)
    assert_error(await john.post(f"{MY_ORDERS}/{mine['order_id']}/confirm"), 404)
    assert ok(await john.get(MY_ORDERS))["orders"] == []
    got = ok(await jane.get(f"{MY_ORDERS}/{mine['order_id']}"))["order"]
    assert got["order_id"] == mine["order_id"] and got["options"][0]["product_name"] == "White Cotton Tee"
    today = to_mall_time(utcnow(), "Asia/Seoul").date()
    assert len(ok(await jane.get(MY_ORDERS, params={"start_date": str(today)}))["orders"]) == 1
    assert ok(await jane.get(MY_ORDERS, params={"end_date": str(today - timedelta(days=1))}))["orders"] == []
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=host("demo"),
                                  headers={"X-Client-Id": STOREFRONT})  # fmt: skip
    async with anonymous:
        assert_error(await anonymous.get(MY_ORDERS), 401)
        assert_error(await anonymous.post(f"{PAY}/reserve", json={"order_sheet_no": "x", "pay_type": "CARD",
                                                                   "amount": "1"}), 401)  # fmt: skip


async def test_order_ids_count_per_mall_per_day(app, shop: OrderShop, member_client):
    client = await member_client()
    ids = [(await order(client, [(shop.white_s, 1)]))["order_id"] for _ in range(3)]
    day = to_mall_time(utcnow(), "Asia/Seoul").strftime("%Y%m%d")
    assert ids == [f"{day}-0000001", f"{day}-0000002", f"{day}-0000003"]


async def test_nothing_to_pay_is_paid_at_once(app, shop: OrderShop, member_client):
    client = await member_client(mileage="30000")
    s = await sheet(client, [(shop.white_s, 1)], mileage="22800")
    assert s["price"]["amount_to_pay"] == "0.00"
    placed = ok(await pay(client, s, pay_type="BANK_TRANSFER"), 201)["order"]
    assert placed["status"] == "PAY_DONE" and placed["mileage_used"] == "22800.00"
    assert await shop.mileage_of(client.buyer) == Decimal("7200")
