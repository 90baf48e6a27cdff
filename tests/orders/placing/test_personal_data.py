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


async def test_no_admin_read_shows_a_buyer_unmasked_without_the_scope(app, shop: OrderShop, member_client,
                                                                      admin_client):
    """Masking is opt-in per schema (kernel.personal): walk every Admin API read that a buyer's order and member
    number can fill in, with a token of every scope but the personal ones (write implies read), and look for the
    buyer's details."""
    from fastapi.routing import iter_route_contexts

    from openmall.oauth import scopes

    client = await member_client("jane")
    placed = await order(client, [(shop.white_s, 1)])
    ids = {"order_id": placed["order_id"], "member_no": str(placed["member_no"])}
    everything_but = await admin_client(sorted(scopes.ALL - {"mall.read_personal", "mall.write_personal"}))
    secrets_of_jane = ("jane@example.com", "Jane Kim", '"3F"')  # (her phone is the event examples' one)
    walked = 0
    for route in iter_route_contexts(app.routes):
        path = getattr(route, "path", "")
        if not path.startswith("/api/v2/admin/") or "GET" not in getattr(route, "methods", ()):
            continue
        params = set(getattr(route, "param_convertors", {}))
        if not params <= set(ids):
            continue
        answer = await everything_but.get(path.format(**ids))
        walked += 1
        for secret in secrets_of_jane:
            at = answer.text.find(secret)
            assert at < 0, f"GET {path} shows {secret} without mall.read_personal: …{answer.text[at - 200:at + 40]}"
    assert walked >= 10  # the walk reached the customers' and the orders' reads
