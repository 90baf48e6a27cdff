"""The cart over HTTP: members and guests, add / change / remove with the stock checked, the subtotal of the
selected items, and the guest cart merged into the member's at login."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openmall.kernel import clock
from openmall.kernel.db import session_scope
from openmall.kernel.errors import InvalidInput
from openmall.orders import cart
from tests.conftest import assert_error
from tests.orders.conftest import ADMIN, CART, SHOP


async def test_add_change_remove(shop, member_client):
    client = await member_client("jane")
    added = await client.post(CART, json={"variant_no": shop.white_s, "quantity": 2})
    assert added.status_code == 201, added.text
    item = added.json()["cart_item"]
    assert item["product_name"] == "White Cotton Tee"
    assert item["option_text"] == "Color: white / Size: S"
    assert item["option_values"] == [{"name": "Color", "value": "white"}, {"name": "Size", "value": "S"}]
    assert (item["unit_price"], item["line_amount"], item["quantity"]) == ("19800.00", "39600.00", 2)
    assert item["in_stock"] and item["selling"] and item["orderable"] and item["selected"]
    assert item["reason"] is None

    again = await client.post(CART, json={"variant_no": shop.white_s, "quantity": 1})  # adds to the line
    assert again.status_code == 201
    assert again.json()["cart_item"]["cart_item_no"] == item["cart_item_no"]
    assert again.json()["cart_item"]["quantity"] == 3
    await client.post(CART, json={"variant_no": shop.jeans_navy_28})  # quantity 1 by default

    listed = (await client.get(CART)).json()["cart"]
    assert [i["variant_no"] for i in listed["cart_items"]] == [shop.white_s, shop.jeans_navy_28]
    assert (listed["count"], listed["total_quantity"], listed["total_amount"]) == (2, 4, "118400.00")

    changed = await client.put(f"{CART}/{item['cart_item_no']}", json={"quantity": 5, "selected": False})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["cart_item"]["quantity"], changed.json()["cart_item"]["selected"]) == (5, False)

    removed = await client.delete(f"{CART}/{item['cart_item_no']}")
    assert removed.json() == {"cart_item_nos": [item["cart_item_no"]]}
    assert [i["variant_no"] for i in (await client.get(CART)).json()["cart"]["cart_items"]] == [shop.jeans_navy_28]


async def test_delete_several_is_all_or_nothing(shop, member_client):
    client = await member_client()
    nos = [(await client.post(CART, json={"variant_no": v})).json()["cart_item"]["cart_item_no"]
           for v in (shop.white_s, shop.white_m, shop.jeans_navy_28)]  # fmt: skip
    before = await shop.cart_rows()
    assert_error(await client.delete(CART, params={"cart_item_nos": f"{nos[0]},999999"}), 404, "999999")
    assert_error(await client.delete(CART, params={"cart_item_nos": "1,x"}), 422, "cart_item_nos")
    assert_error(await client.delete(CART), 422, "cart_item_nos")
    assert await shop.cart_rows() == before
    response = await client.delete(CART, params={"cart_item_nos": f"{nos[0]},{nos[2]}"})
    assert response.json() == {"cart_item_nos": sorted([nos[0], nos[2]])}
    assert [r[0] for r in await shop.cart_rows()] == [nos[1]]


async def test_stock_limits_the_line(shop, member_client):
    client = await member_client()
    assert (await client.post(CART, json={"variant_no": shop.jeans_navy_28, "quantity": 3})).status_code == 201
    before = await shop.cart_rows()
    err = assert_error(await client.post(CART, json={"variant_no": shop.jeans_navy_28, "quantity": 1}), 409,
                       "Only 3")  # fmt: skip
    assert err["more_info"]["stock_quantity"] == 3 and err["more_info"]["in_cart"] == 3
    assert_error(await client.post(CART, json={"variant_no": shop.navy_s}), 409, "sold out")
    assert_error(await client.post(CART, json={"variant_no": shop.jeans_navy_30}), 409, "sold out")
    no = before[0][0]
    assert_error(await client.put(f"{CART}/{no}", json={"quantity": 4}), 409, "Only 3")
    assert await shop.cart_rows() == before
    lowered = await client.put(f"{CART}/{no}", json={"quantity": 1})
    assert lowered.json()["cart_item"]["quantity"] == 1

    await shop.set_stock(shop.jeans_navy_28, 0)  # sold out after it was added: shown, not orderable
    item = (await client.get(CART)).json()["cart"]["cart_items"][0]
    assert (item["in_stock"], item["orderable"], item["reason"], item["stock_quantity"]) == (
        False, False, "SOLD_OUT", 0)  # fmt: skip


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", None, True, 10_000])
async def test_bad_quantity_changes_nothing(shop, member_client, quantity):
    client = await member_client()
    no = (await client.post(CART, json={"variant_no": shop.white_s})).json()["cart_item"]["cart_item_no"]
    before = await shop.cart_rows()
    assert_error(await client.post(CART, json={"variant_no": shop.white_s, "quantity": quantity}), 422, "quantity")
    assert_error(await client.put(f"{CART}/{no}", json={"quantity": quantity}), 422)
    assert await shop.cart_rows() == before


async def test_unknown_hidden_and_other_malls_variants(shop, member_client):
    client = await member_client()
    assert_error(await client.post(CART, json={"variant_no": shop.other_mall_variant}), 404, "No product option")
    assert_error(await client.post(CART, json={"variant_no": 987654321}), 404)
    assert_error(await client.post(CART, json={"variant_no": shop.hidden_variant}), 404)
    assert_error(await client.post(CART, json={"variant_no": shop.not_selling_variant}), 409, "not on sale")
    assert_error(await client.post(CART, json={"variant_no": 0}), 422, "variant_no")
    assert_error(await client.post(CART, json={"variant_no": shop.white_s, "extra": 1}), 422)
    assert await shop.cart_rows() == []
    assert_error(await client.put(f"{CART}/987654", json={"quantity": 1}), 404)
    assert_error(await client.put(f"{CART}/1", json={}), 422)


async def test_carts_are_private(shop, member_client, guest_client):
    jane, john = await member_client("jane"), await member_client("john")
    no = (await jane.post(CART, json={"variant_no": shop.white_s})).json()["cart_item"]["cart_item_no"]
    assert (await john.get(CART)).json()["cart"]["cart_items"] == []
    assert (await guest_client.get(CART)).json()["cart"]["cart_items"] == []
    assert_error(await john.put(f"{CART}/{no}", json={"quantity": 2}), 404)
    assert_error(await john.delete(f"{CART}/{no}"), 404)
    assert_error(await guest_client.delete(f"{CART}/{no}"), 404)
    assert len(await shop.cart_rows()) == 1


async def test_guest_needs_a_valid_key(shop, client):
    assert_error(await client.get(CART), 401, "X-Guest-Key")
    for bad in ("short", "x" * 65, "has space in it 1234", "ünïcode-ünïcode-ü".encode()):
        assert_error(await client.get(CART, headers={"X-Guest-Key": bad}), 422, "X-Guest-Key")
    assert_error(await client.get(CART, headers={"Authorization": "Bearer om_ma_nope"}), 401)


async def test_guest_cart(app, shop, guest_client):
    added = await guest_client.post(CART, json={"variant_no": shop.white_m, "quantity": 2})
    assert added.status_code == 201, added.text
    assert (await guest_client.get(CART)).json()["cart"]["total_quantity"] == 2
    rows = await shop.cart_rows()
    assert rows[0][1] is None and rows[0][2] == cart.guest_key_digest(
        app.state.key, guest_client.headers["X-Guest-Key"]
    )


async def test_selected_items_subtotal(shop, member_client):
    client = await member_client("vip", group_rate="10")
    a = (await client.post(CART, json={"variant_no": shop.white_s, "quantity": 2})).json()["cart_item"]
    b = (await client.post(CART, json={"variant_no": shop.jeans_navy_28})).json()["cart_item"]
    c = (await client.post(CART, json={"variant_no": shop.jeans_black_28})).json()["cart_item"]
    await client.put(f"{CART}/{b['cart_item_no']}", json={"selected": False})

    sub = (await client.get(f"{CART}/subtotal")).json()["subtotal"]  # the selected ones: a and c
    assert sub["cart_item_nos"] == [a["cart_item_no"], c["cart_item_no"]]
    # 39,600 + 59,000 = 98,600; 10 % group discount per line: 3,960 + 5,900; free shipping (≥ 50,000)
    assert sub["sale_amount"] == "98600.00"
    assert sub["additional_discount"] == "9860.00"
    assert sub["product_amount"] == "88740.00"
    assert (sub["shipping_fee"], sub["total_amount"], sub["total_quantity"]) == ("0.00", "88740.00", 3)
    assert sub["member_group"] is not None

    only_a = (await client.get(f"{CART}/subtotal", params={"cart_item_nos": str(a["cart_item_no"])})).json()
    # 39,600 − 3,960 = 35,640 < 50,000: the base fee 3,000
    assert only_a["subtotal"]["product_amount"] == "35640.00"
    assert only_a["subtotal"]["shipping_fee"] == "3000.00"
    assert only_a["subtotal"]["total_amount"] == "38640.00"

    await shop.set_stock(shop.jeans_black_28, 0)  # a sold-out line is left out
    sub = (await client.get(f"{CART}/subtotal")).json()["subtotal"]
    assert sub["left_out_cart_item_nos"] == [c["cart_item_no"]]
    assert sub["product_amount"] == "35640.00"

    for no in (a, c):
        await client.put(f"{CART}/{no['cart_item_no']}", json={"selected": False})
    empty = (await client.get(f"{CART}/subtotal")).json()["subtotal"]
    assert (empty["cart_item_nos"], empty["total_amount"]) == ([], "0.00")
    assert_error(await client.get(f"{CART}/subtotal", params={"cart_item_nos": "999999"}), 404)


async def test_guest_subtotal_has_no_group_discount(shop, guest_client):
    await guest_client.post(CART, json={"variant_no": shop.white_s, "quantity": 1})
    sub = (await guest_client.get(f"{CART}/subtotal")).json()["subtotal"]
    assert (sub["member_group"], sub["additional_discount"], sub["total_amount"]) == (None, "0.00", "22800.00")


async def test_guest_cart_merges_at_login(shop, member_client, guest_client, client):
    key = guest_client.headers["X-Guest-Key"]
    await guest_client.post(CART, json={"variant_no": shop.white_s, "quantity": 4})
    await guest_client.post(CART, json={"variant_no": shop.jeans_navy_28, "quantity": 2})
    sign_up = await client.post(f"{SHOP}/members", json={"member_id": "mergy", "password": "correct horse 1",
                                                         "name": "Mergy", "email": "mergy@example.com"})  # fmt: skip
    assert sign_up.status_code == 201, sign_up.text
    login = await client.post(f"{SHOP}/oauth/token", json={"member_id": "mergy", "password": "correct horse 1"})
    token = login.json()["access_token"]
    member = {"Authorization": f"Bearer {token}"}
    assert (await client.post(CART, json={"variant_no": shop.white_s, "quantity": 3}, headers=member)).status_code \
        == 201  # fmt: skip

    again = await client.post(f"{SHOP}/oauth/token", json={"member_id": "mergy", "password": "correct horse 1"},
                              headers={"X-Guest-Key": key})  # fmt: skip
    assert again.status_code == 200, again.text
    items = (await client.get(CART, headers=member)).json()["cart"]["cart_items"]
    # white S: 3 + 4 = 7, capped at the stock of 5; jeans moved over as they were
    assert sorted((i["variant_no"], i["quantity"]) for i in items) == sorted(
        [(shop.white_s, 5), (shop.jeans_navy_28, 2)]
    )
    assert (await guest_client.get(CART)).json()["cart"]["cart_items"] == []


async def test_merge_guest_cart_service(app, shop):
    buyer = await shop.member("merger")
    guest, key = "g" * 20, app.state.key
    owner = cart.Owner(guest_key=cart.guest_key_digest(key, guest))
    async with session_scope(app.state.sessions, "demo") as s:
        await cart.add(s, owner, shop.white_m, 2)
        await cart.add(s, owner, shop.jeans_black_28, 1)
    async with session_scope(app.state.sessions, "demo") as s:
        assert await cart.merge_guest_cart(s, key, guest, buyer.member_no) == 2
    async with session_scope(app.state.sessions, "demo") as s:
        assert await cart.merge_guest_cart(s, key, guest, buyer.member_no) == 0  # nothing left to merge
        assert await cart.merge_guest_cart(s, key, "", buyer.member_no) == 0
        with pytest.raises(InvalidInput):
            await cart.merge_guest_cart(s, key, "bad key", buyer.member_no)
    rows = await shop.cart_rows()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (buyer.member_no, None, shop.white_m, 2), (buyer.member_no, None, shop.jeans_black_28, 1)]  # fmt: skip


async def test_shipping_policy_admin(shop, client):
    read = await shop.admin_headers(["mall.read_shipping"])
    write = await shop.admin_headers(["mall.write_shipping", "mall.read_shipping"])
    default = (await client.get(f"{ADMIN}/shipping-policy", headers=read)).json()["shipping_policy"]
    assert default == {"base_fee": "3000.00", "free_over": "50000.00", "remote_surcharge": "3000.00",
                       "remote_zip_prefixes": ["63", "402", "409"], "is_default": True}  # fmt: skip
    body = {"request": {"base_fee": "2500", "free_over": None, "remote_surcharge": "5000",
                        "remote_zip_prefixes": ["63", "52"]}}  # fmt: skip
    assert_error(await client.put(f"{ADMIN}/shipping-policy", json=body, headers=read), 403)
    put = await client.put(f"{ADMIN}/shipping-policy", json=body, headers=write)
    assert put.status_code == 200, put.text
    assert put.json()["shipping_policy"] == {"base_fee": "2500.00", "free_over": None, "remote_surcharge": "5000.00",
                                             "remote_zip_prefixes": ["52", "63"], "is_default": False}  # fmt: skip
    bad = {"request": {**body["request"], "base_fee": "2500.5"}}
    assert_error(await client.put(f"{ADMIN}/shipping-policy", json=bad, headers=write), 422, "base_fee")
    bad = {"request": {**body["request"], "remote_zip_prefixes": ["6a"]}}
    assert_error(await client.put(f"{ADMIN}/shipping-policy", json=bad, headers=write), 422)
    assert (await client.get(f"{ADMIN}/shipping-policy", headers=read)).json()["shipping_policy"]["base_fee"] == (
        "2500.00")  # fmt: skip
    assert_error(await client.get(f"{ADMIN}/shipping-policy"), 401)


async def test_a_guest_cart_key_is_stored_hashed(app, shop, guest_client):
    raw = guest_client.headers["X-Guest-Key"]
    assert (await guest_client.post(CART, json={"variant_no": shop.white_m, "quantity": 1})).status_code == 201
    rows = await shop.cart_rows()
    stored = [r[2] for r in rows]
    assert len(stored) == 1 and stored[0] != raw and raw not in stored[0]  # the table alone opens no cart
    assert [i["variant_no"] for i in (await guest_client.get(CART)).json()["cart"]["cart_items"]] == [shop.white_m]


async def test_a_members_call_ignores_a_malformed_guest_key(shop, member_client):
    client = await member_client()
    added = await client.post(CART, headers={"X-Guest-Key": "not a key!"}, json={"variant_no": shop.white_m,
                                                                                 "quantity": 1})  # fmt: skip
    assert added.status_code == 201, added.text
    listed = await client.get(CART, headers={"X-Guest-Key": "not a key!"})
    assert [i["variant_no"] for i in listed.json()["cart"]["cart_items"]] == [shop.white_m]


async def test_guest_carts_nobody_comes_back_to_are_dropped_after_30_days(app, shop, guest_client, member_client):
    member = await member_client()
    assert (await guest_client.post(CART, json={"variant_no": shop.white_m, "quantity": 1})).status_code == 201
    assert (await member.post(CART, json={"variant_no": shop.white_s, "quantity": 1})).status_code == 201
    with clock.travel(timedelta(days=cart.GUEST_CART_DAYS - 1)):
        assert await cart.forget_stale_guest_lines(app.state.sessions) == 0
        fresh_guest = {"X-Guest-Key": "f" * 32}  # a guest who comes back within the 30 days keeps the cart
        line = {"variant_no": shop.jeans_navy_28, "quantity": 1}
        added = await guest_client.post(CART, headers=fresh_guest, json=line)
        assert added.status_code == 201, added.text
    with clock.travel(timedelta(days=cart.GUEST_CART_DAYS + 1)):
        assert await cart.forget_stale_guest_lines(app.state.sessions) == 1
    rows = await shop.cart_rows()
    # the member's line, and the guest's who came back
    assert sorted(r[3] for r in rows) == sorted([shop.white_s, shop.jeans_navy_28])
    assert (await guest_client.get(CART)).json()["cart"]["cart_items"] == []
