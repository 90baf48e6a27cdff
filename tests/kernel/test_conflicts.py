"""A write that loses a race to a unique key answers 409 in the error format and writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from openmall.catalog.models import Brand
from openmall.kernel.db import session_scope
from openmall.kernel.tenancy import DbSession
from tests.conftest import add_mall, assert_error


async def test_integrity_error_is_a_409(app, client):
    await add_mall(app, "demo")

    @app.post("/api/v2/test-brands")
    async def add_twice(session: DbSession) -> dict:
        # two rows with one name, as two concurrent requests past the service's own check would write
        session.add_all([Brand(name="Twin"), Brand(name="Twin")])
        return {"ok": True}

    assert_error(await client.post("/api/v2/test-brands"), 409, "conflicts")
    async with session_scope(app.state.sessions, "demo") as s:
        assert await s.scalar(select(func.count()).select_from(Brand)) == 0
