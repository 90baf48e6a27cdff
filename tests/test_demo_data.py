"""The demo mall is a believable clothing shop: enough products, categories, white items, sold-out sizes."""

from __future__ import annotations

from openmall import demo_data
from openmall.kernel.db import session_scope
from openmall.orders import bank_accounts
from tests.conftest import add_mall


async def test_demo_catalog_over_the_shop_api(app, client):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        assert await demo_data.load_catalog(s, 60) == 60
    count = (await client.get("/api/v2/shop/products/count")).json()["count"]
    assert 50 <= count < 60  # a few are hidden, as in a real back office
    cats = (await client.get("/api/v2/shop/categories", params={"limit": 100})).json()["categories"]
    assert {c["name"] for c in cats if c["depth"] == 1} >= {"Tops", "Bottoms", "Outerwear", "Accessories"}
    products = (await client.get("/api/v2/shop/products", params={"limit": 100, "embed": "options,variants"})).json()[
        "products"
    ]
    assert len({p["categories"][0] for p in products}) >= 8
    white = [p for p in products if any("white" in o["values"] for o in p["options"] if o["name"] == "Color")]
    assert len([p for p in white if p["name"].startswith("White ")]) >= 5
    statuses = [v["stock_status"] for p in products for v in p["variants"]]
    assert "sold_out" in statuses and statuses.count("in_stock") > statuses.count("sold_out")
    assert any(p["sold_out"] for p in products)
    assert any(o["name"] == "Size" for p in products for o in p["options"])


async def test_demo_data_can_be_loaded_twice(app, client):
    await add_mall(app, "demo")
    for _ in range(2):
        async with session_scope(app.state.sessions, "demo") as s:
            await demo_data.load_catalog(s, 30)
    cats = (await client.get("/api/v2/shop/categories", params={"limit": 100})).json()["categories"]
    assert len(cats) == len({(c["parent_category_no"], c["name"]) for c in cats})  # categories reused
    listed = (await client.get("/api/v2/shop/products", params={"limit": 100, "fields": "product_code"})).json()
    codes = [p["product_code"] for p in listed["products"]]
    assert len(codes) == len(set(codes)) > 30


async def test_the_demo_buyer_logs_in_with_mileage_an_address_and_a_white_item_coupon(app, client):
    await add_mall(app, "demo")
    for _ in range(2):  # loading twice adds nothing twice
        async with session_scope(app.state.sessions, "demo") as s:
            await demo_data.load_shopping(s)
    member_id, password = demo_data.DEMO_BUYER
    login = await client.post("/api/v2/shop/oauth/token", json={"member_id": member_id, "password": password})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    profile = (await client.get("/api/v2/shop/profile", headers=auth)).json()["profile"]
    assert profile["mileage_balance"] == "5000.00" and profile["group"]["discount_rate"] == "3.00"
    assert len((await client.get("/api/v2/shop/profile/addresses", headers=auth)).json()["addresses"]) == 1
    mine = (await client.get("/api/v2/shop/profile/coupons", params={"usable": "true"}, headers=auth)).json()
    assert [c["target_option_values"] for c in mine["coupons"]] == [[{"name": "Color", "value": "white"}]]
    downloadable = (await client.get("/api/v2/shop/coupons")).json()["coupons"]
    assert [c["kind"] for c in downloadable] == ["CART"]
    async with session_scope(app.state.sessions, "demo") as s:  # the demo mall takes bank transfers
        account = await bank_accounts.get_account(s)
    assert account is not None and account.holder == demo_data.DEMO_MALL_NAME


async def test_the_back_office_app_token_reads_orders(app, client):
    from openmall.oauth import service as oauth

    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        await demo_data.load_operator(s)
        await demo_data.load_storefront(s, app.state.key)
    async with session_scope(app.state.sessions, "demo") as s:
        token, scopes = await oauth.issue_operator_token(s, app.state.key, demo_data.DEMO_BACKOFFICE, "admin", 60, 60)
    assert "mall.write_order" in scopes
    answer = await client.get("/api/v2/admin/orders", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["orders"] == []
    async with session_scope(app.state.sessions, "demo") as s:
        refused = None
        try:
            await oauth.issue_operator_token(s, app.state.key, "no-such-app", "admin", 60, 60)
        except Exception as exc:  # noqa: BLE001
            refused = exc
    assert refused is not None and getattr(refused, "status_code", None) == 404


async def test_the_demo_apps_are_reviewed_so_a_rename_waits_for_the_next_review(app):
    """The demo's published apps went through the review like any other: renamed, they keep their listed name."""
    from openmall.oauth import service as oauth

    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        await demo_data.load_storefront(s, app.state.key)
    async with session_scope(app.state.sessions, "demo") as s:
        for client_id in (demo_data.DEMO_STOREFRONT, demo_data.DEMO_BACKOFFICE):
            listed = await oauth.get_app(s, client_id)
            assert listed.status == "published" and not listed.changes_pending_review
            listed.name = "Official openmall Payments"
            assert listed.changes_pending_review and listed.listed_name.startswith("Demo ")
