"""Claims: cancel before shipping, return after delivery, exchange; partial quantities; refunds by the pricing
function; stock, coupons and mileage back by the rules."""

from __future__ import annotations

from decimal import Decimal

from openmall.orders import gateways
from tests.conftest import assert_error
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import MY_ORDERS, ORDERS, counts, events_of, ok, order, pay, sheet

CLAIMS = "/api/v2/admin/claims"


def option_of(o: dict, variant_no: int) -> dict:
    return next(x for x in o["options"] if x["variant_no"] == variant_no)


async def claim(client, oid: str, kind: str, items: list[tuple[int, int]], reason: str = "changed my mind"):
    return await client.post(f"{MY_ORDERS}/{oid}/claims", json={
        "kind": kind, "reason": reason,
        "items": [{"order_option_no": no, "quantity": q} for no, q in items]})  # fmt: skip


async def delivered(admin, oid: str) -> None:
    ok(await admin.post(f"{ORDERS}/{oid}/shipments", json={"request": {"carrier": "CJ", "tracking_number": "1"}}), 201)
    ok(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "DELIVERY_DONE"}}))


async def test_a_partial_cancel_refunds_its_share_and_the_rest_refunds_everything(app, shop: OrderShop, member_client,
                                                                                  admin):  # fmt: skip
    client = await member_client(mileage="1000")
    coupon = await shop.coupon(client.buyer, "CART", value="3000")
    placed = await order(client, [(shop.white_s, 2), (shop.jeans_navy_28, 1)], cart_coupon_no=coupon, mileage="1000")
    # 2 × 19,800 + 59,000 = 98,600 (free shipping); the cart coupon's 3,000 splits 1,204 / 1,796; mileage 1,000
    assert placed["pay_amount"] == "94600.00"
    tee, jeans = option_of(placed, shop.white_s), option_of(placed, shop.jeans_navy_28)
    assert (tee["cart_coupon_share"], jeans["cart_coupon_share"]) == ("1204.00", "1796.00")
    oid = placed["order_id"]
    refunded_before = dict(gateways.gateway().refunded)  # type: ignore[attr-defined]

    one = ok(await claim(client, oid, "CANCEL", [(tee["order_option_no"], 1)]), 201)
    # (39,600 − 1,204) × 1/2 = 19,198, in cash; shipping stays (the group is not all cancelled)
    assert (one["claim"]["status"], one["claim"]["refund_amount"], one["claim"]["refund_mileage"]) == (
        "DONE",
        "19198.00",
        "0.00",
    )
    after = one["order"]
    assert after["status"] == "PAY_DONE" and after["refunded_amount"] == "19198.00"
    assert option_of(after, shop.white_s)["claimed_quantity"] == 1
    assert option_of(after, shop.white_s)["status"] == "PAY_DONE"
    assert await shop.stock(shop.white_s) == 4  # 5 − 2 + 1
    assert await shop.mileage_of(client.buyer) == Decimal("0")  # cash first: no mileage back yet
    refunds = gateways.gateway().refunded  # type: ignore[attr-defined]
    assert sum(refunds.values()) - sum(refunded_before.values()) == Decimal("19198")

    rest = ok(await claim(client, oid, "CANCEL", [(tee["order_option_no"], 1), (jeans["order_option_no"], 1)]), 201)
    # everything cancelled: the whole 94,600 in cash (75,402 now) and the 1,000 mileage; the coupon comes back
    assert (rest["claim"]["refund_amount"], rest["claim"]["refund_mileage"]) == ("75402.00", "1000.00")
    assert rest["claim"]["restored_coupons"] == [coupon]
    done = rest["order"]
    assert done["status"] == "CANCEL_DONE" and done["refunded_amount"] == "94600.00"
    assert done["refunded_mileage"] == "1000.00"
    assert {o["status"] for o in done["options"]} == {"CANCEL_DONE"}
    assert await shop.stock(shop.white_s) == 5 and await shop.stock(shop.jeans_navy_28) == 3
    assert await shop.mileage_of(client.buyer) == Decimal("1000")
    # the coupon can be used again
    again = await sheet(client, [(shop.white_s, 1)], cart_coupon_no=coupon)
    assert again["price"]["cart_coupon_discount"] == "3000.00"
    listed = ok(await admin.get(f"{ORDERS}/{oid}/claims"))["claims"]
    assert [(c["kind"], c["status"]) for c in listed] == [("CANCEL", "DONE"), ("CANCEL", "DONE")]
    kinds = [e["claim"]["claim_no"] for e in await events_of(app, "order.claim_completed")]
    assert kinds == [c["claim_no"] for c in listed]
    assert [e["status"] for e in await events_of(app, "order.status_changed")][-1] == "CANCEL_DONE"


async def test_a_cancel_in_preparation_waits_for_the_merchant(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    placed = await order(client, [(shop.white_s, 2)])
    oid, option = placed["order_id"], placed["options"][0]["order_option_no"]
    ok(await admin.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "PRODUCT_PREPARE"}}))
    asked = ok(await claim(client, oid, "CANCEL", [(option, 2)]), 201)
    assert asked["claim"]["status"] == "REQUESTED" and asked["order"]["status"] == "CANCEL_REQUEST"
    assert await shop.stock(shop.white_s) == 3
    assert [e["claim"]["status"] for e in await events_of(app, "order.claim_requested")] == ["REQUESTED"]
    # no shipping while a cancel is open
    parcel = {"request": {"carrier": "CJ", "tracking_number": "9"}}
    assert_error(await admin.post(f"{ORDERS}/{oid}/shipments", json=parcel), 409)
    no = asked["claim"]["claim_no"]
    rejected = ok(await admin.post(f"{CLAIMS}/{no}/reject", json={"request": {"reason": "already packed"}}))
    assert rejected["claim"]["status"] == "REJECTED" and rejected["order"]["status"] == "PRODUCT_PREPARE"
    assert_error(await admin.post(f"{CLAIMS}/{no}/complete"), 409, "REJECTED")
    again = ok(await claim(client, oid, "CANCEL", [(option, 2)]), 201)["claim"]["claim_no"]
    completed = ok(await admin.post(f"{CLAIMS}/{again}/complete"))
    assert completed["order"]["status"] == "CANCEL_DONE" and completed["claim"]["refund_amount"] == "42600.00"
    assert await shop.stock(shop.white_s) == 5


async def test_a_return_after_delivery_and_an_exchange(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    placed = await order(client, [(shop.white_s, 1), (shop.white_m, 3)])
    oid = placed["order_id"]
    s_opt, m_opt = (
        option_of(placed, shop.white_s)["order_option_no"],
        option_of(placed, shop.white_m)["order_option_no"],
    )
    assert_error(await claim(client, oid, "RETURN", [(s_opt, 1)]), 409, "PAY_DONE")  # not delivered yet
    await delivered(admin, oid)
    assert_error(await claim(client, oid, "CANCEL", [(s_opt, 1)]), 409, "DELIVERY_DONE")  # shipped: return it
    exchange = ok(await claim(client, oid, "EXCHANGE", [(s_opt, 1)], "wrong size"), 201)
    assert option_of(exchange["order"], shop.white_s)["status"] == "EXCHANGE_REQUEST"
    ret = ok(await claim(client, oid, "RETURN", [(m_opt, 2)]), 201)
    assert ret["claim"]["status"] == "REQUESTED"
    assert_error(await claim(client, oid, "RETURN", [(m_opt, 2)]), 422, "from 1 to 1")  # only one unit is left
    assert_error(await client.post(f"{MY_ORDERS}/{oid}/confirm"), 409, "open exchange request")
    ok(await admin.post(f"{CLAIMS}/{exchange['claim']['claim_no']}/complete"))
    returned = ok(await admin.post(f"{CLAIMS}/{ret['claim']['claim_no']}/complete"))
    assert returned["claim"]["refund_amount"] == "39600.00"  # 2 × 19,800; shipping (80,000 ≥ free) was 0
    assert await shop.stock(shop.white_m) == 4  # 5 − 3 + 2
    assert await shop.stock(shop.white_s) == 4  # an exchange swaps the same variant: stock unchanged
    statuses = {o["variant_no"]: (o["status"], o["claimed_quantity"]) for o in returned["order"]["options"]}
    assert statuses == {shop.white_s: ("EXCHANGE_DONE", 0), shop.white_m: ("DELIVERY_DONE", 2)}
    confirmed = ok(await client.post(f"{MY_ORDERS}/{oid}/confirm"))["order"]
    assert {o["status"] for o in confirmed["options"]} == {"BUY_CONFIRM"}


async def test_refused_claims_change_nothing(app, shop: OrderShop, member_client, admin):
    client, other = await member_client(), await member_client()
    placed = await order(client, [(shop.white_s, 2)])
    oid, option = placed["order_id"], placed["options"][0]["order_option_no"]
    before = await counts(app)
    assert_error(await claim(other, oid, "CANCEL", [(option, 1)]), 404)
    assert_error(await claim(client, oid, "CANCEL", [(option, 3)]), 422, "from 1 to 2")
    assert_error(await claim(client, oid, "CANCEL", [(option, 0)]), 422)
    assert_error(await claim(client, oid, "CANCEL", [(option, 1), (option, 1)]), 422, "once")
    assert_error(await claim(client, oid, "CANCEL", [(option + 999, 1)]), 404)
    assert_error(await claim(client, oid, "REFUND", [(option, 1)]), 422, "kind")
    assert await counts(app) == before


async def test_an_unpaid_bank_transfer_is_cancelled_whole_and_gives_its_mileage_back(app, shop: OrderShop,
                                                                                   member_client):  # fmt: skip
    client = await member_client(mileage="5000")
    placed = ok(await pay(client, await sheet(client, [(shop.white_s, 2)], mileage="2000"),
                          pay_type="BANK_TRANSFER"), 201)["order"]  # fmt: skip
    oid, option = placed["order_id"], placed["options"][0]["order_option_no"]
    assert placed["status"] == "DEPOSIT_WAIT" and await shop.mileage_of(client.buyer) == Decimal("3000")
    assert_error(await claim(client, oid, "CANCEL", [(option, 1)]), 422, "whole")
    done = ok(await claim(client, oid, "CANCEL", [(option, 2)]), 201)
    assert done["claim"]["status"] == "DONE"
    assert (done["claim"]["refund_amount"], done["claim"]["refund_mileage"]) == ("0.00", "2000.00")
    assert done["order"]["status"] == "CANCEL_DONE"
    assert await shop.mileage_of(client.buyer) == Decimal("5000")
    assert await shop.stock(shop.white_s) == 5


async def test_stock_back_from_zero_tells_the_restock(app, shop: OrderShop, member_client):
    client = await member_client()
    placed = await order(client, [(shop.jeans_black_28, 1)])  # the last one
    assert await shop.stock(shop.jeans_black_28) == 0
    ok(await claim(client, placed["order_id"], "CANCEL", [(placed["options"][0]["order_option_no"], 1)]), 201)
    restocked = await events_of(app, "product.restocked")
    assert [e["product_no"] for e in restocked] == [shop.catalog.jeans]
