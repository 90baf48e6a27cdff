"""Test fixtures: the app on a real database, talked to over HTTP (httpx + ASGI).

Every database test runs on SQLite and, when ``OPENMALL_TEST_DATABASE_URL`` names a PostgreSQL
database, on PostgreSQL too (that database is wiped). Each test starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from openmall.app import create_app
from openmall.catalog import service as catalog
from openmall.catalog.schemas import CategoryIn, OptionIn, ProductIn, VariantIn
from openmall.config import Settings, normalize_database_url
from openmall.kernel import passwords
from openmall.kernel.db import Base, create_engine, session_scope
from openmall.kernel.migrate import upgrade_async
from openmall.malls import service as malls
from openmall.models import load_all
from openmall.oauth import service as oauth
from openmall.oauth.models import App, Developer

BASE_DOMAIN = "openmall.test"
PG_ENV = "OPENMALL_TEST_DATABASE_URL"
STOREFRONT = "test-storefront"  # the client id the test client sends in X-Client-Id; add_mall installs it

load_all()


def worker_database_url() -> str | None:
    """The PostgreSQL database this test process may wipe: ``OPENMALL_TEST_DATABASE_URL`` itself, or, under
    pytest-xdist, a database of the worker's own beside it (``test_gw0``, ``test_gw1``, …)."""
    raw = os.environ.get(PG_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not raw or not worker:
        return raw
    base, _, name = raw.rpartition("/")
    return f"{base}/{name.split('?')[0]}_{worker}"


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, make the worker's own PostgreSQL database if it is not there yet."""
    url, raw = worker_database_url(), os.environ.get(PG_ENV)
    if not url or url == raw:
        return
    import asyncio

    import asyncpg

    async def create() -> None:
        server = normalize_database_url(raw).replace("+asyncpg", "").rsplit("/", 1)[0]
        admin = await asyncpg.connect(server + "/postgres")
        try:
            name = url.rsplit("/", 1)[1]
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create())


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 still, with its cheapest parameters: the suite signs up and logs in hundreds of times.
    (Servers the tests start as processes hash with the real parameters.)"""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", cheap)
    monkeypatch.setattr(passwords, "DUMMY", cheap.hash("not a password of anyone"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'openmall.db'}"
    else:
        raw = worker_database_url()
        if not raw:
            pytest.skip(f"PostgreSQL run skipped: set {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        url = normalize_database_url(raw)
        await _reset_postgres(url)
    await upgrade_async(url)
    return url


@pytest.fixture
async def app(database_url: str):
    settings = Settings(
        database_url=database_url,
        base_domain=BASE_DOMAIN,
        default_mall="demo",
        mall_cache_seconds=0,
        shop_cache_seconds=0,  # tests read what they just wrote; test_cache.py turns it on
        rate_limit_backend="off",  # tests call far more often than 1/s; the rate limit tests turn it on
    )
    application = create_app(settings)
    engine = application.state.engine
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    yield application
    await application.state.direct_reads.close()  # the pools the lifespan would close (tests run none)
    await application.state.order_numbers.close()
    await application.state.payment_attempts.close()
    await engine.dispose()


def host(mall_id: str) -> str:
    return f"http://{mall_id}.{BASE_DOMAIN}"


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"X-Client-Id": STOREFRONT}
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers) as c:
        yield c


@dataclass
class Shop:
    """A small, known catalog in mall ``demo`` and one product in mall ``other``."""

    tops: int
    tshirts: int
    bottoms: int
    hidden_category: int
    hidden_child: int
    white_tee: int  # white only, 19800, two sizes in stock
    navy_tee: int  # 25000, every variant sold out
    jeans: int  # 59000 in Bottoms, navy/black x 28/30, one variant sold out
    hidden: int  # not displayed
    not_selling: int  # displayed but not on sale
    other_mall_product: int


async def add_mall(app, mall_id: str, name: str | None = None, **kw: str) -> None:
    """A mall, with the test storefront app installed (so that the Shop API answers the test client)."""
    async with session_scope(app.state.sessions, "*") as session:
        await malls.create_mall(session, mall_id, name or mall_id.title(), **kw)
    async with session_scope(app.state.sessions, mall_id) as session:
        await install_storefront(session, app.state.key)


async def install_storefront(session, key: bytes) -> None:
    developer = await session.scalar(select(Developer).where(Developer.email == "storefront@openmall.test"))
    if developer is None:
        developer = await oauth.create_developer(session, "storefront@openmall.test", "Storefronts", "storefront-pass")
    storefront = await session.scalar(select(App).where(App.client_id == STOREFRONT))
    if storefront is None:
        made = await oauth.create_app(session, key, developer, name="Test storefront", app_url="https://shop.test/",
                                      redirect_uris=["https://shop.test/cb"], scopes=["mall.read_product"])  # fmt: skip
        storefront = made.app
        storefront.client_id, storefront.status = STOREFRONT, "published"
    await oauth.install_app(session, storefront, session.info["mall_id"], None, [])


@pytest.fixture
async def shop(app) -> Shop:
    await add_mall(app, "demo", "Demo Apparel")
    await add_mall(app, "other", "Other Shop", timezone="America/New_York", currency="USD")
    async with session_scope(app.state.sessions, "demo") as s:
        tops = (await catalog.create_category(s, CategoryIn(name="Tops"))).category_no
        tshirts = (await catalog.create_category(s, CategoryIn(name="T-shirts", parent_category_no=tops))).category_no
        bottoms = (await catalog.create_category(s, CategoryIn(name="Bottoms", display_order=1))).category_no
        hidden_cat = (await catalog.create_category(s, CategoryIn(name="Archive", display=False))).category_no
        hidden_child = (
            await catalog.create_category(s, CategoryIn(name="2019", parent_category_no=hidden_cat))
        ).category_no
        size = OptionIn(name="Size", values=["S", "M"])
        white_tee = await catalog.create_product(
            s,
            ProductIn(
                name="White Cotton Tee",
                product_code="TEE-WHITE",
                price=Decimal("19800"),
                retail_price=Decimal("25000"),
                categories=[tshirts],
                options=[OptionIn(name="Color", values=["white"]), size],
                default_quantity=5,
            ),
        )
        navy_tee = await catalog.create_product(
            s,
            ProductIn(
                name="Navy Pocket Tee",
                product_code="TEE-NAVY",
                price=Decimal("25000"),
                categories=[tshirts],
                options=[OptionIn(name="Color", values=["navy"]), size],
                default_quantity=0,
            ),
        )
        jeans = await catalog.create_product(
            s,
            ProductIn(
                name="Straight Jeans",
                product_code="JEANS-1",
                price=Decimal("59000"),
                categories=[bottoms],
                options=[OptionIn(name="Color", values=["navy", "black"]), OptionIn(name="Waist", values=["28", "30"])],
                variants=[
                    VariantIn(options={"Color": "navy", "Waist": "28"}, quantity=3),
                    VariantIn(options={"Color": "navy", "Waist": "30"}, quantity=0),
                    VariantIn(options={"Color": "black", "Waist": "28"}, quantity=1),
                    VariantIn(
                        options={"Color": "black", "Waist": "30"}, quantity=7, additional_amount=Decimal("2000.50")
                    ),
                ],
            ),
        )
        hidden = await catalog.create_product(
            s, ProductIn(name="Secret Sample", product_code="HIDDEN-1", price=Decimal("1000"), display=False)
        )
        not_selling = await catalog.create_product(
            s, ProductIn(name="Coming Soon Coat", product_code="COAT-1", price=Decimal("199000"), selling=False)
        )
    async with session_scope(app.state.sessions, "other") as s:
        other = await catalog.create_product(
            s, ProductIn(name="Other Mall Hoodie", product_code="TEE-WHITE", price=Decimal("45"), default_quantity=2)
        )
    return Shop(
        tops, tshirts, bottoms, hidden_cat, hidden_child, white_tee, navy_tee, jeans, hidden, not_selling, other
    )


def assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    """The design's error format, the status, and a message that names what went wrong."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == status
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["more_info"], dict)
    for word in words:
        assert word in err["message"], f"{word!r} not in {err['message']!r}"
    assert "Traceback" not in response.text
    return err
