"""Lists on a larger catalog: default limit, limit/offset slices, the since_no cursor, the bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from openmall.catalog import service as catalog
from openmall.catalog.schemas import CategoryIn, ProductIn
from openmall.kernel.db import session_scope
from tests.conftest import add_mall

LIST = "/api/v2/shop/products"
VISIBLE = 25


@pytest.fixture
async def many(app) -> list[int]:
    """25 displayed products on sale (prices with ties) plus two that a storefront never sees."""
    await add_mall(app, "demo")
    items = [
        ProductIn(name=f"Item {i:02d}", product_code=f"ITEM-{i:02d}", price=Decimal(1000 * (i % 5) + 500))
        for i in range(VISIBLE)
    ]
    items.insert(7, ProductIn(name="Hidden", product_code="HIDDEN", price=Decimal("1"), display=False))
    items.insert(15, ProductIn(name="Not on sale", product_code="NOSALE", price=Decimal("1"), selling=False))
    async with session_scope(app.state.sessions, "demo") as s:
        nos = await catalog.create_products(s, items)
    hidden = {nos[7], nos[15]}
    return sorted(n for n in nos if n not in hidden)


def nos(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [p["product_no"] for p in response.json()["products"]]


async def test_default_limit_is_ten(client, many):
    assert nos(await client.get(LIST)) == many[:10]


async def test_limit_500_is_accepted_and_returns_everything(client, many):
    everything = nos(await client.get(LIST, params={"limit": 500}))
    assert everything == many
    assert len(everything) == VISIBLE


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (5, 0), (5, 5), (7, 20), (10, 24), (3, 25), (10, 10000)])
async def test_limit_offset_slice_the_full_list(client, many, limit, offset):
    got = nos(await client.get(LIST, params={"limit": limit, "offset": offset}))
    assert got == many[offset : offset + limit]


async def test_offset_pages_cover_the_list_once(client, many):
    seen: list[int] = []
    for offset in range(0, 40, 6):
        seen += nos(await client.get(LIST, params={"limit": 6, "offset": offset}))
    assert seen == many


@pytest.mark.parametrize("limit", [1, 4, 7, 10, 25, 500])
async def test_since_no_walk_visits_every_product_once_in_order(client, many, limit):
    seen: list[int] = []
    since = 0
    for _ in range(VISIBLE + 2):
        page = nos(await client.get(LIST, params={"limit": limit, "since_no": since}))
        if not page:
            break
        assert len(page) <= limit
        seen += page
        since = page[-1]
    assert seen == many  # every product, once, ascending


async def test_since_no_without_limit_uses_the_default(client, many):
    assert nos(await client.get(LIST, params={"since_no": many[2]})) == many[3:13]


async def test_since_no_beyond_the_last_is_empty(client, many):
    assert nos(await client.get(LIST, params={"since_no": many[-1]})) == []


async def test_since_no_combines_with_filters(client, many):
    cheap = nos(await client.get(LIST, params={"limit": 500, "price_max": "1500"}))
    assert cheap and len(cheap) < VISIBLE
    walked: list[int] = []
    since = 0
    while page := nos(await client.get(LIST, params={"limit": 2, "since_no": since, "price_max": "1500"})):
        walked += page
        since = page[-1]
    assert walked == cheap


@pytest.mark.parametrize("sort", ["price", "-price", "name", "-product_no"])
async def test_offset_pages_are_stable_under_a_sort_with_ties(client, many, sort):
    full = nos(await client.get(LIST, params={"limit": 500, "sort": sort}))
    assert sorted(full) == many
    paged: list[int] = []
    for offset in range(0, VISIBLE, 4):
        paged += nos(await client.get(LIST, params={"limit": 4, "offset": offset, "sort": sort}))
    assert paged == full


async def test_price_sort_orders_by_amount_then_number(client, many):
    body = (await client.get(LIST, params={"limit": 500, "sort": "price"})).json()["products"]
    keys = [(Decimal(p["price"]), p["product_no"]) for p in body]
    assert keys == sorted(keys)
    body = (await client.get(LIST, params={"limit": 500, "sort": "-price"})).json()["products"]
    keys = [(Decimal(p["price"]), p["product_no"]) for p in body]
    assert keys == sorted(keys, reverse=True)


async def test_count_ignores_paging(client, many):
    r = await client.get(f"{LIST}/count", params={"limit": 1, "offset": 3})
    assert r.status_code == 200
    assert r.json() == {"count": VISIBLE}


async def test_categories_page_the_same_way(app, client):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        cats = [(await catalog.create_category(s, CategoryIn(name=f"C{i:02d}"))).category_no for i in range(13)]

    def cat_nos(r) -> list[int]:
        assert r.status_code == 200, r.text
        return [c["category_no"] for c in r.json()["categories"]]

    assert cat_nos(await client.get("/api/v2/shop/categories")) == cats[:10]
    assert cat_nos(await client.get("/api/v2/shop/categories", params={"limit": 4, "offset": 8})) == cats[8:12]
    walked: list[int] = []
    since = 0
    while page := cat_nos(await client.get("/api/v2/shop/categories", params={"limit": 5, "since_no": since})):
        walked += page
        since = page[-1]
    assert walked == cats
