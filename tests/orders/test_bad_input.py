"""Issue 6, point 10: bad input over HTTP changes nothing.

Each refused call is checked three ways: the status, the design's error format
(``{"error": {"code", "message", "more_info"}}``, by ``tests.conftest.assert_error``), and a snapshot of everything
an order could touch (cart lines, stock, mileage balances and ledger, coupon uses, order sheets, payments, orders,
events) read back from the database before and after, in both malls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from openmall.catalog.models import Variant
from openmall.customers.models import Member, MileageEntry
from openmall.kernel.db import session_scope
from openmall.kernel.events.models import Event
from openmall.orders.models import CartItem, Order, OrderOption, OrderSheet, Payment
from openmall.promotions.models import IssuedCoupon
from tests.conftest import assert_error
from tests.orders.conftest import CART, SHEETS, SHOP, OrderShop

PAY = f"{SHOP}/payments"
GOOD_CARD = "4242424242424242"
ADDRESS = {"receiver_name": "Jane Kim", "receiver_phone": "010-1234-5678", "zip_code": "04524",
           "address1": "1 Sejong-daero", "address2": "3F"}  # fmt: skip
MALLS = ("demo", "other")


# ---- what a refused call must leave as it was ---------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    cart: list[tuple]
    stock: dict[int, int]
    mileage: dict[int, Decimal]
    ledger: int
    coupons: list[tuple]
    sheets: list[tuple]
    payments: list[tuple]
    orders: int
    options: int
    events: dict[str, int]


async def snapshot(app, mall_id: str) -> Snapshot:
    async with session_scope(app.state.sessions, mall_id) as s:

        async def rows(stmt: Any) -> list[tuple]:
            return [tuple(r) for r in (await s.execute(stmt)).all()]

        async def n(model: Any) -> int:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)

        return Snapshot(
            cart=await rows(select(CartItem.cart_item_no, CartItem.member_no, CartItem.guest_key, CartItem.variant_no,
                                   CartItem.quantity, CartItem.selected).order_by(CartItem.cart_item_no)),
            stock=dict(await rows(select(Variant.variant_no, Variant.quantity))),
            mileage=dict(await rows(select(Member.member_no, Member.mileage_balance))),
            ledger=await n(MileageEntry),
            coupons=await rows(select(IssuedCoupon.issued_coupon_no, IssuedCoupon.member_no, IssuedCoupon.used_at,
                                      IssuedCoupon.used_order_id).order_by(IssuedCoupon.issued_coupon_no)),
            sheets=await rows(select(OrderSheet.order_sheet_no, OrderSheet.member_no, OrderSheet.status,
                                     OrderSheet.order_id, OrderSheet.items, OrderSheet.choices, OrderSheet.priced,
                                     OrderSheet.amount_to_pay).order_by(OrderSheet.order_sheet_no)),
            payments=await rows(select(Payment.payment_key, Payment.status, Payment.amount, Payment.order_id)
                                .order_by(Payment.payment_key)),
            orders=await n(Order),
            options=await n(OrderOption),
            events=dict(await rows(select(Event.type, func.count()).group_by(Event.type))),
        )  # fmt: skip


async def snapshots(app) -> dict[str, Snapshot]:
    return {mall: await snapshot(app, mall) for mall in MALLS}


class Unchanged:
    """``async with Unchanged(app): <refused calls>``: every mall reads back exactly as before."""

    def __init__(self, app) -> None:
        self.app = app

    async def __aenter__(self) -> Unchanged:
        self.before = await snapshots(self.app)
        return self

    async def __aexit__(self, exc_type, *_: Any) -> None:
        if exc_type is None:
            assert await snapshots(self.app) == self.before


# ---- helpers ------------------------------------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def new_sheet(client: httpx.AsyncClient, items: list[tuple[int, int]], **choices: Any) -> dict:
    """An order sheet of ``items`` (variant_no, quantity), calculated with an address and ``choices``."""
    made = ok(await client.post(SHEETS, json={"items": [{"variant_no": v, "quantity": q} for v, q in items]}), 201)
    no = made["order_sheet"]["order_sheet_no"]
    return ok(await client.post(f"{SHEETS}/{no}/calculate", json={"shipping_address": ADDRESS, **choices}))[
        "order_sheet"
    ]


def reserve_body(sheet: dict, amount: Any = None) -> dict:
    return {"order_sheet_no": sheet["order_sheet_no"], "pay_type": "CARD",
            "amount": sheet["price"]["amount_to_pay"] if amount is None else amount}  # fmt: skip


# ---- quantities ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, -100])
async def test_zero_or_negative_quantity_in_the_cart(app, shop: OrderShop, member_client, quantity):
    client = await member_client()
    line = ok(await client.post(CART, json={"variant_no": shop.white_s, "quantity": 1}), 201)["cart_item"]
    async with Unchanged(app):
        err = assert_error(await client.post(CART, json={"variant_no": shop.white_s, "quantity": quantity}), 422,
                           "quantity")  # fmt: skip
        assert "quantity" in str(err["more_info"])
        assert_error(await client.post(CART, json={"variant_no": shop.jeans_navy_28, "quantity": quantity}), 422)
        assert_error(await client.put(f"{CART}/{line['cart_item_no']}", json={"quantity": quantity}), 422, "quantity")


@pytest.mark.parametrize("quantity", [0, -1, -100])
async def test_zero_or_negative_quantity_in_direct_sheet_items(app, shop: OrderShop, member_client, quantity):
    client = await member_client()
    async with Unchanged(app):
        assert_error(await client.post(SHEETS, json={"items": [{"variant_no": shop.white_s, "quantity": quantity}]}),
                     422, "quantity")  # fmt: skip
        # one good item does not let a bad one through
        items = [{"variant_no": shop.white_s, "quantity": 1}, {"variant_no": shop.jeans_navy_28, "quantity": quantity}]
        assert_error(await client.post(SHEETS, json={"items": items}), 422, "quantity")


# ---- another mall's variant ---------------------------------------------------------------------------------


async def test_another_malls_variant_is_not_found(app, shop: OrderShop, member_client):
    """``shop.other_mall_variant`` is a product of mall ``other`` (made with ``tests.conftest.add_mall``, stock 2)."""
    client = await member_client()
    other = shop.other_mall_variant
    assert await shop.stock(other, "other") == 2
    async with Unchanged(app):
        assert_error(await client.post(CART, json={"variant_no": other, "quantity": 1}), 404)
        assert_error(await client.post(SHEETS, json={"items": [{"variant_no": other, "quantity": 1}]}), 404)
        items = [{"variant_no": shop.white_s, "quantity": 1}, {"variant_no": other, "quantity": 1}]
        err = assert_error(await client.post(SHEETS, json={"items": items}), 404)
        assert str(other) in err["message"] and "Hoodie" not in err["message"]  # nothing of the other mall shows


# ---- coupons ------------------------------------------------------------------------------------------------


async def test_expired_and_foreign_coupons_at_calculate(app, shop: OrderShop, member_client):
    client, someone = await member_client(), await member_client()
    expired = await shop.coupon(client.buyer, "CART", "FIXED", "1000", ends_in=timedelta(seconds=-1))
    expired_product = await shop.coupon(client.buyer, "PRODUCT", "FIXED", "1000", ends_in=timedelta(seconds=-1))
    theirs = await shop.coupon(someone.buyer, "CART", "FIXED", "1000")
    theirs_shipping = await shop.coupon(someone.buyer, "SHIPPING", "FIXED", "1000")
    stranger = await shop.member(mall_id="other")
    other_malls = await shop.coupon(stranger, "CART", "FIXED", "1")
    s = await new_sheet(client, [(shop.white_s, 1)])
    url = f"{SHEETS}/{s['order_sheet_no']}/calculate"
    async with Unchanged(app):
        for body, words in (
            ({"cart_coupon_no": expired}, ("expired",)),
            ({"product_coupons": [{"variant_no": shop.white_s, "issued_coupon_no": expired_product}]}, ("expired",)),
            ({"cart_coupon_no": theirs}, (str(theirs),)),
            ({"shipping_coupon_no": theirs_shipping}, (str(theirs_shipping),)),
            ({"cart_coupon_no": other_malls}, (str(other_malls),)),
        ):
            err = assert_error(await client.post(url, json={**body, "shipping_address": ADDRESS}), 422, *words)
            assert err["more_info"].get("field"), err
    # the sheet still prices as before, without any of them
    again = ok(await client.get(f"{SHEETS}/{s['order_sheet_no']}"))["order_sheet"]
    assert again["price"]["amount_to_pay"] == s["price"]["amount_to_pay"] and again["coupons"] == []


# ---- mileage ------------------------------------------------------------------------------------------------


async def test_more_mileage_than_owned(app, shop: OrderShop, member_client):
    client = await member_client(mileage="1000")
    s = await new_sheet(client, [(shop.white_s, 1)], mileage="500")
    url = f"{SHEETS}/{s['order_sheet_no']}/calculate"
    async with Unchanged(app):
        err = assert_error(await client.post(url, json={"mileage": "1001", "shipping_address": ADDRESS}), 422, "1000")
        assert err["more_info"]["field"] == "mileage"
        assert_error(await client.post(url, json={"mileage": "1000000", "shipping_address": ADDRESS}), 422)
    assert await shop.mileage_of(client.buyer) == Decimal("1000")
    # the amount the buyer saw (with 500 used) still pays
    order = ok(await client.post(f"{PAY}/reserve", json=reserve_body(s)), 201)
    assert order["payment"]["amount"] == s["price"]["amount_to_pay"]


# ---- another member's order sheet ---------------------------------------------------------------------------


async def test_another_members_order_sheet_is_not_found(app, shop: OrderShop, member_client):
    jane, john = await member_client(mileage="5000"), await member_client(mileage="5000")
    s = await new_sheet(jane, [(shop.white_s, 1)])
    no = s["order_sheet_no"]
    stranger = await member_client(await shop.member(mall_id="other"))
    async with Unchanged(app):
        for client in (john, stranger):
            assert_error(await client.get(f"{SHEETS}/{no}"), 404, no)
            assert_error(await client.post(f"{SHEETS}/{no}/calculate",
                                           json={"mileage": "1000", "shipping_address": ADDRESS}), 404, no)  # fmt: skip
            assert_error(await client.post(f"{PAY}/reserve", json=reserve_body(s)), 404, no)
    # and jane's own sheet is untouched and still payable
    ok(await jane.post(f"{PAY}/reserve", json=reserve_body(s)), 201)


async def test_another_members_payment_cannot_be_confirmed(app, shop: OrderShop, member_client):
    jane, john = await member_client(), await member_client()
    s = await new_sheet(jane, [(shop.white_s, 1)])
    key = ok(await jane.post(f"{PAY}/reserve", json=reserve_body(s)), 201)["payment"]["payment_key"]
    async with Unchanged(app):
        assert_error(await john.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 404)


# ---- paying a paid sheet ------------------------------------------------------------------------------------


async def test_paying_a_paid_sheet_is_a_conflict(app, shop: OrderShop, member_client):
    client = await member_client(mileage="2000")
    coupon = await shop.coupon(client.buyer, "CART", "FIXED", "1000")
    s = await new_sheet(client, [(shop.white_s, 1)], cart_coupon_no=coupon, mileage="1000")
    key = ok(await client.post(f"{PAY}/reserve", json=reserve_body(s)), 201)["payment"]["payment_key"]
    order = ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 201)["order"]
    assert await shop.mileage_of(client.buyer) == Decimal("1000")
    async with Unchanged(app):
        err = assert_error(await client.post(f"{PAY}/reserve", json=reserve_body(s)), 409, "paid already")
        assert err["more_info"]["order_id"] == order["order_id"]
        assert_error(await client.post(f"{PAY}/reserve", json={**reserve_body(s), "pay_type": "BANK_TRANSFER"}), 409)
        assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 409)
        assert_error(await client.post(f"{SHEETS}/{s['order_sheet_no']}/calculate",
                                       json={"shipping_address": ADDRESS}), 409)  # fmt: skip
    assert await shop.mileage_of(client.buyer) == Decimal("1000")


# ---- money is never a float ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mileage", [1000.5, 1000.0, 1e3])
async def test_float_mileage_is_refused(app, shop: OrderShop, member_client, mileage):
    client = await member_client(mileage="5000")
    s = await new_sheet(client, [(shop.white_s, 1)])
    url = f"{SHEETS}/{s['order_sheet_no']}/calculate"
    async with Unchanged(app):
        response = await client.post(url, json={"mileage": mileage, "shipping_address": ADDRESS})
        assert_error(response, 422, "mileage", "float")


async def test_float_amount_at_reserve_is_refused(app, shop: OrderShop, member_client):
    client = await member_client()
    s = await new_sheet(client, [(shop.white_s, 1)])
    amount = float(Decimal(s["price"]["amount_to_pay"]))  # the right amount, but as a JSON number with a fraction
    async with Unchanged(app):
        assert_error(await client.post(f"{PAY}/reserve", json=reserve_body(s, amount)), 422, "amount")
