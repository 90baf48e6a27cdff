"""No number of any resource is handed out twice, on any database: a deleted row's number stays its own.

SQLite gives a deleted row's rowid to the next insert unless the table is AUTOINCREMENT (PostgreSQL's sequences
never go back); every table keyed by one integer column is made so (``kernel.db``), and migration 0011 rebuilds the
tables of existing SQLite databases that way.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import httpx
from sqlalchemy import inspect, text

from openmall.kernel.db import Base, create_engine, utcnow
from openmall.kernel.migrate import upgrade_async
from tests.catalog.test_admin_api import install_tool, issue_token
from tests.conftest import Shop, host

ADMIN = "/api/v2/admin"
SCOPES = ["mall.read_product", "mall.write_product", "mall.read_category", "mall.write_category",
          "mall.read_promotion", "mall.write_promotion"]  # fmt: skip


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def admin_client(app) -> httpx.AsyncClient:
    token = await issue_token(app, await install_tool(app), SCOPES)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=host("demo"), headers={"Authorization": f"Bearer {token}"})


async def test_a_deleted_number_is_never_handed_out_again(app, shop: Shop):
    async with await admin_client(app) as admin:
        # products, and their variants
        made = ok(await admin.post(f"{ADMIN}/products", json={"request": {"name": "Scarf", "price": "1000"}}), 201)
        product = made["product"]["product_no"]
        ok(await admin.delete(f"{ADMIN}/products/{product}"))
        again = ok(await admin.post(f"{ADMIN}/products", json={"request": {"name": "Hat", "price": "1000"}}), 201)
        assert again["product"]["product_no"] > product
        assert again["product"]["variants"][0]["variant_no"] > made["product"]["variants"][0]["variant_no"]

        # a variant taken away by its option value, then the value back: a new variant, a new number
        hat = again["product"]["product_no"]
        sizes = ok(await admin.put(f"{ADMIN}/products/{hat}/options", json={"request": {"options": [
            {"name": "Size", "values": ["S", "M"]}]}}))["product"]["variants"]  # fmt: skip
        m = max(v["variant_no"] for v in sizes)
        ok(await admin.put(f"{ADMIN}/products/{hat}/options",
                           json={"request": {"options": [{"name": "Size", "values": ["S"]}]}}))  # fmt: skip
        back = ok(await admin.put(f"{ADMIN}/products/{hat}/options", json={"request": {"options": [
            {"name": "Size", "values": ["S", "M"]}]}}))["product"]["variants"]  # fmt: skip
        assert max(v["variant_no"] for v in back) > m

        # categories
        category = ok(await admin.post(f"{ADMIN}/categories", json={"request": {"name": "Sale"}}), 201)
        no = category["category"]["category_no"]
        ok(await admin.delete(f"{ADMIN}/categories/{no}"))
        assert ok(await admin.post(f"{ADMIN}/categories", json={"request": {"name": "Sale"}}),
                  201)["category"]["category_no"] > no  # fmt: skip

        # brands
        brand = ok(await admin.post(f"{ADMIN}/brands", json={"request": {"name": "Acme"}}), 201)["brand"]["brand_no"]
        ok(await admin.delete(f"{ADMIN}/brands/{brand}"))
        assert ok(await admin.post(f"{ADMIN}/brands", json={"request": {"name": "Acme"}}), 201)["brand"][
            "brand_no"] > brand  # fmt: skip

        # coupons (one never issued is deleted)
        coupon = {"name": "Welcome", "kind": "CART", "discount_type": "FIXED", "discount_amount": "1000",
                  "ends_at": (utcnow() + timedelta(days=1)).isoformat()}  # fmt: skip
        first = ok(await admin.post(f"{ADMIN}/coupons", json={"request": coupon}), 201)["coupon"]["coupon_no"]
        ok(await admin.delete(f"{ADMIN}/coupons/{first}"))
        assert ok(await admin.post(f"{ADMIN}/coupons", json={"request": coupon}), 201)["coupon"]["coupon_no"] > first


async def test_every_table_keyed_by_a_number_never_reuses_it(database_url):
    """What the chain of migrations built: AUTOINCREMENT on SQLite, a sequence or identity on PostgreSQL."""
    keyed = {t.name: next(iter(t.primary_key.columns)).name for t in Base.metadata.sorted_tables
             if len(t.primary_key.columns) == 1 and not next(iter(t.primary_key.columns)).foreign_keys
             and next(iter(t.primary_key.columns)).type.python_type is int}  # fmt: skip
    assert {"products", "variants", "categories", "orders", "order_options", "events", "members"} <= set(keyed)
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sql = dict((await conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))).all())
            reusing = sorted(name for name in keyed if "AUTOINCREMENT" not in sql[name])
        else:
            defaults = {name: await conn.run_sync(lambda c, n=name: {col["name"]: (col.get("default"),
                                                                                     col.get("identity"))
                                                                       for col in inspect(c).get_columns(n)})
                        for name in keyed}  # fmt: skip
            reusing = sorted(name for name, column in keyed.items() if not any(defaults[name][column]))
    await engine.dispose()
    assert reusing == []


async def test_0011_keeps_every_row_and_never_hands_out_a_number_apps_have_seen(tmp_path):
    """An SQLite database made before 0011: its tables are rebuilt without losing a row (the rebuild drops each old
    table, which with foreign keys on would delete the rows that point at it), and a product deleted before the
    upgrade, known to apps by its events, keeps its number."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url, "0010")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO malls VALUES ('demo', 'Demo', 'KRW', 'Asia/Seoul', '2026-01-01', 40, 1, 40, 1)")
    for no in (1, 2, 3):
        db.execute("INSERT INTO products (product_no, product_code, name, summary, description, price, retail_price, "
                   "display, selling, created_at, updated_at, options, mall_id) VALUES "
                   "(?, ?, 'P', '', '', 100, 100, 1, 1, '2026-01-01', '2026-01-01', '[]', 'demo')", (no, f"P{no}"))
        db.execute("INSERT INTO variants (variant_no, product_no, variant_code, option_values, additional_amount, "
                   "quantity, display, selling, created_at, updated_at, mall_id) VALUES "
                   "(?, ?, ?, '[]', 0, 5, 1, 1, '2026-01-01', '2026-01-01', 'demo')", (no, no, f"V{no}"))
    db.execute("DELETE FROM variants WHERE variant_no = 3")
    db.execute("DELETE FROM products WHERE product_no = 3")
    db.execute("INSERT INTO events (event_id, type, occurred_at, data, mall_id) VALUES "
               "('msg_1', 'product.deleted', '2026-01-01', '{\"product_no\": 3}', 'demo')")
    db.commit()
    db.close()

    await upgrade_async(url)

    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM variants").fetchone() == (2,)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.execute("INSERT INTO products (product_code, name, summary, description, price, retail_price, display, "
               "selling, created_at, updated_at, options, mall_id) VALUES "
               "('NEW', 'P', '', '', 100, 100, 1, 1, '2026-01-01', '2026-01-01', '[]', 'demo')")
    assert db.execute("SELECT max(product_no) FROM products").fetchone() == (4,)
    db.close()

