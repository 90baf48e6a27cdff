"""Reading pre-rendered JSON documents (read models) by key, in one round trip, without the ORM.

A hot read whose answer is already stored as JSON text needs neither a session nor the ORM:
``DocumentLookup`` compiles ``SELECT <doc> FROM <table> WHERE mall_id = :mall AND <key> = :key [AND ...]``
once per database dialect, and ``DirectReads`` runs it: on PostgreSQL from a small asyncpg pool of its
own (a lookup then costs its round trip and little else), elsewhere on a connection of the engine.
The mall is a required argument of every lookup, so this path is scoped in one place like the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute

from openmall.kernel.db import ALL_MALLS, TenancyError, asyncpg_pool


class DirectReads:
    def __init__(self, engine: AsyncEngine, pool_size: int = 10):
        self.engine = engine
        self.dialect = engine.dialect
        self.pool_size = pool_size
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._statements: dict[Hashable, Any] = {}

    async def fetchval(self, sql: str, params: list[Any]) -> Any:
        if self.dialect.name == "postgresql":
            pool = self._pool or await self._open()
            async with pool.acquire() as conn:
                return await conn.fetchval(sql, *params)
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            cursor = await driver.execute(sql, params)
            try:
                row = await cursor.fetchone()
            finally:
                await cursor.close()
            return row[0] if row else None

    async def rows(self, build: Callable[[], Select[Any]], params: dict[str, Any], shape: Hashable) -> list[Any]:
        """Run the SELECT that ``build`` makes, compiled once per ``shape``, with ``params`` bound by name.

        The statement must state its mall condition itself (``mall_id = :mall_id``): no session adds one
        here, and a shape without the ``mall_id`` parameter is refused.
        """
        compiled = self._statements.get(shape)
        if compiled is None:
            compiled = build().compile(dialect=self.dialect)
            if "mall_id" not in compiled.binds:
                raise TenancyError("a direct read must name its mall (mall_id = :mall_id)")
            if len(self._statements) >= 2000:  # shapes are few in practice; never let them grow without end
                self._statements.clear()
            self._statements[shape] = compiled
        processors = compiled._bind_processors  # money and time parameters convert as in any execute
        names = compiled.positiontup or ()
        values = [processors[n](params[n]) if n in processors else params[n] for n in names]
        return await self._fetch(str(compiled), values)

    async def _fetch(self, sql: str, values: list[Any]) -> list[Any]:
        if self.dialect.name == "postgresql":
            pool = self._pool or await self._open()
            async with pool.acquire() as conn:
                return list(await conn.fetch(sql, *values))
        async with self.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            cursor = await driver.execute(sql, values)
            try:
                return list(await cursor.fetchall())
            finally:
                await cursor.close()

    async def _open(self) -> Any:
        async with self._opening:  # the first requests arrive together: open one pool, not one each
            if self._pool is None:
                url = self.engine.url.render_as_string(hide_password=False)
                self._pool = await asyncpg_pool(url, max_size=self.pool_size)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class DocumentLookup:
    def __init__(self, doc: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any], *where: ColumnElement[bool]):
        entity = doc.class_
        self._statement = select(doc).where(entity.mall_id == bindparam("mall_id"), key == bindparam("key"), *where)
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _sql(self, dialect: Any) -> tuple[str, tuple[str, ...]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            found = self._compiled[dialect.name] = (str(compiled), tuple(compiled.positiontup or ()))
        return found

    async def fetch(self, reads: DirectReads, mall_id: str, key: Any) -> Any:
        if not mall_id or mall_id == ALL_MALLS:
            raise TenancyError("a document lookup needs one mall")
        sql, order = self._sql(reads.dialect)
        values = {"mall_id": mall_id, "key": key}
        return await reads.fetchval(sql, [values[name] for name in order])
