"""The whole path over HTTP against a real ``openmall serve`` (embedded SQLite, the demo mall), as the
README's "Sell through the Shop API" walks it: log in → cart → coupon → order sheet → calculate with
coupons and mileage → reserve → a declined card, then a good one → the shop ships and delivers (an
Admin API token from ``openmall app token``) → the buyer confirms → mileage earned; a bank-transfer
order paid by the shop's deposit confirmation; a partial cancel with its refund."""

from __future__ import annotations

import os
import subprocess
import time
from decimal import Decimal

import httpx
import pytest

from tests.test_cli import CLI, free_port, run

SHOP_HEADERS = {"X-Client-Id": "demo-storefront"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(base + "/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base, folder
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_the_whole_path_against_openmall_serve(served) -> None:
    base, folder = served
    token = run(folder, "app", "token", "demo-backoffice", "--mall", "demo")
    assert token.returncode == 0, token.stdout + token.stderr
    admin = httpx.Client(
        base_url=base + "/api/v2/admin", headers={"Authorization": f"Bearer {token.stdout.split()[0]}"}
    )
    shop = httpx.Client(base_url=base + "/api/v2/shop", headers=SHOP_HEADERS)
    login = ok(
        shop.post(
            "/oauth/token",
            params={"trackingKey": "fall-campaign-01"},
            json={"member_id": "demo-buyer", "password": "demo-buyer-1234"},
        )
    )
    shop.headers["Authorization"] = f"Bearer {login['access_token']}"

    white = next(
        v
        for p in ok(shop.get("/products", params={"limit": 100, "embed": "variants"}))["products"]
        for v in p["variants"]
        if p["name"].startswith("White ") and v["stock_status"] == "in_stock"
    )
    item = ok(shop.post("/cart", json={"variant_no": white["variant_no"], "quantity": 2}), 201)["cart_item"]
    ok(shop.post("/coupons/1/download"), 201)
    mine = {
        c["kind"]: c["issued_coupon_no"] for c in ok(shop.get("/profile/coupons", params={"usable": "true"}))["coupons"]
    }
    sheet = ok(
        shop.post(
            "/order-sheets",
            params={"trackingKey": "fall-campaign-01"},
            json={"cart_item_nos": [item["cart_item_no"]], "channel_type": "KAKAO_TALK"},
        ),
        201,
    )
    number = sheet["order_sheet"]["order_sheet_no"]
    priced = ok(
        shop.post(
            f"/order-sheets/{number}/calculate",
            json={
                "product_coupons": [{"variant_no": white["variant_no"], "issued_coupon_no": mine["PRODUCT"]}],
                "cart_coupon_no": mine["CART"],
                "mileage": "3000",
            },
        )
    )["order_sheet"]["price"]
    parts = [Decimal(priced[k]) for k in ("product_amount", "cart_coupon_discount", "shipping_fee", "mileage")]
    assert Decimal(priced["amount_to_pay"]) == parts[0] - parts[1] + parts[2] - parts[3]
    assert Decimal(priced["product_coupon_discount"]) > 0 and Decimal(priced["additional_discount"]) > 0

    stale = shop.post("/payments/reserve", json={"order_sheet_no": number, "pay_type": "CARD", "amount": "1000"})
    assert stale.status_code == 409 and stale.json()["error"]["more_info"]["amount_to_pay"] == priced["amount_to_pay"]
    key = ok(
        shop.post(
            "/payments/reserve", json={"order_sheet_no": number, "pay_type": "CARD", "amount": priced["amount_to_pay"]}
        ),
        201,
    )["payment"]["payment_key"]
    declined = shop.post("/payments/confirm", json={"payment_key": key, "card_number": "4000000000000002"})
    assert declined.status_code == 402
    order = ok(shop.post("/payments/confirm", json={"payment_key": key, "card_number": "4242424242424242"}), 201)[
        "order"
    ]
    assert (order["status"], order["tracking_key"], order["pay_amount"]) == (
        "PAY_DONE",
        "fall-campaign-01",
        priced["amount_to_pay"],
    )
    again = shop.post(
        "/payments/reserve", json={"order_sheet_no": number, "pay_type": "CARD", "amount": priced["amount_to_pay"]}
    )
    assert again.status_code == 409

    oid = order["order_id"]
    shipped = ok(
        admin.post(
            f"/orders/{oid}/shipments", json={"request": {"carrier": "CJ Logistics", "tracking_number": "612345678901"}}
        ),
        201,
    )
    assert shipped["order"]["status"] == "DELIVERY_ING"
    ok(admin.put(f"/orders/{oid}/status", json={"request": {"status": "DELIVERY_DONE"}}))
    confirmed = ok(shop.post(f"/profile/orders/{oid}/confirm"))["order"]
    earned = (Decimal(order["pay_amount"]) / 100).quantize(Decimal("1"), rounding="ROUND_DOWN")  # Silver: 1 %
    assert confirmed["status"] == "BUY_CONFIRM" and Decimal(confirmed["mileage_earned"]) == earned
    assert Decimal(ok(shop.get("/profile/mileage"))["mileage"]["balance"]) == 5000 - 3000 + earned

    # bank transfer: waits for the deposit; the shop confirms it
    sheet = ok(shop.post("/order-sheets", json={"items": [{"variant_no": white["variant_no"], "quantity": 1}]}), 201)
    number, amount = sheet["order_sheet"]["order_sheet_no"], sheet["order_sheet"]["price"]["amount_to_pay"]
    key = ok(
        shop.post("/payments/reserve", json={"order_sheet_no": number, "pay_type": "BANK_TRANSFER", "amount": amount}),
        201,
    )["payment"]["payment_key"]
    waiting = ok(shop.post("/payments/confirm", json={"payment_key": key}), 201)["order"]
    assert waiting["status"] == "DEPOSIT_WAIT" and waiting["deposit"]["amount"] == amount
    assert ok(admin.post(f"/orders/{waiting['order_id']}/deposit"))["order"]["status"] == "PAY_DONE"

    # a partial cancel: one of two units
    sheet = ok(shop.post("/order-sheets", json={"items": [{"variant_no": white["variant_no"], "quantity": 2}]}), 201)
    number, amount = sheet["order_sheet"]["order_sheet_no"], sheet["order_sheet"]["price"]["amount_to_pay"]
    key = ok(
        shop.post("/payments/reserve", json={"order_sheet_no": number, "pay_type": "CARD", "amount": amount}), 201
    )["payment"]["payment_key"]
    two = ok(shop.post("/payments/confirm", json={"payment_key": key, "card_number": "4242424242424242"}), 201)["order"]
    option = two["options"][0]["order_option_no"]
    claim = ok(
        shop.post(
            f"/profile/orders/{two['order_id']}/claims",
            json={"kind": "CANCEL", "items": [{"order_option_no": option, "quantity": 1}]},
        ),
        201,
    )
    assert claim["claim"]["status"] == "DONE" and 0 < Decimal(claim["claim"]["refund_amount"]) < Decimal(amount)
    assert claim["order"]["refunded_amount"] == claim["claim"]["refund_amount"]
    listed = ok(admin.get("/orders", params={"status": "PAY_DONE,BUY_CONFIRM"}))["orders"]
    assert {o["order_id"] for o in listed} >= {oid, waiting["order_id"], two["order_id"]}
