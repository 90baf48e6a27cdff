"""The mall's account for bank transfers: set through the Admin API, shown on every bank-transfer order; a mall
without one takes no bank transfers (a 409 that changes nothing)."""

from __future__ import annotations

import pytest

from openmall.kernel.db import session_scope
from openmall.orders import bank_accounts
from tests.conftest import assert_error
from tests.orders.conftest import BANK, OrderShop
from tests.orders.placing.conftest import PAY, counts, ok, pay, reserve, sheet

ACCOUNT = "/api/v2/admin/store/bank-account"


@pytest.fixture
async def store(admin_client):
    return await admin_client(["mall.read_store", "mall.write_store"])


async def test_a_bank_transfer_order_shows_the_malls_account(app, shop: OrderShop, member_client, store):
    client = await member_client()
    placed = ok(await pay(client, await sheet(client, [(shop.white_s, 1)]), pay_type="BANK_TRANSFER"), 201)["order"]
    deposit = placed["deposit"]
    assert (deposit["bank"], deposit["account"], deposit["holder"]) == (BANK["bank"], BANK["account"], BANK["holder"])

    new = {"bank": "Shinhan Bank", "account_number": "110-222-333444", "holder": "Demo Apparel Ltd."}
    assert ok(await store.put(ACCOUNT, json={"request": new}))["bank_account"] == new
    assert ok(await store.get(ACCOUNT))["bank_account"] == new
    later = ok(await pay(client, await sheet(client, [(shop.white_m, 1)]), pay_type="BANK_TRANSFER"), 201)["order"]
    assert (later["deposit"]["bank"], later["deposit"]["account"]) == ("Shinhan Bank", "110-222-333444")
    # the first order keeps the account its buyer was told
    first = ok(await client.get(f"/api/v2/shop/profile/orders/{placed['order_id']}"))["order"]
    assert first["deposit"]["account"] == BANK["account"]


async def test_without_an_account_bank_transfers_are_refused_and_cards_still_work(app, shop, member_client, store):
    client = await member_client()
    s = await sheet(client, [(shop.white_s, 1)])
    key = ok(await reserve(client, s, "BANK_TRANSFER"), 201)["payment"]["payment_key"]
    assert ok(await store.delete(ACCOUNT))["bank_account"] is None
    assert ok(await store.get(ACCOUNT))["bank_account"] is None

    before = await counts(app)
    assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key}), 409, "no bank transfers")
    assert_error(await reserve(client, await sheet(client, [(shop.white_m, 1)]), "BANK_TRANSFER"), 409,
                 "pay by card")  # fmt: skip
    assert await counts(app) == before  # no order, stock, sheet or payment changed
    assert ok(await pay(client, s), 201)["order"]["status"] == "PAY_DONE"  # the same sheet, by card


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"request": {"bank": "", "account_number": "110-222-333", "holder": "A"}}, "bank"),
        ({"request": {"bank": "B", "account_number": "call me", "holder": "A"}}, "account_number"),
        ({"request": {"bank": "B", "account_number": "12", "holder": "A"}}, "account_number"),
        ({"request": {"bank": "B", "account_number": "110-222-333", "holder": "A", "iban": "x"}}, "iban"),
        ({"request": {"bank": "B", "account_number": "110-222-333"}}, "holder"),
        ({"bank": "B", "account_number": "110-222-333", "holder": "A"}, "request"),
    ],
)
async def test_bad_accounts_are_refused_and_change_nothing(app, shop, store, body, field):
    assert_error(await store.put(ACCOUNT, json=body), 422)
    assert field in (await store.put(ACCOUNT, json=body)).text
    assert ok(await store.get(ACCOUNT))["bank_account"] == {"bank": BANK["bank"], "account_number": BANK["account"],
                                                           "holder": BANK["holder"]}  # fmt: skip


async def test_the_account_is_the_malls_own_and_needs_the_store_scopes(app, shop: OrderShop, store, admin_client):
    async with session_scope(app.state.sessions, "other") as s:
        assert await bank_accounts.get_account(s) is None  # the demo mall's account is not the other mall's
    orders_only = await admin_client(["mall.read_order", "mall.write_order"])
    assert_error(await orders_only.get(ACCOUNT), 403)
    assert_error(await orders_only.delete(ACCOUNT), 403)
    assert ok(await store.get(ACCOUNT))["bank_account"]["account_number"] == BANK["account"]
