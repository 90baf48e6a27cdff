"""Alembic environment: one chain of migrations for SQLite and PostgreSQL, run on the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from openmall.kernel.db import Base, create_engine
from openmall.models import load_all

load_all()
config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a table by building a copy and dropping the original; with foreign keys on, that DROP
        # deletes every row first, cascading to the rows that point at it (a product's variants). So they are
        # off while the chain runs, before its transaction (inside one the PRAGMA does nothing), and checked at
        # its end, as SQLite's own ALTER TABLE procedure says.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                raise RuntimeError(f"the migrations left rows pointing at nothing: {broken[:10]}")
    finally:
        if sqlite:  # (does nothing while the caller's transaction is open: the chain's engines are then disposed)
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def _run() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run())
