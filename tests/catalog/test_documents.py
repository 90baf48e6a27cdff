"""The storefront read model answers exactly what the live read answers, and never goes stale."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, select, update

from openmall import demo_data
from openmall.catalog import documents
from openmall.catalog.models import Product, ProductCategory, Variant
from openmall.catalog.schemas import ShopProductOut
from openmall.kernel.db import session_scope
from tests.conftest import add_mall

ALL_LIST_FIELDS = ",".join(sorted(documents.LIST_FIELDS))
ALL_FIELDS = ",".join(ShopProductOut.model_fields)


async def stored(app, product_no: int) -> str | None:
    async with session_scope(app.state.sessions, "demo") as s:
        return await s.scalar(select(Product.detail_doc).where(Product.product_no == product_no))


async def test_stored_documents_equal_the_live_answer(app, client):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        await demo_data.load_catalog(s, 40)
    listed = await client.get("/api/v2/shop/products", params={"limit": 100})
    live = await client.get("/api/v2/shop/products", params={"limit": 100, "fields": ALL_LIST_FIELDS})
    assert listed.json() == live.json() and len(listed.json()["products"]) > 30
    for p in listed.json()["products"]:
        assert await stored(app, p["product_no"]) is not None  # the fast path is the one answering
        fast = await client.get(f"/api/v2/shop/products/{p['product_no']}")
        slow = await client.get(f"/api/v2/shop/products/{p['product_no']}", params={"fields": ALL_FIELDS})
        assert fast.json() == slow.json()


async def test_a_stock_change_is_seen_at_once(app, client, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        await s.execute(update(Variant).where(Variant.product_no == shop.white_tee).values(quantity=0))
    assert await stored(app, shop.white_tee) is None  # dropped by the change itself
    p = (await client.get(f"/api/v2/shop/products/{shop.white_tee}")).json()["product"]
    assert p["sold_out"] is True
    listed = (await client.get("/api/v2/shop/products", params={"product_no": shop.white_tee})).json()
    assert listed["products"][0]["sold_out"] is True
    async with session_scope(app.state.sessions, "demo") as s:
        await documents.refresh(s, [shop.white_tee])
    assert '"sold_out":true' in (await stored(app, shop.white_tee) or "")


async def test_changes_through_objects_drop_documents_too(app, client, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        product = await s.get(Product, shop.jeans)
        product.price = Decimal("10000")
    assert (await client.get(f"/api/v2/shop/products/{shop.jeans}")).json()["product"]["price"] == "10000.00"
    async with session_scope(app.state.sessions, "demo") as s:
        await documents.refresh(s, [shop.jeans])
        variant = await s.scalar(select(Variant).where(Variant.product_no == shop.jeans).limit(1))
        variant.selling = False
    p = (await client.get(f"/api/v2/shop/products/{shop.jeans}")).json()["product"]
    assert p["variants"][0]["selling"] is False


async def test_category_links_and_deleted_variants_drop_documents(app, client, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        await s.execute(delete(ProductCategory).where(ProductCategory.product_no == shop.white_tee))
    assert (await client.get(f"/api/v2/shop/products/{shop.white_tee}")).json()["product"]["categories"] == []
    async with session_scope(app.state.sessions, "demo") as s:
        await documents.refresh(s, [shop.jeans])
        await s.execute(delete(Variant).where(Variant.product_no == shop.jeans, Variant.quantity == 0))
    assert len((await client.get(f"/api/v2/shop/products/{shop.jeans}")).json()["product"]["variants"]) == 3


async def test_hidden_products_are_not_served_from_documents(app, client, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        await documents.refresh(s, [shop.hidden])
    assert await stored(app, shop.hidden) is not None
    assert (await client.get(f"/api/v2/shop/products/{shop.hidden}")).status_code == 404
    other = await client.get(f"/api/v2/shop/products/{shop.other_mall_product}")
    assert other.status_code == 404


async def test_answers_match_the_published_schema(client, shop):
    for no in (shop.white_tee, shop.jeans, shop.navy_tee):
        body = (await client.get(f"/api/v2/shop/products/{no}")).json()["product"]
        model = ShopProductOut.model_validate(body)
        assert set(body) == set(ShopProductOut.model_fields)
        assert model.model_dump(mode="json", context={"timezone": "Asia/Seoul"}) == body
