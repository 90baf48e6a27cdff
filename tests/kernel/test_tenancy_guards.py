"""A session bound to a mall cannot step outside it, whichever way a statement is written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text, update

from openmall.catalog import service as catalog
from openmall.catalog.models import Category, Product
from openmall.catalog.schemas import ProductIn
from openmall.kernel.db import ReadOnlyError, TenancyError, session_scope
from tests.conftest import add_mall


@pytest.fixture
async def two_malls(app):
    await add_mall(app, "aaa")
    await add_mall(app, "bbb")
    for mall in ("aaa", "bbb"):
        async with session_scope(app.state.sessions, mall) as s:
            await catalog.create_product(s, ProductIn(name=f"{mall} tee", price="1000", product_code="SAME"))
    return app


async def names(app, mall: str) -> list[str]:
    async with session_scope(app.state.sessions, mall) as s:
        return list(await s.scalars(select(Product.name)))


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: select(Product.__table__.c.name), id="core-select"),
        pytest.param(lambda: select(func.count()).select_from(Product.__table__), id="core-count"),
        pytest.param(lambda: update(Product.__table__).values(name="x"), id="core-update"),
        pytest.param(lambda: text("select name from products"), id="text"),
        pytest.param(lambda: insert(Category).values(mall_id="bbb", name="Theirs"), id="insert-values"),
    ],
)
async def test_statements_that_would_escape_the_mall_are_refused(two_malls, statement):
    async with session_scope(two_malls.state.sessions, "aaa") as s:
        with pytest.raises(TenancyError):
            await s.execute(statement())
    assert await names(two_malls, "bbb") == ["bbb tee"]


async def test_orm_insert_rows_must_carry_the_sessions_mall(two_malls):
    async with session_scope(two_malls.state.sessions, "aaa") as s:
        with pytest.raises(TenancyError, match="mall aaa"):
            await s.execute(insert(Category), [{"mall_id": "bbb", "name": "Theirs"}])
    async with session_scope(two_malls.state.sessions, "aaa") as s:
        await s.execute(insert(Category), [{"mall_id": "aaa", "name": "Ours"}])
        assert list(await s.scalars(select(Category.name))) == ["Ours"]


async def test_a_row_cannot_move_to_another_mall(two_malls):
    with pytest.raises(TenancyError, match="cannot move"):
        async with session_scope(two_malls.state.sessions, "aaa") as s:
            product = await s.scalar(select(Product))
            product.mall_id = "bbb"
    assert await names(two_malls, "bbb") == ["bbb tee"]


async def test_orm_update_and_delete_stay_in_the_mall(two_malls):
    async with session_scope(two_malls.state.sessions, "aaa") as s:
        await s.execute(update(Product).values(price=Decimal("5")))
    async with session_scope(two_malls.state.sessions, "bbb") as s:
        assert await s.scalar(select(Product.price)) == Decimal("1000.00")


async def test_read_sessions_refuse_writes(two_malls):
    async with two_malls.state.read_sessions() as s:
        s.info.update(mall_id="aaa", read_only=True)
        with pytest.raises(ReadOnlyError):
            await s.execute(update(Product).values(name="x"))
        product = await s.scalar(select(Product))
        product.name = "changed"
        with pytest.raises(ReadOnlyError):
            await s.flush()
    assert await names(two_malls, "aaa") == ["aaa tee"]
