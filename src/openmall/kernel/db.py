"""Database: the declarative base, column types, engine and one session per request.

Tenancy is enforced here, in one place: every ORM statement run by a session that is bound to a
mall gets ``WHERE mall_id = :mall`` added for every mall-owned entity it touches (SQLAlchemy's
``with_loader_criteria``), and every new mall-owned row is stamped with that mall on flush.
A session bound to no mall refuses to read mall-owned rows at all, unless it was opened
explicitly for the whole platform (the CLI's maintenance work).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, MetaData, String, Table, TextClause, event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables
from sqlalchemy.types import TypeDecorator

from openmall.config import normalize_database_url
from openmall.kernel import clock
from openmall.kernel.errors import KeepChanges

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ALL_MALLS = "*"  # session.info["mall_id"] for platform-wide maintenance (CLI only)


# 64-bit ids on PostgreSQL; SQLite needs plain INTEGER for its rowid primary keys (also 64-bit)
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


@event.listens_for(Table, "after_parent_attach")
def _numbers_never_reused(table: Table, _metadata: Any) -> None:
    """A number (``product_no``, ``order_no``, ``event_no``...) is never handed out twice, on any database.

    PostgreSQL's sequences never go back; SQLite gives a deleted row's rowid to the next insert unless its table is
    ``AUTOINCREMENT``. So every table whose key is one integer column is made so on SQLite, in this one place: the
    models' tables and the tables Alembic builds (``op.create_table``, and the copy ``batch_alter_table`` makes
    when it rebuilds a table on SQLite, which would otherwise drop the keyword it cannot reflect). A table that
    says ``sqlite_autoincrement`` itself keeps what it says."""
    if "sqlite_autoincrement" in set(table.dialect_kwargs):  # the keys given (``in`` alone also sees defaults)
        return
    key = list(table.primary_key.columns)
    if len(key) == 1 and isinstance(key[0].type, Integer) and not key[0].foreign_keys:
        table.dialect_kwargs["sqlite_autoincrement"] = True


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware datetime (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MoneyType(TypeDecorator[Decimal]):
    """Money as a Decimal in Python, as whole minor units (hundredths) in an integer column.

    Integers are exact on every backend (SQLite has no exact decimal type), compare and sort in SQL,
    and a value with more than two decimal places is refused rather than rounded.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must never be a float")
        cents = Decimal(value) * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"money {value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(Decimal("0.01"))


def utcnow() -> datetime:
    return clock.now()


class MallOwned:
    """Mixin for every row that belongs to a mall; the session scopes these automatically."""

    # No index of its own: alone it picks nearly every row, and a planner without statistics would
    # still choose it over the selective one (scanning the whole mall). Tables lead their composite
    # indexes with it where a query needs that.
    mall_id: Mapped[str] = mapped_column(String(32), ForeignKey("malls.mall_id", ondelete="CASCADE"))


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: big loads stop re-reading the indexes
            cur.close()

        return engine
    # no overflow: a burst waits for one of the pool's connections instead of opening and closing extra ones
    # (connection churn cost more than the wait, measured by bench/admin_api.py); a request holds one at a time
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0, pool_recycle=1800)


async def asyncpg_pool(database_url: str, *, max_size: int, server_settings: dict[str, str] | None = None) -> Any:
    """A pool of plain asyncpg connections (autocommit) to the database of ``database_url``, connected exactly
    as SQLAlchemy's engine connects (the URL's host, user, ``ssl`` and other options); for the few hot paths
    that run prebuilt SQL outside a request's transaction."""
    import asyncpg
    from sqlalchemy import make_url
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    _, kwargs = dialect().create_connect_args(make_url(normalize_database_url(database_url)))
    for sqlalchemy_only in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
        kwargs.pop(sqlalchemy_only, None)
    if server_settings:
        kwargs["server_settings"] = {**kwargs.get("server_settings", {}), **server_settings}
    return await asyncpg.create_pool(min_size=1, max_size=max_size, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the same pool in autocommit: a read costs its queries and nothing else."""
    return async_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), autoflush=False)


class ReadOnlyError(RuntimeError):
    """A write through a session opened for reading: a programming error."""


class TenancyError(RuntimeError):
    """A mall-owned table was queried by a session bound to no mall: a programming error."""


def bind_mall(session: AsyncSession | Session, mall_id: str) -> None:
    session.info["mall_id"] = mall_id


@event.listens_for(Session, "do_orm_execute")
def _scope_to_mall(state: ORMExecuteState) -> None:
    if state.session.info.get("read_only") and not state.is_select:
        raise ReadOnlyError("this session only reads; write through the request's DbSession")
    if state.is_column_load or state.is_relationship_load:
        return  # the parent statement was already scoped
    mall_id = state.session.info.get("mall_id")
    if mall_id == ALL_MALLS:
        return
    if mall_id is None:
        if any(_is_mall_owned(m.entity) for m in state.all_mappers) or _names_mall_owned_table(state.statement):
            raise TenancyError("a mall-owned table was queried outside of a mall; call bind_mall() first")
        return
    if isinstance(state.statement, TextClause):
        raise TenancyError("raw SQL cannot be scoped to a mall; build the statement from the models")
    if not state.is_orm_statement and _names_mall_owned_table(state.statement):
        # Core statements on tables (``select(Product.__table__)``) bypass the ORM criteria below
        raise TenancyError("query mall-owned tables through their mapped classes, so that the mall scope applies")
    if state.is_insert:
        _check_insert(state, mall_id)
        return
    state.statement = state.statement.options(_mall_criteria(mall_id))


@event.listens_for(Session, "before_flush")
def _stamp_mall(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise ReadOnlyError("this session only reads; write through the request's DbSession")
    mall_id = session.info.get("mall_id")
    for obj in session.dirty:
        if isinstance(obj, MallOwned) and inspect(obj).attrs.mall_id.history.has_changes():
            raise TenancyError(f"{type(obj).__name__} cannot move to another mall")
    for obj in session.new:
        if not isinstance(obj, MallOwned):
            continue
        if obj.mall_id is None:
            if mall_id in (None, ALL_MALLS):
                raise TenancyError(f"new {type(obj).__name__} has no mall")
            obj.mall_id = mall_id
        elif mall_id not in (None, ALL_MALLS) and obj.mall_id != mall_id:
            raise TenancyError(f"new {type(obj).__name__} belongs to mall {obj.mall_id}, not {mall_id}")


@lru_cache(maxsize=4096)
def _mall_criteria(mall_id: str) -> Any:
    """One criteria option per mall, built once: re-analysing the lambda on every query costs ~0.1 ms."""
    return with_loader_criteria(MallOwned, lambda cls: cls.mall_id == mall_id, include_aliases=True)


def _check_insert(state: ORMExecuteState, mall_id: str) -> None:
    """ORM inserts must carry the session's mall in every row; ``.values()`` is not checked, so refused."""
    table = getattr(state.statement, "table", None)
    if table not in set(_mall_owned_tables()):
        return
    if state.statement._values or state.statement._multi_values:  # noqa: SLF001
        raise TenancyError("insert mall-owned rows with parameter rows (or session.add), not .values()")
    rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
    if any(row.get("mall_id") != mall_id for row in rows):
        raise TenancyError(f"every inserted row must belong to mall {mall_id}")


def _mall_owned_tables() -> list[Any]:
    return [m.local_table for m in Base.registry.mappers if _is_mall_owned(m.class_)]


def _is_mall_owned(entity: Any) -> bool:
    return isinstance(entity, type) and issubclass(entity, MallOwned)


def _names_mall_owned_table(statement: Any) -> bool:
    """Tables named only in FROM (``select(func.count()).select_from(Product)``) have no mapper entity."""
    if isinstance(statement, TextClause):
        return False
    owned = set(_mall_owned_tables())  # ORM-annotated copies of a table hash and compare as the table
    return any(t in owned for t in find_tables(statement, include_joins=True, include_selects=True))


def on_rollback(session: AsyncSession, undo: Callable[[], Awaitable[Any]]) -> None:
    """Have ``undo`` run if the session's work does not commit — an error, or the commit itself failing — for
    what the work did outside the database (a card charged). It runs after the rollback; its own failure is
    logged, never raised over the error that caused it."""
    session.info.setdefault("on_rollback", []).append(undo)


async def _undo(session: AsyncSession) -> None:
    for undo in reversed(session.info.pop("on_rollback", [])):
        try:
            await undo()
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            logging.getLogger("openmall").exception("could not undo %r after a rollback", undo)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession], mall_id: str) -> AsyncIterator[AsyncSession]:
    """One unit of work for one mall: commits once at the end, rolls back on any error but a ``KeepChanges``
    (and then runs what ``on_rollback`` registered)."""
    async with factory() as session:
        bind_mall(session, mall_id)
        try:
            yield session
            if session.in_transaction():
                await session.commit()
        except KeepChanges:  # the error is the answer, and what the work recorded before it stays
            if session.in_transaction():
                await session.commit()
            raise
        except BaseException:
            await session.rollback()
            await _undo(session)
            raise
        session.info.pop("on_rollback", None)
