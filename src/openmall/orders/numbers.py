"""Order numbers, taken outside the order's transaction on PostgreSQL.

An order id is ``YYYYMMDD-0000001``: the mall's day and its count of orders that day, kept in one row of
``order_sequences`` per mall and day and advanced by one atomic upsert. Inside the order's transaction that
row would stay locked until the commit, so every order of a mall would wait for the one before it to commit
(bench/orders.py measured 26 orders/s that way, 4–6 of 10 connections waiting on the row). Here the upsert
runs on a connection of its own in autocommit: the row is locked for that one statement. A transaction that
rolls back afterwards leaves a gap in the day's numbers, never a duplicate.

The connections come from a pool of their own (two), never from the requests' pool: a request that holds a
connection of that pool and waits for another could otherwise wait for ever. SQLite has one writer at a
time: there the number is taken in the order's own transaction (``next_order_id`` does that without this).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from openmall.kernel.db import create_engine
from openmall.orders.models import OrderSequence


def advance_statement(dialect_insert: object = pg_insert) -> object:
    """The upsert that adds one to the (mall, day) count and returns it."""
    stmt = dialect_insert(OrderSequence.__table__)  # type: ignore[operator]
    return stmt.on_conflict_do_update(
        index_elements=[OrderSequence.mall_id, OrderSequence.day], set_={"last": OrderSequence.__table__.c.last + 1}
    ).returning(OrderSequence.__table__.c.last)


class OrderNumbers:
    """The next number of a mall's day, on PostgreSQL, from a small autocommit pool (made on first use)."""

    def __init__(self, database_url: str):
        self._url = database_url
        self._engine: AsyncEngine | None = None

    @property
    def usable(self) -> bool:
        return self._url.startswith(("postgresql", "postgres"))

    async def take(self, mall_id: str, day: date) -> int:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_size=2).execution_options(isolation_level="AUTOCOMMIT")
        async with self._engine.connect() as conn:
            result = await conn.execute(advance_statement(), [{"mall_id": mall_id, "day": day, "last": 1}])
            return int(result.scalar_one())

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
