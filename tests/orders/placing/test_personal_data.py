"""The buyer's and the receiver's details in the orders' Admin API need mall.read_personal: without it they come
masked, in every answer that carries an order (list, one, status change, claim); the member's own Shop API answer
is never masked."""

from __future__ import annotations

from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import ADMIN, MY_ORDERS, ORDERS, ok, order

CLAIMS = f"{ADMIN}/claims"
MASKED_ADDRESS = {"receiver_name": "J*** **m", "receiver_phone": "010-****-5678", "zip_code": "04524",
                  "address1": "1 Sejong-daero", "address2": "**"}  # fmt: skip


def _personal(o: dict) -> tuple[dict, dict]:
    return ({k: o["orderer"][k] for k in ("name", "email")},
            {k: o["shipping_address"][k] for k in MASKED_ADDRESS})  # fmt: skip


async def test_orders_show_the_buyer_masked_without_the_scope(app, shop: OrderShop, member_client, admin_client):
    client = await member_client("jane")
    placed = await order(client, [(shop.white_s, 1)])
    full = (({"name": "Jane", "email": "jane@example.com"}),
            {"receiver_name": "Jane Kim", "receiver_phone": "010-1234-5678", "zip_code": "04524",
             "address1": "1 Sejong-daero", "address2": "3F"})  # fmt: skip
    masked = ({"name": "J**e", "email": "j***@example.com"}, MASKED_ADDRESS)
    assert _personal(placed) == full  # the member's own answer
    oid = placed["order_id"]

    plain = await admin_client(["mall.read_order", "mall.write_order"])
    personal = await admin_client(["mall.read_order", "mall.read_personal"])
    assert _personal(ok(await plain.get(ORDERS))["orders"][0]) == masked
    assert _personal(ok(await plain.get(f"{ORDERS}/{oid}"))["order"]) == masked
    fields = ok(await plain.get(f"{ORDERS}/{oid}", params={"fields": "order_id,orderer"}))["order"]
    assert fields["orderer"]["name"] == "J**e"
    changed = ok(await plain.put(f"{ORDERS}/{oid}/status", json={"request": {"status": "PRODUCT_PREPARE"}}))
    assert _personal(changed["order"]) == masked
    assert _personal(ok(await personal.get(ORDERS))["orders"][0]) == full
    assert _personal(ok(await personal.get(f"{ORDERS}/{oid}"))["order"]) == full

    requested = ok(await client.post(f"{MY_ORDERS}/{oid}/claims", json={
        "kind": "CANCEL", "reason": "changed my mind",
        "items": [{"order_option_no": placed["options"][0]["order_option_no"], "quantity": 1}]}), 201)  # fmt: skip
    assert _personal(requested["order"]) == full  # the member's own claim answer
    done = ok(await plain.post(f"{CLAIMS}/{requested['claim']['claim_no']}/complete"))
    assert _personal(done["order"]) == masked
    assert _personal(ok(await client.get(f"{MY_ORDERS}/{oid}"))["order"]) == full
