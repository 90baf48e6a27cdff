"""The shared response cache: public catalog reads are served again for a few seconds, nothing else is."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import update

from openmall.app import create_app
from openmall.catalog.models import Product
from openmall.config import Settings
from openmall.kernel.db import session_scope
from openmall.kernel.tenancy import CurrentMall
from tests.conftest import BASE_DOMAIN, STOREFRONT, add_mall, host


@pytest.fixture
async def cached_app(database_url):
    app = create_app(
        Settings(database_url=database_url, base_domain=BASE_DOMAIN, mall_cache_seconds=0, shop_cache_seconds=30)
    )
    yield app
    await app.state.direct_reads.close()
    await app.state.engine.dispose()


@pytest.fixture
async def cached(cached_app, shop):  # `shop` fills the same database through the uncached app
    transport = httpx.ASGITransport(app=cached_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers={"X-Client-Id": STOREFRONT}) as c:
        yield c


async def rename(app, product_no: int, name: str) -> None:
    async with session_scope(app.state.sessions, "demo") as s:
        await s.execute(update(Product).where(Product.product_no == product_no).values(name=name))


async def test_a_repeated_read_is_served_from_the_cache(cached, cached_app, shop):
    first = await cached.get(f"/api/v2/shop/products/{shop.white_tee}")
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["cache-control"] == "public, max-age=10"
    await rename(cached_app, shop.white_tee, "Renamed Tee")
    again = await cached.get(f"/api/v2/shop/products/{shop.white_tee}")
    assert again.headers["x-cache"] == "HIT" and "age" in again.headers
    assert again.json() == first.json()  # the cached copy, until it expires
    assert again.headers["x-api-version"] == first.headers["x-api-version"]
    fresh = await cached.get(f"/api/v2/shop/products/{shop.white_tee}", headers={"Cache-Control": "no-cache"})
    assert fresh.json()["product"]["name"] == "Renamed Tee"


async def test_the_key_is_host_path_query_and_version(cached, cached_app, shop):
    await cached.get("/api/v2/shop/products", params={"limit": 1})
    assert (await cached.get("/api/v2/shop/products", params={"limit": 2})).headers["x-cache"] == "MISS"
    other = await cached.get("/api/v2/shop/products", params={"limit": 1}, headers={"Host": f"other.{BASE_DOMAIN}"})
    assert other.headers["x-cache"] == "MISS"
    assert [p["name"] for p in other.json()["products"]] == ["Other Mall Hoodie"]
    assert (await cached.get("/api/v2/shop/products", params={"limit": 1})).headers["x-cache"] == "HIT"


async def test_errors_are_never_cached(cached, cached_app, shop):
    for _ in range(2):
        r = await cached.get("/api/v2/shop/products", params={"limit": 501})
        assert r.status_code == 422 and "x-cache" not in r.headers
    await add_mall(cached_app, "late")
    # a mall that did not exist a moment ago answers as soon as it does
    r = await cached.get("/api/v2/shop/products", headers={"Host": f"late.{BASE_DOMAIN}"})
    assert r.status_code == 200 and r.json() == {"products": []}


async def test_a_write_through_the_same_process_clears_it(cached, cached_app, shop):
    @cached_app.post("/api/v2/test-write")
    async def write(mall: CurrentMall) -> dict:  # a write to mall `demo` (the host names it)
        await rename(cached_app, shop.jeans, "Relaxed Jeans")
        return {"ok": True}

    await cached.get(f"/api/v2/shop/products/{shop.jeans}")
    assert (await cached.post("/api/v2/test-write")).status_code == 200
    after = await cached.get(f"/api/v2/shop/products/{shop.jeans}")
    assert after.headers["x-cache"] == "MISS" and after.json()["product"]["name"] == "Relaxed Jeans"
    # another mall's copies stay
    other = host("other") + "/api/v2/shop/products"
    await cached.get(other)
    await cached.post("/api/v2/test-write")
    assert (await cached.get(other)).headers["x-cache"] == "HIT"


async def test_cache_off_means_every_read_is_fresh(client, app, shop):
    await client.get(f"/api/v2/shop/products/{shop.white_tee}")
    async with session_scope(app.state.sessions, "demo") as s:
        await s.execute(update(Product).where(Product.product_no == shop.white_tee).values(price=Decimal("100")))
    r = await client.get(f"/api/v2/shop/products/{shop.white_tee}")
    assert "x-cache" not in r.headers and r.json()["product"]["price"] == "100.00"


async def test_two_host_headers_cannot_poison_another_mall(cached, cached_app, shop):
    # the first Host header is the one that counts, for tenancy and for the cache alike
    two_hosts = [("host", f"other.{BASE_DOMAIN}"), ("host", f"demo.{BASE_DOMAIN}")]
    req = cached.build_request("GET", "/api/v2/shop/products")
    req.headers = httpx.Headers([*two_hosts, ("x-client-id", STOREFRONT)])
    first = await cached.send(req)
    assert first.status_code == 400 or [p["name"] for p in first.json()["products"]] == ["Other Mall Hoodie"]
    demo = await cached.get("/api/v2/shop/products")
    assert "Other Mall Hoodie" not in [p["name"] for p in demo.json()["products"]]


async def test_memory_is_bounded_in_bytes(cached_app, shop):
    cache = cached_app.state.response_cache
    cache.max_bytes = 5_000
    transport = httpx.ASGITransport(app=cached_app)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers={"X-Client-Id": STOREFRONT}) as c:
        for i in range(40):
            r = await c.get("/api/v2/shop/products", params={"limit": 5, "junk": i})
            assert r.status_code == 200
    assert 0 < cache.size <= 5_000


async def test_responses_vary_by_api_version(cached, shop):
    r = await cached.get("/api/v2/shop/products/count")
    assert r.headers["vary"] == "X-Api-Version, X-Cafe24-Api-Version, X-Client-Id"
