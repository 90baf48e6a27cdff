"""``session_scope``: one commit at the end; a rollback on error, after which what ``on_rollback`` registered runs
(what the work did outside the database); a ``KeepChanges`` error commits and undoes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from openmall.catalog.models import Brand
from openmall.kernel.db import on_rollback, session_scope
from openmall.kernel.errors import KeepChanges


async def _brands(app) -> list[str]:
    async with session_scope(app.state.sessions, "demo") as s:
        return list(await s.scalars(select(Brand.name).order_by(Brand.name)))


async def test_undo_runs_after_a_rollback_and_never_after_a_commit(app, shop):
    undone: list[str] = []

    async def undo(name: str) -> None:
        undone.append(name)

    async with session_scope(app.state.sessions, "demo") as s:
        s.add(Brand(name="Kept"))
        on_rollback(s, lambda: undo("kept"))
    with pytest.raises(ValueError, match="boom"):
        async with session_scope(app.state.sessions, "demo") as s:
            s.add(Brand(name="Lost"))
            on_rollback(s, lambda: undo("first"))
            on_rollback(s, lambda: undo("second"))
            await s.flush()
            raise ValueError("boom")
    assert undone == ["second", "first"]  # last registered, first undone
    assert await _brands(app) == ["Kept"]


async def test_a_failing_undo_does_not_hide_the_error(app, shop, caplog):
    async def broken() -> None:
        raise RuntimeError("gateway unreachable")

    with pytest.raises(ValueError, match="the real error"):
        async with session_scope(app.state.sessions, "demo") as s:
            on_rollback(s, broken)
            raise ValueError("the real error")
    assert "could not undo" in caplog.text


async def test_keep_changes_commits_and_undoes_nothing(app, shop):
    undone: list[int] = []

    async def undo() -> None:
        undone.append(1)

    class CountKept(KeepChanges):
        status_code = 401

    with pytest.raises(CountKept):
        async with session_scope(app.state.sessions, "demo") as s:
            s.add(Brand(name="Counted"))
            on_rollback(s, undo)
            raise CountKept("wrong password; the attempt is counted")
    assert undone == [] and await _brands(app) == ["Counted"]
