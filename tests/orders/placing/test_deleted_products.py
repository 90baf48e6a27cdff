"""An order keeps what it sold after its product is deleted, and a deleted product's numbers never name another
product: cancelling the old order gives nothing to the new one, and apps never see one number for two products."""

from __future__ import annotations

from tests.orders.conftest import ADMIN, OrderShop
from tests.orders.placing.conftest import MY_ORDERS, events_of, ok, order

PRODUCTS = f"{ADMIN}/products"


async def test_a_deleted_products_numbers_are_never_reused_and_its_orders_keep_what_they_sold(
    app, shop: OrderShop, member_client, admin_client
):
    admin = await admin_client(["mall.read_product", "mall.write_product"])
    old = ok(await admin.post(PRODUCTS, json={"request": {"name": "Linen Scarf", "price": "12000",
                                                          "default_quantity": 5}}), 201)["product"]  # fmt: skip
    old_no, old_variant = old["product_no"], old["variants"][0]["variant_no"]
    client = await member_client()
    placed = await order(client, [(old_variant, 2)])
    assert await shop.stock(old_variant) == 3

    ok(await admin.delete(f"{PRODUCTS}/{old_no}"))
    new = ok(await admin.post(PRODUCTS, json={"request": {"name": "Wool Hat", "price": "30000",
                                                          "default_quantity": 1}}), 201)["product"]  # fmt: skip
    new_no, new_variant = new["product_no"], new["variants"][0]["variant_no"]
    assert new_no > old_no and new_variant > old_variant  # numbers only ever grow

    # the old order still shows what it sold, and cancelling it touches no other product's stock
    seen = ok(await client.get(f"{MY_ORDERS}/{placed['order_id']}"))["order"]["options"][0]
    assert (seen["product_no"], seen["variant_no"], seen["product_name"], seen["sale_price"], seen["quantity"]) == (
        old_no, old_variant, "Linen Scarf", "12000.00", 2)
    body = {"kind": "CANCEL", "reason": "changed my mind",
            "items": [{"order_option_no": seen["order_option_no"], "quantity": 2}]}  # fmt: skip
    cancelled = ok(await client.post(f"{MY_ORDERS}/{placed['order_id']}/claims", json=body), 201)
    assert (cancelled["claim"]["status"], cancelled["claim"]["refund_amount"]) == ("DONE", placed["pay_amount"])
    assert await shop.stock(new_variant) == 1
    assert await shop.stock(old_variant) is None

    # apps saw two products under two numbers
    created = [e["product_no"] for e in await events_of(app, "product.created")]
    deleted = [e["product_no"] for e in await events_of(app, "product.deleted")]
    assert deleted == [old_no] and created[-2:] == [old_no, new_no]
