"""Reading pre-rendered JSON documents (read models) by key, in one round trip, through the driver.

A hot read whose answer is already stored as JSON text does not need the ORM: ``DocumentLookup``
compiles ``SELECT <doc> FROM <table> WHERE mall_id = :mall AND <key> = :key [AND ...]`` once per
database dialect and runs it on the session's own connection. The mall condition is part of every
lookup and its value is always the session's mall, so this path is scoped in one place like the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from openmall.kernel.db import ALL_MALLS, TenancyError


class DocumentLookup:
    def __init__(self, doc: InstrumentedAttribute[Any], key: InstrumentedAttribute[Any], *where: ColumnElement[bool]):
        entity = doc.class_
        self._statement = select(doc).where(entity.mall_id == bindparam("mall_id"), key == bindparam("key"), *where)
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _sql(self, dialect: Any) -> tuple[str, tuple[str, ...]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ())
            found = self._compiled[dialect.name] = (str(compiled), order)
        return found

    async def fetch(self, session: AsyncSession, key: Any) -> str | None:
        mall_id = session.info.get("mall_id")
        if mall_id in (None, ALL_MALLS):
            raise TenancyError("a document lookup needs a session bound to one mall")
        conn = await session.connection()
        sql, order = self._sql(conn.dialect)
        values = {"mall_id": mall_id, "key": key}
        params = [values[name] for name in order]
        driver = (await conn.get_raw_connection()).driver_connection
        if conn.dialect.name == "postgresql":
            return await driver.fetchval(sql, *params)
        cursor = await driver.execute(sql, params)
        try:
            row = await cursor.fetchone()
        finally:
            await cursor.close()
        return row[0] if row else None
