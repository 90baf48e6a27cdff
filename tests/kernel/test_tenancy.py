"""Tenancy: the host names the mall; one mall never sees another's rows, enforced in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update

from openmall.catalog import service as catalog
from openmall.catalog.models import Product
from openmall.catalog.schemas import ProductIn
from openmall.kernel.bulk import bulk_insert
from openmall.kernel.db import TenancyError, session_scope
from openmall.kernel.errors import Conflict, InvalidInput
from openmall.kernel.tenancy import mall_id_for_host
from tests.conftest import BASE_DOMAIN, STOREFRONT, assert_error, host

OTHER = {"Host": f"other.{BASE_DOMAIN}"}
LIST = "/api/v2/shop/products"


# ---- which mall a host names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_host", "expected"),
    [
        ("openmall.test", "demo"),  # bare base domain: the default mall
        ("openmall.test:8000", "demo"),
        ("OpenMall.TEST.", "demo"),
        ("localhost", "demo"),
        ("localhost:8000", "demo"),
        ("127.0.0.1", "demo"),
        ("127.0.0.1:8000", "demo"),
        ("[::1]:8000", "demo"),
        ("[::1]", "demo"),
        ("shop1.openmall.test", "shop1"),
        ("shop1.openmall.test:8443", "shop1"),
        ("SHOP1.OpenMall.Test", "shop1"),
        ("shop1.openmall.test.", "shop1"),
        ("  shop1.openmall.test  ", "shop1"),
        ("a.shop1.openmall.test", None),  # nested sub-domain
        ("example.com", None),
        ("shop1.example.com", None),
        ("evilopenmall.test", None),
        ("openmall.test.example.com", None),
        (".openmall.test", None),
    ],
)
def test_mall_id_for_host(raw_host, expected):
    assert mall_id_for_host(raw_host, BASE_DOMAIN, "demo") == expected


def test_base_domain_given_with_capitals_or_dot():
    assert mall_id_for_host("shop1.openmall.test", "OpenMall.Test.", "demo") == "shop1"
    assert mall_id_for_host("openmall.test", "OpenMall.Test.", "demo") == "demo"


def test_localhost_base_domain():
    assert mall_id_for_host("shop1.localhost:8000", "localhost", "demo") == "shop1"
    assert mall_id_for_host("localhost:8000", "localhost", "main") == "main"


# ---- over HTTP -----------------------------------------------------------------------------------


def nos(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [p["product_no"] for p in response.json()["products"]]


async def test_each_mall_sees_only_its_own_products(client, shop):
    assert nos(await client.get(LIST, headers=OTHER)) == [shop.other_mall_product]
    demo = nos(await client.get(LIST))
    assert shop.other_mall_product not in demo and shop.white_tee in demo
    assert (await client.get(f"{LIST}/count", headers=OTHER)).json() == {"count": 1}
    assert (await client.get(f"{LIST}/count")).json() == {"count": 3}


async def test_a_second_client_on_the_other_host(app, shop):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url=host("other"), headers={"X-Client-Id": STOREFRONT}
    ) as other:
        r = await other.get(f"{LIST}/{shop.other_mall_product}")
        assert r.status_code == 200, r.text
        assert r.json()["product"]["name"] == "Other Mall Hoodie"
        assert_error(await other.get(f"{LIST}/{shop.white_tee}"), 404, str(shop.white_tee))
        assert (await other.get("/api/v2/shop/categories")).json() == {"categories": []}


async def test_no_filter_reaches_across_malls(client, shop):
    for params in (
        {"product_no": f"{shop.white_tee},{shop.jeans}"},
        {"category": shop.tops},
        {"keyword": "tee"},
        {"limit": 500, "since_no": 0},
    ):
        got = nos(await client.get(LIST, params=params, headers=OTHER))
        assert shop.white_tee not in got and shop.jeans not in got, params
    assert nos(await client.get(LIST, params={"product_no": shop.other_mall_product})) == []


async def test_same_product_code_in_two_malls(app, client, shop):
    demo = (await client.get(LIST, params={"keyword": "TEE-WHITE"})).json()["products"]
    other = (await client.get(LIST, params={"keyword": "TEE-WHITE"}, headers=OTHER)).json()["products"]
    assert [p["product_code"] for p in demo] == [p["product_code"] for p in other] == ["TEE-WHITE"]
    assert demo[0]["product_no"] != other[0]["product_no"]
    # a code taken in demo is free in other, but not again in demo
    async with session_scope(app.state.sessions, "other") as s:
        await catalog.create_product(s, ProductIn(name="Navy in Other", product_code="TEE-NAVY", price=Decimal("1")))
    with pytest.raises(Conflict, match="TEE-NAVY"):
        async with session_scope(app.state.sessions, "demo") as s:
            await catalog.create_product(s, ProductIn(name="Again", product_code="TEE-NAVY", price=Decimal("1")))
    assert (await client.get(f"{LIST}/count", headers=OTHER)).json() == {"count": 2}
    assert (await client.get(f"{LIST}/count")).json() == {"count": 3}


async def test_a_product_cannot_link_another_malls_category(app, client, shop):
    with pytest.raises(InvalidInput, match=str(shop.tops)):
        async with session_scope(app.state.sessions, "other") as s:
            await catalog.create_product(s, ProductIn(name="X", price=Decimal("1"), categories=[shop.tops]))
    assert (await client.get(f"{LIST}/count", headers=OTHER)).json() == {"count": 1}


# ---- the session enforces it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: select(Product), id="entity"),
        pytest.param(lambda: select(Product.product_code), id="column"),
        pytest.param(lambda: select(func.count(Product.product_no)), id="count-column"),
        pytest.param(lambda: select(func.count()).select_from(Product), id="count-select_from"),
        pytest.param(lambda: update(Product).values(name="x"), id="update"),
    ],
)
async def test_session_bound_to_no_mall_refuses_mall_owned_tables(app, shop, statement):
    async with app.state.sessions() as s:
        with pytest.raises(TenancyError):
            await s.execute(statement())


async def test_session_bound_to_no_mall_refuses_get(app, shop):
    async with app.state.sessions() as s:
        with pytest.raises(TenancyError):
            await s.get(Product, shop.white_tee)


async def test_session_bound_to_a_mall_reads_and_writes_only_that_mall(app, client, shop):
    async with session_scope(app.state.sessions, "other") as s:
        assert (await s.execute(select(Product.product_code))).scalars().all() == ["TEE-WHITE"]
        assert await s.scalar(select(func.count()).select_from(Product)) == 1
        assert await s.get(Product, shop.white_tee) is None
        await s.execute(update(Product).values(name="Renamed by other"))
    demo = (await client.get(LIST, params={"limit": 500})).json()["products"]
    assert "Renamed by other" not in {p["name"] for p in demo}
    r = await client.get(f"{LIST}/{shop.other_mall_product}", headers=OTHER)
    assert r.json()["product"]["name"] == "Renamed by other"


async def test_a_new_row_of_another_mall_is_refused(app, client, shop):
    with pytest.raises(TenancyError):
        async with session_scope(app.state.sessions, "demo") as s:
            sneak = Product(
                mall_id="other", product_code="SNEAK", name="Sneak", price=Decimal(1), retail_price=Decimal(1)
            )
            s.add(sneak)
            await s.flush()
    assert (await client.get(f"{LIST}/count", headers=OTHER)).json() == {"count": 1}


def _row(mall_id: str, code: str) -> dict:
    now = datetime.now(UTC)
    return {
        "mall_id": mall_id,
        "product_code": code,
        "name": code,
        "summary": "",
        "description": "",
        "price": Decimal("1.00"),
        "retail_price": Decimal("1.00"),
        "display": True,
        "selling": True,
        "brand_no": None,
        "options": [],
        "created_at": now,
        "updated_at": now,
    }


async def test_bulk_insert_refuses_rows_of_another_mall(app, client, shop):
    with pytest.raises(TenancyError):
        async with session_scope(app.state.sessions, "demo") as s:
            await bulk_insert(s, Product.__table__, [_row("demo", "BULK-1"), _row("other", "BULK-2")])
    with pytest.raises(TenancyError):
        async with app.state.sessions() as s:  # bound to no mall
            await bulk_insert(s, Product.__table__, [_row("demo", "BULK-3")])
    with pytest.raises(TenancyError):
        async with session_scope(app.state.sessions, "*") as s:  # platform-wide is not a mall either
            await bulk_insert(s, Product.__table__, [_row("demo", "BULK-4")])
    assert (await client.get(f"{LIST}/count", headers=OTHER)).json() == {"count": 1}
    assert (await client.get(f"{LIST}/count")).json() == {"count": 3}


async def test_bulk_insert_into_the_sessions_mall(app, client, shop):
    async with session_scope(app.state.sessions, "other") as s:
        await bulk_insert(s, Product.__table__, [_row("other", "BULK-OK")])
    got = (await client.get(LIST, params={"keyword": "BULK-OK"}, headers=OTHER)).json()["products"]
    assert [p["price"] for p in got] == ["1.00"]
    assert nos(await client.get(LIST, params={"keyword": "BULK-OK"})) == []


# ---- each mall's own time zone -------------------------------------------------------------------


async def test_times_render_in_each_malls_zone(client, shop):
    demo = (await client.get(f"{LIST}/{shop.white_tee}")).json()["product"]
    other = (await client.get(f"{LIST}/{shop.other_mall_product}", headers=OTHER)).json()["product"]
    assert demo["created_date"].endswith("+09:00")  # Asia/Seoul
    assert other["created_date"][-6:] in {"-05:00", "-04:00"}  # America/New_York, with or without DST
    now = datetime.now(UTC)
    for p in (demo, other):
        for key in ("created_date", "updated_date"):
            t = datetime.fromisoformat(p[key])
            assert t.tzinfo is not None
            assert abs(t - now) < timedelta(minutes=5)  # the same instant, only drawn in another zone
