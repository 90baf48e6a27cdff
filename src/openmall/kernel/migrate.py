"""Running the Alembic chain from code: ``openmall migrate`` and ``openmall serve`` on first start."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from openmall.config import normalize_database_url


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "openmall:migrations")
    cfg.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def run_async(database_url: str, action: str, *args: str) -> None:
    """Run an Alembic command (``upgrade``, ``downgrade``, ``check``) from inside an event loop."""
    from openmall.kernel.db import create_engine

    engine = create_engine(database_url)
    cfg = alembic_config(database_url)

    def run(connection: object) -> None:
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, *args)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade_async(database_url: str, revision: str = "heads") -> None:
    await run_async(database_url, "upgrade", revision)
