"""Order sheets over HTTP: made from the cart or directly with the campaign's trackingKey, read back with each
item's validity, and calculated with a group discount, coupons, mileage and a remote address; plus ``quote``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, select, update

from openmall.catalog.models import Variant
from openmall.customers.models import Member
from openmall.kernel.db import session_scope, utcnow
from openmall.orders import sheets
from openmall.orders.models import OrderSheet
from openmall.promotions.models import IssuedCoupon
from tests.conftest import assert_error
from tests.orders.conftest import CART, SHEETS

JEJU = {"receiver_name": "Jane Kim", "receiver_phone": "010-1234-5678", "zip_code": "63100",
        "address1": "1 Jungang-ro, Jeju", "address2": "101"}  # fmt: skip
SEOUL = {**JEJU, "zip_code": "04524", "address1": "1 Sejong-daero, Seoul"}


async def _sheet(client, items=None, **body) -> dict:
    response = await client.post(SHEETS, json={"items": items, **body} if items is not None else body)
    assert response.status_code == 201, response.text
    return response.json()["order_sheet"]


def _items(sheet: dict) -> list[dict]:
    return [item for group in sheet["shipping_groups"] for item in group["items"]]


async def test_sheet_from_cart_with_tracking_key_in_query(shop, member_client):
    client = await member_client("jane")
    a = (await client.post(CART, json={"variant_no": shop.white_s, "quantity": 2})).json()["cart_item"]
    b = (await client.post(CART, json={"variant_no": shop.jeans_navy_28})).json()["cart_item"]
    await client.post(CART, json={"variant_no": shop.white_m})  # stays in the cart, not on the sheet
    response = await client.post(SHEETS, params={"trackingKey": "kakao-FT-2026-11"},
                                 json={"cart_item_nos": [a["cart_item_no"], b["cart_item_no"]]})  # fmt: skip
    assert response.status_code == 201, response.text
    sheet = response.json()["order_sheet"]
    no = sheet["order_sheet_no"]
    assert len(no) == 20 and no.isalnum()
    assert (sheet["status"], sheet["tracking_key"], sheet["channel_type"]) == ("OPEN", "kakao-FT-2026-11", None)
    assert [(i["variant_no"], i["quantity"], i["cart_item_no"]) for i in _items(sheet)] == [
        (shop.white_s, 2, a["cart_item_no"]), (shop.jeans_navy_28, 1, b["cart_item_no"])]  # fmt: skip
    assert sheet["shipping_groups"][0]["shipping_group"] == "default"
    assert all(i["still_valid"] for i in _items(sheet))
    assert sheet["price"]["amount_to_pay"] == "98600.00"  # free shipping from 50,000
    # no address yet: priced, but not orderable until one is chosen
    assert not sheet["orderable"] and any("address" in r for r in sheet["invalid_reasons"])
    assert sheet["expires_at"] > sheet["created_at"]

    stored = await shop.sheet_row(no)
    assert stored["tracking_key"] == "kakao-FT-2026-11"
    assert stored["items"] == [
        {"product_no": shop.catalog.white_tee, "variant_no": shop.white_s, "quantity": 2,
         "cart_item_no": a["cart_item_no"]},
        {"product_no": shop.catalog.jeans, "variant_no": shop.jeans_navy_28, "quantity": 1,
         "cart_item_no": b["cart_item_no"]},
    ]  # fmt: skip
    got = await client.get(f"{SHEETS}/{no}")
    assert got.status_code == 200 and got.json()["order_sheet"]["order_sheet_no"] == no
    assert len((await client.get(CART)).json()["cart"]["cart_items"]) == 3  # the cart is left as it was


async def test_direct_sheet_with_tracking_key_in_body(shop, member_client):
    client = await member_client()
    sheet = await _sheet(client, [{"variant_no": shop.jeans_black_28, "quantity": 1}], tracking_key="campaign-7",
                         channel_type="KAKAO_TALK")  # fmt: skip
    assert (sheet["tracking_key"], sheet["channel_type"]) == ("campaign-7", "KAKAO_TALK")
    stored = await shop.sheet_row(sheet["order_sheet_no"])
    assert (stored["tracking_key"], stored["channel_type"]) == ("campaign-7", "KAKAO_TALK")
    assert stored["items"][0]["cart_item_no"] is None
    same = await client.post(
        SHEETS,
        params={"trackingKey": "campaign-7"},
        json={"items": [{"variant_no": shop.white_s, "quantity": 1}], "tracking_key": "campaign-7"},
    )
    assert same.status_code == 201


async def test_bad_sheet_requests_store_nothing(shop, member_client, guest_client):
    client = await member_client()
    direct = {"items": [{"variant_no": shop.white_s, "quantity": 1}]}
    assert_error(await guest_client.post(SHEETS, json=direct), 401)
    assert_error(await client.post(SHEETS, json={"items": [{"variant_no": shop.navy_s, "quantity": 1}]}), 409,
                 "sold out")  # fmt: skip
    assert_error(await client.post(SHEETS, json={"items": [{"variant_no": shop.jeans_navy_28, "quantity": 4}]}),
                 409, "not enough stock")  # fmt: skip
    assert_error(await client.post(SHEETS, json={"items": [{"variant_no": shop.not_selling_variant, "quantity": 1}]}),
                 409, "no longer on sale")  # fmt: skip
    for variant in (shop.other_mall_variant, shop.hidden_variant, 987654321):
        assert_error(await client.post(SHEETS, json={"items": [{"variant_no": variant, "quantity": 1}]}), 404)
    for quantity in (0, -2, 1.5, "1"):
        assert_error(await client.post(SHEETS, json={"items": [{"variant_no": shop.white_s, "quantity": quantity}]}),
                     422, "quantity")  # fmt: skip
    twice = {"items": [{"variant_no": shop.white_s, "quantity": 1}, {"variant_no": shop.white_s, "quantity": 1}]}
    assert_error(await client.post(SHEETS, json=twice), 422, "once")
    assert_error(await client.post(SHEETS, json={**direct, "cart_item_nos": [1]}), 422)
    assert_error(await client.post(SHEETS, json={}), 422)
    assert_error(await client.post(SHEETS, json={"cart_item_nos": [987654]}), 404, "987654")
    assert_error(await client.post(SHEETS, params={"trackingKey": "a"}, json={**direct, "tracking_key": "b"}), 422,
                 "trackingKey")  # fmt: skip
    assert_error(await client.post(SHEETS, params={"trackingKey": "has space"}, json=direct), 422, "trackingKey")
    assert_error(await client.post(SHEETS, json={**direct, "channel_type": "bad type!"}), 422, "channel_type")
    async with session_scope(shop.app.state.sessions, "demo") as s:
        assert (await s.scalars(select(OrderSheet.sheet_no))).all() == []
    other = await member_client("other-jane")  # another member's cart item is not found either
    no = (await other.post(CART, json={"variant_no": shop.white_s})).json()["cart_item"]["cart_item_no"]
    assert_error(await client.post(SHEETS, json={"cart_item_nos": [no]}), 404)


async def test_validity_after_the_sheet_was_made(shop, member_client):
    client = await member_client()
    sheet = await _sheet(client, [
        {"variant_no": shop.white_s, "quantity": 1}, {"variant_no": shop.white_m, "quantity": 3},
        {"variant_no": shop.jeans_navy_28, "quantity": 2}, {"variant_no": shop.jeans_black_28, "quantity": 1},
    ])  # fmt: skip
    no = sheet["order_sheet_no"]
    await shop.set_stock(shop.white_s, 0)  # sold out
    await shop.set_stock(shop.white_m, 2)  # fewer than asked
    await shop.set_variant(shop.jeans_navy_28, selling=False)  # no longer on sale
    await shop.set_variant(shop.jeans_black_28, display=False)  # hidden
    got = (await client.get(f"{SHEETS}/{no}")).json()["order_sheet"]
    reasons = {i["variant_no"]: (i["still_valid"], i["reason"]) for i in _items(got)}
    assert reasons == {
        shop.white_s: (False, "SOLD_OUT"), shop.white_m: (False, "NOT_ENOUGH_STOCK"),
        shop.jeans_navy_28: (False, "NOT_SELLING"), shop.jeans_black_28: (False, "HIDDEN"),
    }  # fmt: skip
    assert not got["orderable"]
    assert any("White Cotton Tee (Color: white / Size: S): sold out" in r for r in got["invalid_reasons"])
    assert _items(got)[0]["reason_message"] == "sold out"

    await shop.set_stock(shop.white_s, 5)
    await shop.set_stock(shop.white_m, 5)
    await shop.set_variant(shop.jeans_navy_28, selling=True)
    await shop.set_variant(shop.jeans_black_28, display=True)
    got = (await client.get(f"{SHEETS}/{no}")).json()["order_sheet"]
    assert all(i["still_valid"] for i in _items(got))

    await shop.set_product(shop.catalog.white_tee, selling=False)  # the product is taken off sale
    async with session_scope(shop.app.state.sessions, "demo") as s:  # a variant is deleted
        await s.execute(delete(Variant).where(Variant.variant_no == shop.jeans_black_28))
    got = (await client.get(f"{SHEETS}/{no}")).json()["order_sheet"]
    reasons = {i["variant_no"]: i["reason"] for i in _items(got)}
    assert reasons == {shop.white_s: "NOT_SELLING", shop.white_m: "NOT_SELLING", shop.jeans_navy_28: None,
                       shop.jeans_black_28: "DELETED"}  # fmt: skip
    assert got["price"]["sale_amount"] == "197200.00"  # the deleted one is not priced: 19,800 × 4 + 59,000 × 2


async def test_calculate_with_group_discount_coupons_mileage_and_remote_address(shop, member_client):
    client = await member_client("vip", group_rate="10", mileage="5000")
    buyer = client.buyer
    product_coupon = await shop.coupon(buyer, "PRODUCT", "PERCENT", "10", max_discount="5000",
                                       target_category_nos=[shop.catalog.bottoms])  # fmt: skip
    cart_coupon = await shop.coupon(buyer, "CART", "FIXED", "3000", min_order_amount="50000")
    ship_coupon = await shop.coupon(buyer, "SHIPPING", "FIXED", "2500")
    sheet = await _sheet(client, [{"variant_no": shop.white_s, "quantity": 2},
                                  {"variant_no": shop.jeans_navy_28, "quantity": 1}])  # fmt: skip
    no = sheet["order_sheet_no"]
    usable = sheet["usable_coupons"]
    assert [c["issued_coupon_no"] for c in usable["product"]] == [product_coupon]
    assert usable["product"][0]["applicable_variant_nos"] == [shop.jeans_navy_28]  # bottoms only
    assert [c["issued_coupon_no"] for c in usable["cart"]] == [cart_coupon]
    assert [c["issued_coupon_no"] for c in usable["shipping"]] == [ship_coupon]
    assert sheet["mileage"] == {"balance": "5000.00", "used": "0.00"}
    assert sheet["member_group"]["discount_rate"] == "10.00"

    body = {"product_coupons": [{"variant_no": shop.jeans_navy_28, "issued_coupon_no": product_coupon}],
            "cart_coupon_no": cart_coupon, "shipping_coupon_no": ship_coupon, "mileage": "4000",
            "shipping_address": JEJU}  # fmt: skip
    response = await client.post(f"{SHEETS}/{no}/calculate", json=body)
    assert response.status_code == 200, response.text
    got = response.json()["order_sheet"]
    white, jeans = _items(got)
    # white: 19,800 × 2 = 39,600; 10 % group discount 3,960 → basis 35,640
    assert (white["sale_price"], white["immediate_discount"], white["option_price"]) == ("19800.00", "0.00", "0.00")
    assert (white["sale_amount"], white["additional_discount"], white["product_coupon_discount"],
            white["basis_amount"]) == ("39600.00", "3960.00", "0.00", "35640.00")  # fmt: skip
    # jeans: 59,000; group 5,900 → 53,100; product coupon 10 % = 5,310 capped at 5,000 → basis 48,100
    assert (jeans["additional_discount"], jeans["product_coupon_discount"], jeans["product_coupon_no"],
            jeans["basis_amount"]) == ("5900.00", "5000.00", product_coupon, "48100.00")  # fmt: skip
    assert Decimal(white["cart_coupon_share"]) + Decimal(jeans["cart_coupon_share"]) == 3000
    price = got["price"]
    assert price["product_amount"] == "83740.00"
    assert price["cart_coupon_discount"] == "3000.00"
    # free from 50,000, but Jeju's 3,000 surcharge is never waived; the shipping coupon takes 2,500 of it
    assert price["shipping"] == {"base_fee": "3000.00", "free_over": "50000.00", "remote_surcharge": "3000.00",
                                 "remote": True, "shipping_fee": "3000.00"}  # fmt: skip
    assert (price["shipping_fee"], price["shipping_coupon_discount"], price["mileage"]) == (
        "3000.00", "2500.00", "4000.00")  # fmt: skip
    assert price["amount_to_pay"] == "77240.00"  # 83,740 − 3,000 + 3,000 − 2,500 − 4,000
    assert got["address"]["remote"] is True and got["address"]["zip_code"] == "63100"
    assert {(c["kind"], c["issued_coupon_no"], c["discount"]) for c in got["coupons"]} == {
        ("PRODUCT", product_coupon, "5000.00"),
        ("CART", cart_coupon, "3000.00"),
        ("SHIPPING", ship_coupon, "2500.00"),
    }
    assert got["orderable"], got["invalid_reasons"]
    assert got["mileage"] == {"balance": "5000.00", "used": "4000.00"}

    stored = await shop.sheet_row(no)
    assert stored["amount_to_pay"] == Decimal("77240")
    assert stored["choices"]["mileage"] == "4000" and stored["choices"]["cart_coupon_no"] == cart_coupon
    assert stored["priced"]["amount_to_pay"] == "77240.00"
    assert await shop.mileage_of(buyer) == Decimal("5000")  # calculate spends nothing

    again = (await client.get(f"{SHEETS}/{no}")).json()["order_sheet"]  # GET re-prices the stored choices
    assert again["price"] == price and again["choices"]["shipping_coupon_no"] == ship_coupon

    seoul = await client.post(f"{SHEETS}/{no}/calculate", json={**body, "shipping_address": SEOUL, "mileage": "0"})
    # Seoul: no surcharge, so shipping is 0 and the shipping coupon has nothing to take: refused, nothing stored
    assert_error(seoul, 422, "does not apply")
    assert (await shop.sheet_row(no))["amount_to_pay"] == Decimal("77240")
    body = {**body, "shipping_address": SEOUL, "mileage": "0", "shipping_coupon_no": None}
    seoul = (await client.post(f"{SHEETS}/{no}/calculate", json=body)).json()["order_sheet"]
    assert seoul["price"]["amount_to_pay"] == "80740.00" and seoul["address"]["remote"] is False


async def test_mileage_beyond_the_balance_is_refused(shop, member_client):
    client = await member_client(mileage="1000")
    sheet = await _sheet(client, [{"variant_no": shop.white_s, "quantity": 1}])
    no = sheet["order_sheet_no"]
    assert (await client.post(f"{SHEETS}/{no}/calculate", json={"mileage": "500", "shipping_address": SEOUL})
            ).status_code == 200  # fmt: skip
    before = await shop.sheet_row(no)
    err = assert_error(await client.post(f"{SHEETS}/{no}/calculate", json={"mileage": "1001"}), 422, "1000")
    assert err["more_info"]["field"] == "mileage"
    assert await shop.sheet_row(no) == before
    for bad in ("10.5", "-1", 100.0, "abc"):
        assert_error(await client.post(f"{SHEETS}/{no}/calculate", json={"mileage": bad}), 422, "mileage")
    assert await shop.sheet_row(no) == before

    rich = await member_client(mileage="100000")
    no = (await _sheet(rich, [{"variant_no": shop.white_s, "quantity": 1}]))["order_sheet_no"]
    # 19,800 + 3,000 shipping = 22,800 to pay: more mileage than that is refused, not capped
    err = assert_error(await rich.post(f"{SHEETS}/{no}/calculate", json={"mileage": "22801"}), 422)
    assert err["more_info"]["field"] == "mileage"
    full = await rich.post(f"{SHEETS}/{no}/calculate", json={"mileage": "22800", "shipping_address": SEOUL})
    assert full.json()["order_sheet"]["price"]["amount_to_pay"] == "0.00"


async def test_coupons_that_cannot_be_used(shop, member_client):
    client = await member_client()
    other = await member_client()
    theirs = await shop.coupon(other.buyer, "CART", "FIXED", "1000")
    mine_cart = await shop.coupon(client.buyer, "CART", "FIXED", "1000", min_order_amount="100000")
    mine_ship = await shop.coupon(client.buyer, "SHIPPING", "FIXED", "1000")
    expired = await shop.coupon(client.buyer, "CART", "FIXED", "500", ends_in=timedelta(seconds=-1))
    no = (await _sheet(client, [{"variant_no": shop.white_s, "quantity": 1}]))["order_sheet_no"]
    url = f"{SHEETS}/{no}/calculate"
    before = await shop.sheet_row(no)
    assert_error(await client.post(url, json={"cart_coupon_no": theirs}), 422, "not one of your usable coupons")
    assert_error(await client.post(url, json={"cart_coupon_no": expired}), 422, "expired")
    assert_error(await client.post(url, json={"cart_coupon_no": mine_cart}), 422, "minimum")
    assert_error(await client.post(url, json={"cart_coupon_no": mine_ship}), 422, "shipping coupon")
    assert_error(await client.post(url, json={"product_coupons": [{"variant_no": shop.jeans_navy_28,
                                                                   "issued_coupon_no": mine_cart}]}),
                 422, "not an item")  # fmt: skip
    assert_error(await client.post(url, json={"cart_coupon_no": mine_ship, "shipping_coupon_no": mine_ship}), 422)
    assert await shop.sheet_row(no) == before
    ok = await client.post(url, json={"shipping_coupon_no": mine_ship})
    assert ok.json()["order_sheet"]["price"]["amount_to_pay"] == "21800.00"  # 19,800 + 3,000 − 1,000


async def test_another_members_sheet_is_not_found(shop, member_client):
    jane, john = await member_client("jane"), await member_client("john")
    no = (await _sheet(jane, [{"variant_no": shop.white_s, "quantity": 1}]))["order_sheet_no"]
    before = await shop.sheet_row(no)
    assert_error(await john.get(f"{SHEETS}/{no}"), 404, no)
    assert_error(await john.post(f"{SHEETS}/{no}/calculate", json={"shipping_address": SEOUL}), 404)
    assert_error(await jane.get(f"{SHEETS}/nosuchsheet"), 404)
    assert await shop.sheet_row(no) == before


async def test_ordered_or_expired_sheets_cannot_be_calculated(shop, member_client):
    client = await member_client()
    a = (await _sheet(client, [{"variant_no": shop.white_s, "quantity": 1}]))["order_sheet_no"]
    b = (await _sheet(client, [{"variant_no": shop.white_s, "quantity": 1}]))["order_sheet_no"]
    async with session_scope(shop.app.state.sessions, "demo") as s:
        await s.execute(update(OrderSheet).where(OrderSheet.order_sheet_no == a)
                        .values(status="ORDERED", order_id="20261124-0000001"))  # fmt: skip
    await shop.expire_sheet(b)
    assert_error(await client.post(f"{SHEETS}/{a}/calculate", json={}), 409, "ordered")
    assert_error(await client.post(f"{SHEETS}/{b}/calculate", json={}), 409, "expired")
    got = (await client.get(f"{SHEETS}/{b}")).json()["order_sheet"]
    assert got["expired"] and not got["orderable"]


async def test_saved_and_default_addresses(shop, member_client):
    client = await member_client()
    default = await shop.address(client.buyer, "40200")  # an island of Ongjin: remote
    plain = await shop.address(client.buyer, "04524", default=False)
    other = await member_client()
    theirs = await shop.address(other.buyer)
    sheet = await _sheet(client, [{"variant_no": shop.white_s, "quantity": 1}])
    assert sheet["default_address"]["address_no"] == default
    assert sheet["address"]["remote"] is True  # priced to the default address until one is chosen
    assert sheet["price"]["shipping_fee"] == "6000.00" and sheet["orderable"]
    no = sheet["order_sheet_no"]
    got = (await client.post(f"{SHEETS}/{no}/calculate", json={"address_no": plain})).json()["order_sheet"]
    assert (got["address"]["address_no"], got["price"]["shipping_fee"]) == (plain, "3000.00")
    assert_error(await client.post(f"{SHEETS}/{no}/calculate", json={"address_no": theirs}), 422, "address")
    assert_error(await client.post(f"{SHEETS}/{no}/calculate", json={"address_no": plain, "shipping_address": SEOUL}),
                 422)  # fmt: skip
    assert_error(await client.post(f"{SHEETS}/{no}/calculate",
                                   json={"shipping_address": {**SEOUL, "zip_code": ""}}), 422)  # fmt: skip


async def test_quote_reports_what_went_stale(shop, member_client):
    """``quote`` (what payment calls) never raises for stale data: it lists it in ``invalid_reasons``."""
    client = await member_client(mileage="3000", group_rate="5")
    buyer = client.buyer
    coupon = await shop.coupon(buyer, "CART", "FIXED", "1000")
    no = (await _sheet(client, [{"variant_no": shop.white_s, "quantity": 2}]))["order_sheet_no"]
    calc = await client.post(f"{SHEETS}/{no}/calculate",
                             json={"cart_coupon_no": coupon, "mileage": "3000", "shipping_address": JEJU})  # fmt: skip
    assert calc.status_code == 200, calc.text
    async with session_scope(shop.app.state.sessions, "demo") as s:
        member = await s.get(Member, buyer.member_no)
        sheet = await sheets.get_sheet(s, buyer.member_no, no)
        q = await sheets.quote(s, member, sheet)
        assert q.invalid_reasons == [] and q.orderable
        # 39,600 − 5 % (1,980) = 37,620; − 1,000 coupon; + 3,000 (free from 50,000? no) + 3,000 Jeju; − 3,000 mileage
        assert q.amount_to_pay == Decimal("39620") == sheet.amount_to_pay
        assert q.mileage == Decimal("3000") and q.address["remote"] is True
        assert [(c.issued_coupon_no, c.kind, c.line_key, c.discount) for c in q.coupons] == [
            (coupon, "CART", None, Decimal("1000"))]  # fmt: skip
        assert [(ln.variant_no, ln.quantity, ln.still_valid, ln.reason) for ln in q.lines] == [
            (shop.white_s, 2, True, None)]  # fmt: skip
        assert q.priced is not None and q.priced.lines[0].basis_amount == Decimal("37620")
        # meanwhile the coupon is used elsewhere, the mileage spent and the stock sold
        await s.execute(update(IssuedCoupon).where(IssuedCoupon.issued_coupon_no == coupon).values(used_at=utcnow()))
        await s.execute(update(Member).where(Member.member_no == buyer.member_no).values(mileage_balance=0))
    await shop.set_stock(shop.white_s, 1)
    async with session_scope(shop.app.state.sessions, "demo") as s:
        member = await s.get(Member, buyer.member_no)
        sheet = await sheets.get_sheet(s, buyer.member_no, no)
        q = await sheets.quote(s, member, sheet)
        text = " | ".join(q.invalid_reasons)
        assert "not enough stock" in text and "has been used" in text and "mileage" in text
        assert not q.orderable and q.lines[0].reason == "NOT_ENOUGH_STOCK"
