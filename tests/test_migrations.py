"""One Alembic chain for SQLite and PostgreSQL, in step with the models."""

from __future__ import annotations

from sqlalchemy import inspect

from openmall.kernel.db import create_engine
from openmall.kernel.migrate import run_async


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_models_and_migrations_agree(database_url):
    await run_async(database_url, "check")  # raises if the models need a migration the chain lacks


async def test_chain_goes_down_and_up_again(database_url):
    assert {"malls", "products", "variants", "categories", "brands", "product_categories"} <= await tables(database_url)
    await run_async(database_url, "downgrade", "base")
    assert await tables(database_url) == set()
    await run_async(database_url, "upgrade", "head")
    assert "products" in await tables(database_url)
