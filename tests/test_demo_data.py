"""The demo mall is a believable clothing shop: enough products, categories, white items, sold-out sizes."""

from __future__ import annotations

from openmall import demo_data
from openmall.kernel.db import session_scope
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
