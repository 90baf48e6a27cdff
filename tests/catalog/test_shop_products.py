"""The storefront reads products the way a headless skin does: over HTTP, scoped to its mall."""

from __future__ import annotations

from openmall.catalog import service as catalog
from openmall.catalog.schemas import CategoryIn
from openmall.kernel.db import session_scope
from tests.conftest import assert_error


def nos(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [p["product_no"] for p in response.json()["products"]]


async def test_list_shows_only_displayed_products_on_sale(client, shop):
    listed = nos(await client.get("/api/v2/shop/products"))
    assert listed == [shop.white_tee, shop.navy_tee, shop.jeans]
    assert shop.hidden not in listed and shop.not_selling not in listed
    assert shop.other_mall_product not in listed


async def test_list_item_shape_money_and_time(client, shop):
    body = (await client.get("/api/v2/shop/products", params={"product_no": shop.white_tee})).json()
    (tee,) = body["products"]
    assert tee["price"] == "19800.00" and tee["retail_price"] == "25000.00"
    assert tee["categories"] == [shop.tshirts]
    assert tee["sold_out"] is False
    assert tee["created_date"].endswith("+09:00")  # Asia/Seoul, the mall's zone
    assert "variants" not in tee and "options" not in tee


async def test_category_filter_includes_sub_categories_and_or_lists(client, shop):
    assert nos(await client.get("/api/v2/shop/products", params={"category": shop.tops})) == [
        shop.white_tee,
        shop.navy_tee,
    ]
    both = nos(await client.get("/api/v2/shop/products", params={"category": f"{shop.tshirts},{shop.bottoms}"}))
    assert both == [shop.white_tee, shop.navy_tee, shop.jeans]
    assert nos(await client.get("/api/v2/shop/products", params={"category": 999999})) == []


async def test_keyword_and_price_range(client, shop):
    assert nos(await client.get("/api/v2/shop/products", params={"keyword": "tee"})) == [shop.white_tee, shop.navy_tee]
    assert nos(await client.get("/api/v2/shop/products", params={"keyword": "100%"})) == []
    ranged = await client.get("/api/v2/shop/products", params={"price_min": "20000", "price_max": "59000.00"})
    assert nos(ranged) == [shop.navy_tee, shop.jeans]


async def test_sort(client, shop):
    cheap_first = nos(await client.get("/api/v2/shop/products", params={"sort": "price"}))
    assert cheap_first == [shop.white_tee, shop.navy_tee, shop.jeans]
    assert nos(await client.get("/api/v2/shop/products", params={"sort": "-price"})) == cheap_first[::-1]
    assert nos(await client.get("/api/v2/shop/products", params={"sort": "name"})) == [
        shop.navy_tee,
        shop.jeans,
        shop.white_tee,
    ]


async def test_fields_and_embed(client, shop):
    body = (await client.get("/api/v2/shop/products", params={"fields": "product_no,price", "limit": 1})).json()
    assert body["products"] == [{"product_no": shop.white_tee, "price": "19800.00"}]
    body = (await client.get("/api/v2/shop/products", params={"embed": "variants", "product_no": shop.jeans})).json()
    (jeans,) = body["products"]
    assert [v["stock_status"] for v in jeans["variants"]] == ["in_stock", "sold_out", "in_stock", "in_stock"]


async def test_count_matches_list(client, shop):
    r = await client.get("/api/v2/shop/products/count", params={"category": shop.tops})
    assert r.json() == {"count": 2}


async def test_detail_has_options_variants_and_stock(client, shop):
    r = await client.get(f"/api/v2/shop/products/{shop.jeans}")
    assert r.status_code == 200, r.text
    p = r.json()["product"]
    assert p["options"] == [{"name": "Color", "values": ["navy", "black"]}, {"name": "Waist", "values": ["28", "30"]}]
    assert len(p["variants"]) == 4
    last = p["variants"][3]
    assert last["options"] == [{"name": "Color", "value": "black"}, {"name": "Waist", "value": "30"}]
    assert last["additional_amount"] == "2000.50" and last["price"] == "61000.50"
    assert p["variants"][1]["stock_status"] == "sold_out"
    assert "quantity" not in last  # the storefront sees stock status, not the count
    assert p["sold_out"] is False


async def test_product_with_no_stock_is_sold_out(client, shop):
    p = (await client.get(f"/api/v2/shop/products/{shop.navy_tee}")).json()["product"]
    assert p["sold_out"] is True
    assert {v["stock_status"] for v in p["variants"]} == {"sold_out"}


async def test_detail_fields(client, shop):
    r = await client.get(f"/api/v2/shop/products/{shop.white_tee}", params={"fields": "name,variants"})
    p = r.json()["product"]
    assert set(p) == {"name", "variants"} and len(p["variants"]) == 2


async def test_hidden_and_foreign_products_are_not_found(client, shop):
    assert_error(await client.get(f"/api/v2/shop/products/{shop.hidden}"), 404, str(shop.hidden))
    assert_error(await client.get(f"/api/v2/shop/products/{shop.other_mall_product}"), 404)
    assert_error(await client.get("/api/v2/shop/products/99999999"), 404)


async def test_displayed_product_not_on_sale_can_be_viewed(client, shop):
    p = (await client.get(f"/api/v2/shop/products/{shop.not_selling}")).json()["product"]
    assert p["selling"] is False


async def test_categories_tree(client, shop):
    r = await client.get("/api/v2/shop/categories")
    assert r.status_code == 200
    cats = {c["category_no"]: c for c in r.json()["categories"]}
    assert set(cats) == {shop.tops, shop.tshirts, shop.bottoms}  # a hidden category hides its children
    tshirts = cats[shop.tshirts]
    assert tshirts["depth"] == 2 and tshirts["parent_category_no"] == shop.tops
    assert tshirts["full_category_name"] == ["Tops", "T-shirts"]
    assert tshirts["full_category_no"] == [shop.tops, shop.tshirts]


async def test_categories_come_parents_first(app, client, shop):
    # a sub-category ordered before its parent's siblings still comes right after its parent
    async with session_scope(app.state.sessions, "demo") as s:
        early = await catalog.create_category(s, CategoryIn(name="Shorts", parent_category_no=shop.bottoms,
                                                            display_order=-5))  # fmt: skip
    cats = (await client.get("/api/v2/shop/categories")).json()["categories"]
    assert [c["category_no"] for c in cats] == [shop.tops, shop.tshirts, shop.bottoms, early.category_no]
