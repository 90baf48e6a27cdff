"""Hot statements inside the request's transaction, without the ORM's cost per statement.

An ORM statement costs ~0.4 ms of CPU in Python (building the expression, the mall criteria, cache keys,
loading objects) before and after its round trip; placing an order runs over a dozen. ``Statement`` takes a
Core statement built once and runs it with values on the session's own connection, in its transaction:

- on PostgreSQL straight through asyncpg's prepared statements (~0.08 ms), with every value converted by its
  column's type exactly as SQLAlchemy would (money to minor units, times to UTC, JSON to text) and results
  converted back;
- elsewhere (SQLite) through SQLAlchemy Core on the same connection.

Tenancy stays enforced in one place: a statement touching a mall-owned table must compare that table's
``mall_id`` with the session's mall (``in_mall(Variant)``; an INSERT gets its ``mall_id`` the same way), checked
when the statement is built; the value is the session's mall, filled in here, never the caller's. A read-only
session refuses writes.

Lists: ``Statement(lambda many: select(...).where(many(Variant.variant_no, "nos"), in_mall(Variant)))`` —
``many`` is ``= ANY`` of an array on PostgreSQL (one prepared statement for every length) and an expanding
``IN`` elsewhere.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import ARRAY, Alias, Delete, Insert, Join, Select, Update, any_, bindparam, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ColumnClause,
    ColumnElement,
    UnaryExpression,
)
from sqlalchemy.sql.util import find_tables

from openmall.kernel.db import ALL_MALLS, ReadOnlyError, TenancyError, _mall_owned_tables

Many = Callable[[Any, str], ColumnElement[bool]]
T = TypeVar("T")
MALL = "session_mall"  # the bound parameter that carries the session's mall


def in_mall(entity: Any) -> ColumnElement[bool]:
    """``entity.mall_id = <the session's mall>``: every mall-owned table of a statement needs one."""
    return entity.mall_id == bindparam(MALL)  # type: ignore[no-any-return]


def _many_pg(column: Any, name: str) -> ColumnElement[bool]:
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


def _many_other(column: Any, name: str) -> ColumnElement[bool]:
    return column.in_(bindparam(name, expanding=True))


def columns_of(entity: Any, prefix: str = "") -> list[Any]:
    """Every mapped column of ``entity``, labelled ``prefix`` + its attribute name (for ``attach``)."""
    return [prop.columns[0].label(prefix + prop.key) for prop in inspect(entity).column_attrs]


def attach(session: AsyncSession, entity: type[T], values: Mapping[str, Any]) -> T:
    """The ``entity`` whose columns a statement read (every one, as ``columns_of`` selects them) as an object of
    the session, as if the ORM had loaded it: later changes to it are flushed as usual."""
    mapper = inspect(entity)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    found = session.sync_session.identity_map.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    obj = entity(**values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


class Statement:
    """A statement built once (per dialect), run many times with values on a session's connection."""

    def __init__(self, build: Callable[[Many], Any] | Any):
        self._build = build if callable(build) else (lambda _many: build)
        self._built: dict[str, _Built] = {}
        self._pg: dict[tuple[str, ...], _Plan] = {}

    def statement(self, dialect_name: str) -> _Built:
        found = self._built.get(dialect_name)
        if found is None:
            stmt = self._build(_many_pg if dialect_name == "postgresql" else _many_other)
            found = self._built[dialect_name] = _Built(stmt)
        return found

    async def all(self, session: AsyncSession, **values: Any) -> list[Any]:
        return await self._run(session, values)

    async def first(self, session: AsyncSession, **values: Any) -> Any | None:
        rows = await self._run(session, values)
        return rows[0] if rows else None

    async def scalar(self, session: AsyncSession, **values: Any) -> Any:
        rows = await self._run(session, values)
        return rows[0][0] if rows else None

    async def execute(self, session: AsyncSession, **values: Any) -> int:
        """An UPDATE or DELETE without RETURNING: the rows it changed."""
        return await self._run(session, values, count=True)

    async def insert_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
        """An INSERT of several rows (the same keys in each), without RETURNING."""
        if not rows:
            return
        await self._run(session, [dict(r) for r in rows], many=True)

    async def _run(self, session: AsyncSession, values: Any, *, count: bool = False, many: bool = False) -> Any:
        if session.new or session.deleted or session.dirty:
            await session.flush()  # as the ORM's autoflush: the statement sees the unit of work's changes
        conn, driver = await _connection(session)
        dialect = conn.dialect
        built = self.statement(dialect.name)
        stmt = built.stmt
        if built.writes and session.info.get("read_only"):
            raise ReadOnlyError("this session only reads; write through the request's DbSession")
        rows = values if many else [values]
        for r in rows:
            if not r.keys() <= built.accepts:  # on SQLite a stray column name would become a SET: refuse it
                raise ValueError(f"fastsql: the statement takes no {', '.join(sorted(r.keys() - built.accepts))}")
        if built.needs_mall:
            mall_id = session.info.get("mall_id")
            if mall_id in (None, ALL_MALLS):
                raise TenancyError("a statement on mall-owned tables needs a session bound to one mall")
            for r in rows:
                r["mall_id" if isinstance(stmt, Insert) else MALL] = mall_id
        if driver is None:
            result = await conn.execute(stmt, rows if many else rows[0])
            if many:
                return None
            return result.rowcount if count else list(result.all())
        keys = tuple(sorted(rows[0]))
        plan = self._pg.get(keys)
        if plan is None:
            plan = self._pg[keys] = _Plan(stmt, dialect, keys)
        try:
            if many:
                await driver.executemany(plan.sql, [plan.args(r) for r in rows])
                return None
            args = plan.args(rows[0])
            if count:  # asyncpg prepares each SQL once per connection (its statement cache)
                return _rowcount(await driver.execute(plan.sql, *args))
            if plan.readers is None:
                await plan.learn_types(driver)
            return plan.rows(await driver.fetch(plan.sql, *args))
        except asyncpg.PostgresError as exc:  # as SQLAlchemy raises them (IntegrityError is a 409, say)
            raise _sqlalchemy_error(exc, plan.sql) from exc


class _Plan:
    """The statement compiled for PostgreSQL with one set of parameter names: its SQL, how each value is bound
    and how each result column is read."""

    def __init__(self, stmt: Any, dialect: Any, keys: tuple[str, ...]):
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if isinstance(stmt, Insert) else None)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise ValueError("fastsql: use many() for lists, not expanding IN")
        self.sql = str(compiled)
        processors = compiled._bind_processors  # noqa: SLF001 - the same conversions as any execute
        defaults: dict[str, Any] = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}
        prefetch = [(c, c.default) for c in compiled.insert_prefetch] + [
            (c, c.onupdate) for c in compiled.update_prefetch
        ]
        for col, default in prefetch:  # Python-side column defaults (created_at, updated_at) the values leave out
            arg = default.arg
            defaults[col.key] = (lambda arg=arg: arg(None)) if default.is_callable else (lambda arg=arg: arg)
        missing = [n for n in compiled.positiontup or () if n not in keys and n not in defaults]
        if missing:
            raise ValueError(f"fastsql: no value for {', '.join(missing)}")
        self._binds = [(n, processors.get(n), defaults.get(n)) for n in compiled.positiontup or ()]
        self._prefetch = {c.key for c, _ in prefetch}
        columns = list(getattr(stmt, "exported_columns", ()) or ())
        self._columns = columns
        self._dialect = dialect
        self.readers: list[Any] | None = None
        names = [_key(c, i) for i, c in enumerate(columns)]
        self._row = namedtuple("Row", names, rename=True) if columns else None  # type: ignore[misc]  # noqa: PYI024

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, proc, default in self._binds:
            if name in values:
                value = values[name]
            else:
                value = default() if name in self._prefetch else default
            out.append(proc(value) if proc is not None else value)
        return out

    async def learn_types(self, driver: Any) -> None:
        """How each result column converts, from the types PostgreSQL says it returns (once per plan)."""
        oids = [a.type.oid for a in (await driver.prepare(self.sql)).get_attributes()]
        self.readers = [c.type.dialect_impl(self._dialect).result_processor(self._dialect, oid)
                        for c, oid in zip(self._columns, oids, strict=True)]  # fmt: skip

    def rows(self, found: list[Any]) -> list[Any]:
        if self._row is None:
            return list(found)
        readers, make = self.readers or [], self._row._make
        if not any(readers):
            return [make(r) for r in found]
        return [make([f(v) if f is not None else v for f, v in zip(readers, r, strict=True)]) for r in found]


def _key(column: Any, i: int) -> str:
    return str(getattr(column, "key", None) or getattr(column, "name", None) or f"c{i}")


def _rowcount(status: str | None) -> int:
    try:
        return int((status or "").rsplit(" ", 1)[-1])
    except ValueError:
        return -1


async def _connection(session: AsyncSession) -> tuple[Any, Any]:
    """The session's connection and, on PostgreSQL, the asyncpg connection under it, inside the session's
    transaction (begun now if no statement has run yet); kept for the rest of that transaction."""
    tx = session.sync_session.get_transaction()
    kept = session.info.get("_fastsql")
    if tx is not None and tx.is_active and kept is not None and kept[0] is tx:
        return kept[1], kept[2]  # (after a failed flush the transaction is not active: connection() refuses)
    conn = await session.connection()
    driver = None
    if conn.dialect.name == "postgresql":
        adapted = (await conn.get_raw_connection()).dbapi_connection
        if adapted._transaction is None and adapted.isolation_level != "autocommit":  # noqa: SLF001
            await adapted._start_transaction()  # noqa: SLF001 - as SQLAlchemy's cursor does before its first statement
        driver = adapted.driver_connection
    session.info["_fastsql"] = (session.sync_session.get_transaction(), conn, driver)
    return conn, driver


def _check_tenancy(stmt: Any) -> bool:
    """Every use of a mall-owned table in the statement (each alias and subquery counts) is compared with the
    session's mall by ``=`` in an AND of its conditions (not under OR or NOT; in an outer join's ON clause only
    for the join's nullable side); an INSERT gets the session's mall as its ``mall_id``. True when the statement
    takes the session's mall."""
    owned = set(_mall_owned_tables())
    found = find_tables(stmt, include_aliases=True, include_joins=True, include_selects=True, include_crud=True)
    needed = {t for t in found if _base_table(t) in owned}
    if isinstance(stmt, Insert):
        needed.discard(stmt.table)
    # a condition in an outer join's ON clause filters only the join's nullable side (nothing for a full join);
    # the joins exist once the statement's FROMs are worked out (an ORM ``.join()`` keeps them aside till then)
    outer: list[tuple[Any, set[Any]]] = []  # (a comparison in an outer ON clause, the tables it may scope)
    for select_ in (e for e in visitors.iterate(stmt) if isinstance(e, Select)):
        for join in _joins(select_.get_final_froms()):
            if (join.isouter or join.full) and join.onclause is not None:
                nullable = set() if join.full else set(find_tables(join.right, include_aliases=True))
                outer += [(e, nullable) for e in visitors.iterate(join.onclause) if isinstance(e, BinaryExpression)]
    tainted: set[int] = set()  # conditions under OR or NOT do not scope anything
    for element in visitors.iterate(stmt):
        if (isinstance(element, BooleanClauseList) and element.operator is operators.or_) or (
            isinstance(element, UnaryExpression) and element.operator is operators.inv
        ):
            tainted.update(id(e) for e in visitors.iterate(element))
    scoped = set()
    for element in visitors.iterate(stmt):
        if isinstance(element, BinaryExpression) and element.operator is operators.eq and id(element) not in tainted:
            left, right = element.left, element.right
            if isinstance(right, ColumnClause) and isinstance(left, BindParameter):
                left, right = right, left
            if (isinstance(left, ColumnClause) and left.name == "mall_id" and isinstance(right, BindParameter)
                    and right.key == MALL):  # fmt: skip
                if all(left.table in tables for on, tables in outer if on.compare(element)):
                    scoped.add(left.table)
    missing = sorted({_base_table(t).name for t in needed if t not in scoped})
    if missing:
        raise TenancyError(f"fastsql: {', '.join(missing)} must be compared with the session's mall (in_mall(...))")
    return bool(needed) or isinstance(stmt, Insert) and stmt.table in owned


def _joins(froms: Sequence[Any]) -> Iterator[Any]:
    for from_ in froms:
        if isinstance(from_, Join):
            yield from_
            yield from _joins([from_.left, from_.right])


def _base_table(from_: Any) -> Any:
    while isinstance(from_, Alias):
        from_ = from_.element
    return from_


class _Built:
    """A statement as built for one dialect, with what running it needs to know."""

    def __init__(self, stmt: Any):
        self.stmt = stmt
        self.needs_mall = _check_tenancy(stmt)
        self.writes = isinstance(stmt, Insert | Update | Delete)
        binds = {b.key for b in visitors.iterate(stmt) if isinstance(b, BindParameter)} - {MALL}
        self.accepts = binds | (set(stmt.table.c.keys()) - {"mall_id"} if isinstance(stmt, Insert) else set())


def _sqlalchemy_error(exc: Exception, sql: str) -> Exception:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return sa_exc.IntegrityError(sql, None, exc)
    if isinstance(exc, asyncpg.DataError):
        return sa_exc.DataError(sql, None, exc)
    return sa_exc.DBAPIError(sql, None, exc)
