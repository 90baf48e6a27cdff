"""kernel.fastsql: prebuilt statements run in the session's own transaction, scoped to its mall, with values
converted as the ORM converts them, on SQLite (SQLAlchemy Core) and PostgreSQL (asyncpg directly)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.orm import aliased

from openmall.catalog.models import Brand, Product, Variant
from openmall.kernel import clock
from openmall.kernel.db import ALL_MALLS, ReadOnlyError, TenancyError, session_scope, utcnow
from openmall.kernel.fastsql import Statement, in_mall
from openmall.malls.models import Mall

# ---- the statements under test (module level, as the application builds them: once, run many times) ----------

VARIANTS_BY_CODE = Statement(lambda many: (
    select(Variant.variant_no, Variant.variant_code, Variant.option_values, Variant.additional_amount,
           Variant.updated_at, Product.price, Product.mall_id)
    .join(Product, Product.product_no == Variant.product_no)
    .where(many(Variant.variant_code, "codes"), in_mall(Variant), in_mall(Product))
    .order_by(Variant.variant_code)
))  # fmt: skip
TAKE = Statement(
    update(Variant).where(Variant.variant_no == bindparam("b_no"), Variant.quantity >= bindparam("b_qty"),
                          in_mall(Variant))
    .values(quantity=Variant.quantity - bindparam("b_qty")).returning(Variant.quantity, Variant.updated_at)
)  # fmt: skip
RENAME = Statement(
    update(Product).where(Product.product_code == bindparam("b_code"), in_mall(Product))
    .values(name=bindparam("b_name"))
)  # fmt: skip
ADD_BRANDS = Statement(insert(Brand))
ADD_PRODUCT = Statement(insert(Product).returning(Product.product_no))
BRANDS_NAMED = Statement(lambda many: (
    select(Brand.brand_no, Brand.name, Brand.created_at).where(many(Brand.name, "names"), in_mall(Brand))
    .order_by(Brand.name)
))  # fmt: skip
DROP_BRANDS = Statement(lambda many: delete(Brand).where(many(Brand.name, "names"), in_mall(Brand)))
PRICES = Statement(lambda many: (
    select(Product.product_code, Product.price).where(many(Product.product_code, "codes"), in_mall(Product))
))  # fmt: skip
MALL_NAME = Statement(select(Mall.name).where(Mall.mall_id == bindparam("mall_id")))  # not a mall-owned table


async def orm_product(app, mall: str, code: str) -> Product:
    async with session_scope(app.state.sessions, mall) as s:
        product = await s.scalar(select(Product).where(Product.product_code == code))
        assert product is not None
        return product


async def orm_variant(app, mall: str, code: str) -> Variant:
    async with session_scope(app.state.sessions, mall) as s:
        variant = await s.scalar(select(Variant).where(Variant.variant_code == code))
        assert variant is not None
        return variant


# ---- reads ----------------------------------------------------------------------------------------------------


async def test_select_many_reads_the_sessions_mall_with_values_as_the_orm_reads_them(app, shop):
    codes = ["JEANS-1-004", "TEE-WHITE-001", "TEE-WHITE-002", "NO-SUCH-CODE"]
    theirs = await orm_variant(app, "other", "TEE-WHITE-001")  # the other mall has a variant of the same code
    async with session_scope(app.state.sessions, "demo") as s:
        rows = await VARIANTS_BY_CODE.all(s, codes=codes)
        by_orm = {v.variant_code: v for v in await s.scalars(select(Variant).where(Variant.variant_code.in_(codes)))}
    assert [r.variant_code for r in rows] == ["JEANS-1-004", "TEE-WHITE-001", "TEE-WHITE-002"]
    assert {r.mall_id for r in rows} == {"demo"}
    assert theirs.variant_no not in {r.variant_no for r in rows}

    jeans, white = rows[0], rows[1]
    assert jeans.additional_amount == Decimal("2000.50") and str(jeans.additional_amount) == "2000.50"
    assert jeans.price == Decimal("59000") and str(jeans.price) == "59000.00"
    assert str(white.additional_amount) == "0.00"
    assert jeans.option_values == [{"name": "Color", "value": "black"}, {"name": "Waist", "value": "30"}]
    assert isinstance(white.option_values, list) and white.option_values[0] == {"name": "Color", "value": "white"}
    for row in rows:
        orm = by_orm[row.variant_code]
        assert row.variant_no == orm.variant_no
        assert row.option_values == orm.option_values
        assert row.additional_amount == orm.additional_amount
        assert row.updated_at == orm.updated_at and row.updated_at.utcoffset() == timedelta(0)
        assert abs(row.updated_at - datetime.now(UTC)) < timedelta(hours=1)  # aware: comparable with an aware now
        # positional access as well as by name
        assert row[0] == row.variant_no and row[1] == row.variant_code


async def test_select_many_of_one_and_of_none(app, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        assert [tuple(r) for r in await PRICES.all(s, codes=["COAT-1"])] == [("COAT-1", Decimal("199000.00"))]
        assert await PRICES.all(s, codes=[]) == []
        assert await PRICES.first(s, codes=["NO-SUCH-CODE"]) is None
        assert await PRICES.scalar(s, codes=["NO-SUCH-CODE"]) is None
    async with session_scope(app.state.sessions, "other") as s:
        assert [tuple(r) for r in await PRICES.all(s, codes=["TEE-WHITE", "COAT-1"])] == [
            ("TEE-WHITE", Decimal("45.00"))
        ]


async def test_a_statement_on_no_mall_owned_table_needs_no_mall(app, shop):
    async with app.state.sessions() as s:
        assert await MALL_NAME.scalar(s, mall_id="other") == "Other Shop"


# ---- writes ---------------------------------------------------------------------------------------------------


async def test_update_returning_takes_stock_only_when_there_is_enough(app, shop):
    before = await orm_variant(app, "demo", "JEANS-1-004")
    assert before.quantity == 7
    with clock.travel(timedelta(days=2)):
        async with session_scope(app.state.sessions, "demo") as s:
            left = await TAKE.first(s, b_no=before.variant_no, b_qty=3)
            assert left is not None and left.quantity == 4
            assert left.updated_at.tzinfo is not None and left.updated_at > before.updated_at + timedelta(days=1)
            assert await TAKE.scalar(s, b_no=before.variant_no, b_qty=5) is None  # not enough: nothing changes
            last = await TAKE.first(s, b_no=before.variant_no, b_qty=4)
            assert last is not None and last.quantity == 0 and last.updated_at >= left.updated_at
    after = await orm_variant(app, "demo", "JEANS-1-004")
    assert after.quantity == 0
    assert after.updated_at == last.updated_at  # onupdate=utcnow, from the (moved) Python clock


async def test_update_cannot_reach_another_malls_row(app, shop):
    theirs = await orm_variant(app, "other", "TEE-WHITE-001")
    async with session_scope(app.state.sessions, "demo") as s:
        assert await TAKE.scalar(s, b_no=theirs.variant_no, b_qty=1) is None
    assert (await orm_variant(app, "other", "TEE-WHITE-001")).quantity == theirs.quantity


async def test_update_without_returning_counts_the_rows_it_changed(app, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        assert await RENAME.execute(s, b_code="TEE-WHITE", b_name="Renamed Tee") == 1
        assert await RENAME.execute(s, b_code="NO-SUCH-CODE", b_name="Nothing") == 0
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "Renamed Tee"
    assert (await orm_product(app, "other", "TEE-WHITE")).name == "Other Mall Hoodie"  # the same code, theirs


async def test_delete_counts_the_rows_it_removed(app, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        await ADD_BRANDS.insert_many(s, [{"name": "Acme"}, {"name": "Zeta"}])
    async with session_scope(app.state.sessions, "other") as s:
        await ADD_BRANDS.insert_many(s, [{"name": "Acme"}])
    async with session_scope(app.state.sessions, "demo") as s:
        assert await DROP_BRANDS.execute(s, names=["Acme", "Zeta", "Nope"]) == 2
        assert await DROP_BRANDS.execute(s, names=["Acme"]) == 0
    async with session_scope(app.state.sessions, "other") as s:
        assert list(await s.scalars(select(Brand.name))) == ["Acme"]


@pytest.mark.parametrize("first", ["fastsql", "orm"], ids=["fastsql-first", "orm-first"])
async def test_rollback_undoes_fastsql_writes(app, shop, first):
    """The statements run in the session's transaction: whether a fastsql write or an ORM statement begins it,
    an error in the unit of work takes the fastsql writes back with everything else."""
    jeans = await orm_variant(app, "demo", "JEANS-1-004")
    with pytest.raises(RuntimeError, match="boom"):
        async with session_scope(app.state.sessions, "demo") as s:
            if first == "orm":
                await s.execute(update(Product).where(Product.product_code == "COAT-1").values(summary="changed"))
            assert await RENAME.execute(s, b_code="TEE-WHITE", b_name="Never Saved") == 1
            assert await TAKE.scalar(s, b_no=jeans.variant_no, b_qty=2) == 5
            await ADD_BRANDS.insert_many(s, [{"name": "Ghost"}])
            assert await ADD_PRODUCT.scalar(s, product_code="GHOST-1", name="Ghost", price=Decimal("1"),
                                            retail_price=Decimal("1"))  # fmt: skip
            # the same transaction: the ORM sees the fastsql writes before the end
            assert await s.scalar(select(Product.name).where(Product.product_code == "TEE-WHITE")) == "Never Saved"
            raise RuntimeError("boom")
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "White Cotton Tee"
    assert (await orm_product(app, "demo", "COAT-1")).summary == ""
    assert (await orm_variant(app, "demo", "JEANS-1-004")).quantity == 7
    async with session_scope(app.state.sessions, "demo") as s:
        assert list(await s.scalars(select(Brand.name))) == []
        assert await s.scalar(select(Product).where(Product.product_code == "GHOST-1")) is None
        # and the session's connection is usable afterwards, in a new transaction that commits
        assert await RENAME.execute(s, b_code="TEE-WHITE", b_name="Saved") == 1
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "Saved"


async def test_writes_in_one_session_after_a_commit_are_in_the_next_transaction(app, shop):
    async with app.state.sessions() as s:
        s.info["mall_id"] = "demo"
        await RENAME.execute(s, b_code="TEE-WHITE", b_name="First")
        await s.commit()
        await RENAME.execute(s, b_code="TEE-WHITE", b_name="Second")
        await s.rollback()
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "First"


# ---- inserts --------------------------------------------------------------------------------------------------


async def test_insert_many_stamps_the_sessions_mall_and_python_defaults(app, shop):
    with clock.travel(timedelta(days=3)):
        start = utcnow()
        async with session_scope(app.state.sessions, "demo") as s:
            # a mall_id in the values is not the caller's to choose: refused, nothing written
            with pytest.raises(ValueError, match="takes no mall_id"):
                await ADD_BRANDS.insert_many(s, [{"name": "Acme"}, {"name": "Zeta", "mall_id": "other"}])
            await ADD_BRANDS.insert_many(s, [{"name": "Acme"}, {"name": "Zeta"}])
        end = utcnow()
    async with session_scope(app.state.sessions, "demo") as s:
        brands = list(await s.scalars(select(Brand).order_by(Brand.name)))
    assert [(b.name, b.mall_id) for b in brands] == [("Acme", "demo"), ("Zeta", "demo")]
    for brand in brands:  # created_at default=utcnow: the Python clock (3 days ahead), not the database's
        assert start <= brand.created_at <= end
    async with session_scope(app.state.sessions, "other") as s:
        assert list(await s.scalars(select(Brand))) == []
    async with session_scope(app.state.sessions, "demo") as s:
        await ADD_BRANDS.insert_many(s, [])  # nothing to insert: nothing happens
        found = await BRANDS_NAMED.all(s, names=["Acme", "Zeta"])
    assert [(r.name, r.created_at) for r in found] == [(b.name, b.created_at) for b in brands]


async def test_insert_returning_a_new_products_number(app, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        start = utcnow()
        no = await ADD_PRODUCT.scalar(s, product_code="NEW-1", name="New Shirt", price=Decimal("12.34"),
                                      retail_price=Decimal("20"))  # fmt: skip
        end = utcnow()
        assert isinstance(no, int)
    async with session_scope(app.state.sessions, "demo") as s:
        product = await s.get(Product, no)
    assert product is not None
    assert (product.mall_id, product.product_code, product.name) == ("demo", "NEW-1", "New Shirt")
    assert str(product.price) == "12.34" and str(product.retail_price) == "20.00"
    # the defaults the values leave out: scalar (summary "", selling True) and callable (options list, utcnow)
    assert (product.summary, product.description, product.display, product.selling) == ("", "", True, True)
    assert product.options == []
    assert start <= product.created_at <= end and start <= product.updated_at <= end
    async with session_scope(app.state.sessions, "other") as s:
        assert await s.get(Product, no) is None


async def test_insert_refuses_money_with_more_than_two_decimal_places(app, shop):
    with pytest.raises(Exception, match="more than two decimal places"):
        async with session_scope(app.state.sessions, "demo") as s:
            await ADD_PRODUCT.scalar(s, product_code="BAD-1", name="Bad", price=Decimal("1.234"), retail_price=1)


# ---- tenancy ----------------------------------------------------------------------------------------------------


async def test_a_mall_owned_table_without_in_mall_is_refused_at_first_use(app, shop):
    unscoped = Statement(select(Product.name).where(Product.product_code == bindparam("code")))  # builds lazily
    async with session_scope(app.state.sessions, "demo") as s:
        with pytest.raises(TenancyError, match="products"):
            await unscoped.all(s, code="TEE-WHITE")
        with pytest.raises(TenancyError, match="products"):  # and every time after
            await unscoped.first(s, code="TEE-WHITE")


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda many: select(Variant.variant_no).join(Product, Product.product_no == Variant.product_no)
                     .where(many(Variant.variant_no, "nos"), in_mall(Variant)), id="join-scopes-variants-only"),
        pytest.param(lambda many: select(Variant.variant_no).join(Product, Product.product_no == Variant.product_no)
                     .where(many(Variant.variant_no, "nos"), in_mall(Product)), id="join-scopes-products-only"),
        pytest.param(lambda many: select(Variant.variant_no).where(
            many(Variant.variant_no, "nos"), in_mall(Variant),
            Variant.product_no.in_(select(Product.product_no).where(Product.selling))), id="unscoped-subquery"),
        pytest.param(lambda many: update(Variant).where(many(Variant.variant_no, "nos")).values(quantity=0),
                     id="update"),
        pytest.param(lambda many: delete(Variant).where(many(Variant.variant_no, "nos")), id="delete"),
        # an outer join's ON clause does not filter its preserved (left) side: every variant of every mall
        pytest.param(lambda many: select(Variant.variant_no).outerjoin(Product, and_(
            Product.product_no == Variant.product_no, in_mall(Product), in_mall(Variant)))
            .where(many(Variant.variant_no, "nos")), id="outer-join-on-scopes-the-preserved-side"),
        pytest.param(lambda many: select(Variant.variant_no).join(Product, and_(
            Product.product_no == Variant.product_no, in_mall(Product), in_mall(Variant)), full=True)
            .where(many(Variant.variant_no, "nos")), id="full-join-on-scopes-nothing"),
    ],
)  # fmt: skip
async def test_every_mall_owned_table_must_be_scoped(app, shop, build):
    statement = Statement(build)
    async with session_scope(app.state.sessions, "demo") as s:
        with pytest.raises(TenancyError, match="must be compared with the session's mall"):
            await statement.all(s, nos=[1, 2])
    async with session_scope(app.state.sessions, "demo") as s:  # nothing was written
        assert await s.scalar(select(Variant.quantity).where(Variant.variant_code == "JEANS-1-004")) == 7


@pytest.mark.parametrize("mall", [ALL_MALLS, None], ids=["all-malls", "no-mall"])
async def test_a_session_not_bound_to_one_mall_is_refused(app, shop, mall):
    async with app.state.sessions() as s:
        if mall is not None:
            s.info["mall_id"] = mall
        with pytest.raises(TenancyError, match="one mall"):
            await PRICES.all(s, codes=["TEE-WHITE"])
        with pytest.raises(TenancyError, match="one mall"):
            await RENAME.execute(s, b_code="TEE-WHITE", b_name="Everywhere")
        with pytest.raises(TenancyError, match="one mall"):
            await ADD_BRANDS.insert_many(s, [{"name": "Nowhere"}])
        await s.commit()
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "White Cotton Tee"
    assert (await orm_product(app, "other", "TEE-WHITE")).name == "Other Mall Hoodie"
    async with session_scope(app.state.sessions, "demo") as s:
        assert list(await s.scalars(select(Brand))) == []


async def test_a_read_only_session_reads_and_refuses_writes(app, shop):
    async with app.state.read_sessions() as s:
        s.info.update(mall_id="demo", read_only=True)
        with pytest.raises(ReadOnlyError):
            await RENAME.execute(s, b_code="TEE-WHITE", b_name="Read Only")
        with pytest.raises(ReadOnlyError):
            await ADD_BRANDS.insert_many(s, [{"name": "Read Only"}])
        with pytest.raises(ReadOnlyError):
            await DROP_BRANDS.execute(s, names=["Read Only"])
        assert [tuple(r) for r in await PRICES.all(s, codes=["TEE-WHITE"])] == [("TEE-WHITE", Decimal("19800.00"))]
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "White Cotton Tee"
    async with session_scope(app.state.sessions, "demo") as s:
        assert list(await s.scalars(select(Brand))) == []


# ---- the unit of work -------------------------------------------------------------------------------------------


async def test_pending_orm_changes_are_flushed_first(app, shop):
    async with session_scope(app.state.sessions, "demo") as s:
        s.add(Brand(name="Fresh"))  # new
        coat = await s.scalar(select(Product).where(Product.product_code == "COAT-1"))
        coat.price = Decimal("150000.50")  # dirty
        found = await BRANDS_NAMED.all(s, names=["Fresh"])
        assert [r.name for r in found] == ["Fresh"]
        assert found[0].created_at.tzinfo is not None
        assert [tuple(r) for r in await PRICES.all(s, codes=["COAT-1"])] == [("COAT-1", Decimal("150000.50"))]
    async with session_scope(app.state.sessions, "demo") as s:
        assert await s.scalar(select(Brand.mall_id).where(Brand.name == "Fresh")) == "demo"


# ---- bugs found while writing these tests (they fail until fastsql.py is fixed) --------------------------------


async def test_an_aliased_copy_of_a_scoped_table_must_be_scoped_too(app, shop):
    """BUG: the check counts tables, not their occurrences. ``in_mall(Product)`` marks ``products`` as scoped, so
    an alias of ``products`` in the same statement passes unscoped, and the self-join reads another mall's row
    (the other mall's product of the same code)."""
    twin = aliased(Product)
    same_code = Statement(
        select(Product.name, twin.name.label("twin"))
        .join(twin, twin.product_code == Product.product_code)
        .where(Product.product_code == bindparam("code"), in_mall(Product))
    )
    async with session_scope(app.state.sessions, "demo") as s:
        with pytest.raises(TenancyError):
            leaked = await same_code.all(s, code="TEE-WHITE")
            pytest.fail(f"unscoped alias ran and returned {sorted(r.twin for r in leaked)}")


async def test_a_refused_write_raises_integrity_error_on_every_database(app, shop):
    """BUG on PostgreSQL: asyncpg's own exception (``UniqueViolationError``) escapes instead of SQLAlchemy's
    ``IntegrityError``, which the app turns into a 409 (kernel/errors.py) and services catch; over HTTP a race on a
    unique key through a fastsql statement answers 500 on PostgreSQL where SQLite answers 409."""
    async with session_scope(app.state.sessions, "demo") as s:
        await ADD_BRANDS.insert_many(s, [{"name": "Acme"}])
    with pytest.raises(IntegrityError):
        async with session_scope(app.state.sessions, "demo") as s:
            await ADD_BRANDS.insert_many(s, [{"name": "Acme"}])
    with pytest.raises(IntegrityError):  # a check constraint (price >= 0)
        async with session_scope(app.state.sessions, "demo") as s:
            await ADD_PRODUCT.scalar(s, product_code="NEG-1", name="Negative", price=Decimal("-1"), retail_price=0)


async def test_after_a_failed_flush_a_write_is_refused_as_the_orm_refuses_it(app, shop):
    """BUG (since the connection is kept in ``session.info["_fastsql"]``): a failed flush rolls the database
    transaction back but leaves the session's SessionTransaction object in place (deactivated, awaiting
    ``rollback()``), so ``_connection`` hands out the kept connection instead of asking ``session.connection()``
    (which raises PendingRollbackError). On PostgreSQL the asyncpg connection has no transaction any more: the write
    runs in autocommit and survives the rollback that follows. (On SQLite it runs too, then is rolled back.)"""
    async with session_scope(app.state.sessions, "demo") as s:
        await ADD_BRANDS.insert_many(s, [{"name": "Acme"}])
    refused = None
    async with app.state.sessions() as s:
        s.info["mall_id"] = "demo"
        assert await RENAME.execute(s, b_code="TEE-WHITE", b_name="Before") == 1  # the connection is kept now
        s.add(Brand(name="Acme"))
        with pytest.raises(IntegrityError):
            await s.flush()
        with pytest.raises(PendingRollbackError):  # the ORM: the transaction is gone until rollback()
            await s.execute(update(Product).where(Product.product_code == "COAT-1").values(summary="x"))
        try:
            await RENAME.execute(s, b_code="TEE-WHITE", b_name="After the failed flush")
        except PendingRollbackError as exc:
            refused = exc
        await s.rollback()
    assert (await orm_product(app, "demo", "TEE-WHITE")).name == "White Cotton Tee"
    assert refused is not None, "the write ran on a connection whose transaction had been rolled back"
