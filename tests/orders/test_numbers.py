"""Order ids on PostgreSQL come from a pool of their own (``orders.numbers``), connected as the engine is."""

from __future__ import annotations

from datetime import date

import pytest

from openmall.orders.numbers import OrderNumbers


async def test_order_numbers_connect_with_the_urls_own_options(app, shop, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite takes order ids in the order's own transaction")
    # options SQLAlchemy's engine takes (ssl) or keeps for itself (its statement cache): the pool must too
    url = database_url + ("&" if "?" in database_url else "?") + "ssl=disable&prepared_statement_cache_size=0"
    numbers = OrderNumbers(url)
    try:
        day = date(2026, 11, 28)
        first = await numbers.take("demo", day)
        assert [await numbers.take("demo", day) for _ in range(3)] == [first + 1, first + 2, first + 3]
        assert await numbers.take("other", day) == 1  # each mall counts its own day
    finally:
        await numbers.close()
