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

import asyncio
from datetime import date
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert

from openmall.kernel.db import asyncpg_pool
from openmall.orders.models import OrderSequence


def advance_statement(dialect_insert: object = pg_insert) -> object:
    """The upsert that adds one to the (mall, day) count and returns it."""
    stmt = dialect_insert(OrderSequence.__table__)  # type: ignore[operator]
    return stmt.on_conflict_do_update(
        index_elements=[OrderSequence.mall_id, OrderSequence.day], set_={"last": OrderSequence.__table__.c.last + 1}
    ).returning(OrderSequence.__table__.c.last)


class OrderNumbers:
    """The next number of a mall's day, on PostgreSQL, from a small autocommit asyncpg pool of its own (made on
    first use), with the upsert compiled once."""

    def __init__(self, database_url: str):
        self._url = database_url
        self._pool: Any = None
        self._opening = asyncio.Lock()
        compiled = advance_statement().compile(  # type: ignore[attr-defined]
            dialect=postgresql.asyncpg.dialect(), column_keys=["mall_id", "day", "last"]
        )
        self._sql, self._order = str(compiled), tuple(compiled.positiontup or ())
        self._constants = {name: b.effective_value for name, b in compiled.binds.items() if not b.required}

    @property
    def usable(self) -> bool:
        return self._url.startswith(("postgresql", "postgres"))

    async def take(self, mall_id: str, day: date) -> int:
        pool = self._pool or await self._open()
        values = {**self._constants, "mall_id": mall_id, "day": day, "last": 1}
        async with pool.acquire() as conn:
            return int(await conn.fetchval(self._sql, *[values[n] for n in self._order]))

    async def _open(self) -> Any:
        async with self._opening:  # the first orders arrive together: open one pool, not one each
            if self._pool is None:
                self._pool = await asyncpg_pool(self._url, max_size=2)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
