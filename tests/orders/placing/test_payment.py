"""Paying an order sheet: reserve the amount the buyer saw, then confirm; what is refused changes nothing."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from openmall.catalog import stock
from openmall.catalog.models import Variant
from openmall.orders import gateways
from tests.conftest import assert_error
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import (
    DECLINED_CARD,
    NO_FUNDS_CARD,
    ORDERS,
    PAY,
    counts,
    events_of,
    ok,
    order,
    pay,
    reserve,
    sheet,
)


async def test_a_card_payment_places_a_paid_order_with_the_sheets_tracking_key(app, shop: OrderShop, member_client):
    client = await member_client(mileage="2000")
    made = await client.post(
        "/api/v2/shop/order-sheets?trackingKey=kakao-white-day",
        json={"items": [{"variant_no": shop.white_s, "quantity": 2}], "channel_type": "KAKAO"},
    )
    no = ok(made, 201)["order_sheet"]["order_sheet_no"]
    from tests.orders.placing.conftest import ADDRESS

    calc = ok(
        await client.post(
            f"/api/v2/shop/order-sheets/{no}/calculate", json={"shipping_address": ADDRESS, "mileage": "1000"}
        )
    )["order_sheet"]
    assert calc["price"]["amount_to_pay"] == "41600.00"  # 2 × 19,800 + 3,000 shipping − 1,000 mileage
    placed = ok(await pay(client, calc), 201)["order"]
    assert placed["status"] == "PAY_DONE" and placed["pay_type"] == "CARD"
    assert placed["order_id"][8] == "-" and placed["order_id"].endswith("-0000001")
    assert placed["tracking_key"] == "kakao-white-day" and placed["channel_type"] == "KAKAO"
    assert placed["pay_amount"] == "41600.00" and placed["mileage_used"] == "1000.00"
    assert [(o["variant_no"], o["quantity"], o["status"]) for o in placed["options"]] == [(shop.white_s, 2, "PAY_DONE")]
    assert await shop.stock(shop.white_s) == 3
    assert await shop.mileage_of(client.buyer) == Decimal("1000")
    assert (await shop.sheet_row(no))["status"] == "ORDERED"
    created, paid = await events_of(app, "order.created"), await events_of(app, "order.paid")
    assert [e["order_id"] for e in created] == [placed["order_id"]] == [e["order_id"] for e in paid]
    assert created[0]["tracking_key"] == "kakao-white-day"
    # the next order of the day takes the next number
    second = await order(client, [(shop.white_m, 1)])
    assert second["order_id"] == placed["order_id"][:9] + "0000002"


async def test_a_declined_card_is_a_402_and_changes_nothing(app, shop: OrderShop, member_client):
    client = await member_client(mileage="5000")
    coupon = await shop.coupon(client.buyer, "CART", value="2000")
    s = await sheet(client, [(shop.white_s, 1)], cart_coupon_no=coupon, mileage="1000")
    before = await counts(app)
    for card, code in ((DECLINED_CARD, "card_declined"), (NO_FUNDS_CARD, "insufficient_funds"),
                       ("4242424242424241", "incorrect_number")):  # fmt: skip
        err = assert_error(await pay(client, s, card), 402, code, "nothing was ordered")
        assert err["more_info"]["decline_code"] == code
    assert await counts(app) == before
    # the buyer tries another card: it works
    placed = ok(await pay(client, s), 201)["order"]
    assert placed["cart_coupon_discount"] == "2000.00" and placed["coupons"][0]["issued_coupon_no"] == coupon


async def test_paying_a_paid_sheet_is_a_409(app, shop: OrderShop, member_client):
    client = await member_client()
    s = await sheet(client, [(shop.white_s, 1)])
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    ok(await pay(client, s), 201)
    before = await counts(app)
    assert_error(await reserve(client, s), 409, "paid already")
    assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": "4242424242424242"}),
                 409, "paid already")  # fmt: skip
    assert await counts(app) == before


async def test_an_amount_that_no_longer_matches_is_refused_and_says_the_new_one(app, shop: OrderShop, member_client):
    client = await member_client()
    s = await sheet(client, [(shop.white_s, 1)])
    seen = s["price"]["amount_to_pay"]
    wrong = await client.post(f"{PAY}/reserve", json={"order_sheet_no": s["order_sheet_no"], "pay_type": "CARD",
                                                      "amount": "1000"})  # fmt: skip
    err = assert_error(wrong, 409, f"now {seen}")
    assert err["more_info"]["amount_to_pay"] == seen
    # the price changes between reserve and confirm: confirm refuses too
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    await shop.set_product(shop.catalog.white_tee, price=Decimal("21000"))
    before = await counts(app)
    confirm = {"payment_key": key, "card_number": "4242424242424242"}
    assert_error(await client.post(f"{PAY}/confirm", json=confirm), 409, "24000.00")
    assert await counts(app) == before


async def test_sold_out_between_sheet_and_payment_takes_nothing(app, shop: OrderShop, member_client):
    client = await member_client(mileage="3000")
    s = await sheet(client, [(shop.white_s, 2), (shop.jeans_black_28, 1)], mileage="500")
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    await shop.set_stock(shop.jeans_black_28, 0)
    before = await counts(app)
    err = assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key,
                                                                  "card_number": "4242424242424242"}),
                       409, "cannot be ordered now", "Straight Jeans", "sold out")  # fmt: skip
    assert err["more_info"] == {"order_sheet_no": s["order_sheet_no"],
                                "reasons": ["Straight Jeans (Color: black / Waist: 28): sold out"]}  # fmt: skip
    assert await counts(app) == before
    assert await shop.stock(shop.jeans_black_28) == 0 and await shop.stock(shop.white_s) == 5  # nothing taken


async def test_the_last_unit_sold_between_the_check_and_the_take_is_refused_as_sold_out(
    app, shop: OrderShop, member_client, monkeypatch
) -> None:  # fmt: skip
    """The confirmation's check sees stock; another order takes the last unit before this one's take. The stock
    guard (``catalog.stock``: one conditional UPDATE) refuses with its own sold-out answer naming the variant — not
    the database CHECK's generic conflict — and gives back what it took of the other lines."""
    client = await member_client(mileage="3000")
    s = await sheet(client, [(shop.white_s, 2), (shop.jeans_black_28, 1)], mileage="500")
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    take_all = stock.take_all

    async def after_another_order(session, wanted):  # the other order's take, committed just before this one's
        await session.execute(update(Variant).where(Variant.variant_no == shop.jeans_black_28).values(quantity=0))
        await take_all(session, wanted)

    monkeypatch.setattr(stock, "take_all", after_another_order)
    before = await counts(app)
    err = assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key,
                                                                  "card_number": "4242424242424242"}),
                       409, "Sold out", f"variant {shop.jeans_black_28}", "nothing was ordered")  # fmt: skip
    assert err["more_info"] == {"variant_no": shop.jeans_black_28, "quantity": 0, "asked": 1}
    assert await counts(app) == before
    assert await shop.stock(shop.white_s) == 5 and await shop.stock(shop.jeans_black_28) == 1  # all rolled back
    monkeypatch.setattr(stock, "take_all", take_all)
    assert ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": "4242424242424242"}),
              201)["order"]["status"] == "PAY_DONE"  # fmt: skip


async def test_a_bank_transfer_waits_for_its_deposit(app, shop: OrderShop, member_client, admin):
    client = await member_client()
    s = await sheet(client, [(shop.white_s, 1)])
    placed = ok(await pay(client, s, pay_type="BANK_TRANSFER", depositor_name="Jane K"), 201)["order"]
    assert placed["status"] == "DEPOSIT_WAIT" and placed["paid_at"] is None
    assert placed["deposit"]["depositor"] == "Jane K" and placed["deposit"]["amount"] == "22800.00"
    assert placed["deposit"]["account"] and placed["deposit"]["due_at"]
    assert await shop.stock(shop.white_s) == 4  # taken when the order is placed
    assert await events_of(app, "order.paid") == []
    oid = placed["order_id"]
    assert_error(await admin.post(f"{ORDERS}/{oid}/shipments", json={"request": {"carrier": "CJ", "tracking_number":
                                                                                  "1234"}}), 409)  # fmt: skip
    paid = ok(await admin.post(f"{ORDERS}/{oid}/deposit"))["order"]
    assert paid["status"] == "PAY_DONE" and paid["paid_at"]
    assert [e["order_id"] for e in await events_of(app, "order.paid")] == [oid]
    assert_error(await admin.post(f"{ORDERS}/{oid}/deposit"), 409, "not waiting for a deposit")


async def test_confirm_needs_the_card_and_the_members_own_payment(app, shop: OrderShop, member_client):
    client = await member_client()
    other = await member_client()
    s = await sheet(client, [(shop.white_s, 1)])
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key}), 422, "card_number")
    assert_error(await other.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": "4242424242424242"}),
                 404)  # fmt: skip
    assert_error(await other.post(f"{PAY}/reserve", json={"order_sheet_no": s["order_sheet_no"], "pay_type": "CARD",
                                                           "amount": s["price"]["amount_to_pay"]}), 404)  # fmt: skip
    assert_error(await client.post(f"{PAY}/reserve", json={"order_sheet_no": s["order_sheet_no"], "pay_type": "CASH",
                                                            "amount": "1"}), 422, "pay_type")  # fmt: skip
    assert_error(await client.post(f"{PAY}/reserve", json={"order_sheet_no": s["order_sheet_no"], "pay_type": "CARD",
                                                            "amount": 22800.0}), 422, "amount")  # fmt: skip


async def test_the_test_gateway_answers_by_card_number():
    gw = gateways.TestGateway()
    assert isinstance(await gw.approve(Decimal("1000"), "4242 4242 4242 4242", reference="p"), gateways.Approval)
    declined = await gw.approve(Decimal("1000"), DECLINED_CARD, reference="p")
    assert isinstance(declined, gateways.Decline) and declined.code == "card_declined"
    assert (await gw.approve(Decimal("1"), NO_FUNDS_CARD, reference="p")).code == "insufficient_funds"  # type: ignore[union-attr]
    assert (await gw.approve(Decimal("1"), "abc", reference="p")).code == "incorrect_number"  # type: ignore[union-attr]


async def test_the_storefront_documents_stay_true_after_an_order(app, shop: OrderShop, member_client):
    """A take that leaves stock keeps the product's stored documents as they were; one that sells a variant out
    re-renders them (the Shop API shows it sold out)."""
    from sqlalchemy import select

    from openmall.catalog import documents
    from openmall.catalog.models import Product
    from openmall.kernel.db import session_scope

    async def doc(product_no: int) -> str | None:
        async with session_scope(app.state.sessions, "demo") as s:
            return await s.scalar(select(Product.detail_doc).where(Product.product_no == product_no))

    async with session_scope(app.state.sessions, "demo") as s:
        await documents.refresh(s, [shop.catalog.white_tee, shop.catalog.jeans])
    white_before, jeans_before = await doc(shop.catalog.white_tee), await doc(shop.catalog.jeans)
    assert white_before and jeans_before
    client = await member_client()
    await order(client, [(shop.white_s, 1), (shop.jeans_black_28, 1)])  # white: 5 → 4; black 28: 1 → 0
    assert await doc(shop.catalog.white_tee) == white_before
    jeans_after = await doc(shop.catalog.jeans)
    assert jeans_after and jeans_after != jeans_before
    shown = ok(await client.get(f"/api/v2/shop/products/{shop.catalog.jeans}"))["product"]
    black_28 = next(v for v in shown["variants"] if v["variant_no"] == shop.jeans_black_28)
    assert black_28["stock_status"] == "sold_out"


async def test_a_commit_that_fails_after_the_charge_cancels_it(app, shop: OrderShop, member_client):
    gateway = gateways.TestGateway()
    previous = gateways.set_gateway(gateway)

    def commit_fails(session: Session) -> None:  # the database goes away as the order's request commits
        if session.info.get("on_rollback"):
            raise RuntimeError("connection lost at the commit")

    event.listen(Session, "before_commit", commit_fails)
    try:
        client = await member_client()
        s = await sheet(client, [(shop.white_s, 1)])
        before = await counts(app)
        assert_error(await pay(client, s), 500)
        assert len(gateway.approved) == 1 and gateway.cancelled == set(gateway.approved)  # nobody pays for nothing
        assert await counts(app) == before
    finally:
        event.remove(Session, "before_commit", commit_fails)
        gateways.set_gateway(previous)
    assert ok(await pay(client, s), 201)["order"]["status"] == "PAY_DONE"  # and the sheet can still be paid
