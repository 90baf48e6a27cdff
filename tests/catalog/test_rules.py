"""The catalog's rules, called through the service as an admin tool or import would call it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from openmall.catalog import service as catalog
from openmall.catalog.models import Product, Variant
from openmall.catalog.schemas import CategoryIn, OptionIn, ProductIn, VariantIn
from openmall.kernel.db import session_scope
from openmall.kernel.errors import Conflict, InvalidInput
from tests.conftest import add_mall

COLOR = OptionIn(name="Color", values=["white", "black", "navy"])
SIZE = OptionIn(name="Size", values=["S", "M", "L"])


@pytest.fixture
async def mall(app):
    await add_mall(app, "demo")
    await add_mall(app, "other")
    return app


async def counts(app, mall_id: str = "demo") -> tuple[int, int]:
    async with session_scope(app.state.sessions, mall_id) as s:
        products = await s.scalar(select(func.count()).select_from(Product))
        variants = await s.scalar(select(func.count()).select_from(Variant))
    return products, variants


async def create(app, data: ProductIn, mall_id: str = "demo") -> int:
    async with session_scope(app.state.sessions, mall_id) as s:
        return await catalog.create_product(s, data)


async def test_variants_default_to_every_option_combination(mall):
    no = await create(mall, ProductIn(name="Tee", price="19800", options=[COLOR, SIZE], default_quantity=4))
    async with session_scope(mall.state.sessions, "demo") as s:
        variants = (await s.scalars(select(Variant).where(Variant.product_no == no))).all()
        product = await s.get(Product, no)
    combos = {tuple(ov["value"] for ov in v.option_values) for v in variants}
    assert combos == {(c, z) for c in COLOR.values for z in SIZE.values}
    assert {v.quantity for v in variants} == {4}
    assert len({v.variant_code for v in variants}) == 9
    assert product.retail_price == Decimal("19800.00")  # defaults to the price


async def test_product_without_options_gets_one_variant(mall):
    no = await create(mall, ProductIn(name="Gift Card", price="50000", default_quantity=10))
    async with session_scope(mall.state.sessions, "demo") as s:
        (variant,) = (await s.scalars(select(Variant).where(Variant.product_no == no))).all()
    assert variant.option_values == [] and variant.quantity == 10


@pytest.mark.parametrize(
    ("variants", "words"),
    [
        ([VariantIn(options={"Color": "white"})], "every option"),
        ([VariantIn(options={"Color": "white", "Size": "S", "Fit": "slim"})], "unknown Fit"),
        ([VariantIn(options={"Color": "red", "Size": "S"})], "'red' is not a value of option 'Color'"),
        (
            [VariantIn(options={"Color": "white", "Size": "S"}), VariantIn(options={"Color": "white", "Size": "S"})],
            "repeats the combination white / S",
        ),
        ([], "at least one variant"),
        (
            [VariantIn(options={"Color": "white", "Size": "S"}, additional_amount="-20000")],
            "below zero",
        ),
    ],
)
async def test_variants_must_match_options(mall, variants, words):
    before = await counts(mall)
    with pytest.raises(InvalidInput) as err:
        await create(mall, ProductIn(name="Tee", price="19800", options=[COLOR, SIZE], variants=variants))
    assert words in err.value.message
    assert await counts(mall) == before  # nothing half-written


async def test_option_rules(mall):
    with pytest.raises(InvalidInput, match="unique"):
        await create(mall, ProductIn(name="x", price="1", options=[COLOR, COLOR]))
    with pytest.raises(InvalidInput, match="twice"):
        await create(mall, ProductIn(name="x", price="1", options=[OptionIn(name="Color", values=["a", "a"])]))
    many = [OptionIn(name=f"O{i}", values=[str(v) for v in range(10)]) for i in range(4)]
    with pytest.raises(InvalidInput, match="10000 combinations"):
        await create(mall, ProductIn(name="x", price="1", options=many))


async def test_product_code_is_unique_per_mall(mall):
    await create(mall, ProductIn(name="A", price="1000", product_code="SKU-1"))
    before = await counts(mall)
    with pytest.raises(Conflict, match="SKU-1"):
        await create(mall, ProductIn(name="B", price="2000", product_code="SKU-1"))
    assert await counts(mall) == before
    await create(mall, ProductIn(name="B", price="2000", product_code="SKU-1"), mall_id="other")  # other mall: fine


async def test_variant_code_is_unique_per_mall(mall):
    await create(mall, ProductIn(name="A", price="1", variants=[VariantIn(variant_code="V-1")]))
    with pytest.raises(Conflict, match="V-1"):
        await create(mall, ProductIn(name="B", price="1", variants=[VariantIn(variant_code="V-1")]))


async def test_a_batch_is_all_or_nothing(mall):
    good = ProductIn(name="Good", price="1000", product_code="GOOD")
    twice = ProductIn(name="Dupe", price="1000", product_code="GOOD")
    async with session_scope(mall.state.sessions, "demo") as s:
        with pytest.raises(Conflict, match="given twice"):
            await catalog.create_products(s, [good, twice])
    assert await counts(mall) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"price": "-1"}, "greater than or equal to 0"),
        ({"price": 19.99}, "not a float"),
        ({"price": "19.999"}, "decimal places"),
        ({"price": "abc"}, "decimal"),
        ({"price": "1", "retail_price": "-5"}, "greater than or equal to 0"),
        ({"price": "1", "name": ""}, "at least 1 character"),
        ({"price": "1", "product_code": "has space"}, "pattern"),
        ({"price": "1", "surprise": True}, "Extra inputs"),
    ],
)
def test_product_input_validation(fields, needle):
    with pytest.raises(ValidationError) as err:
        ProductIn(**{"name": "Tee", **fields})
    assert needle in str(err.value)


async def test_categories_and_brands_must_belong_to_the_mall(mall):
    async with session_scope(mall.state.sessions, "other") as s:
        foreign_cat = (await catalog.create_category(s, CategoryIn(name="Theirs"))).category_no
        foreign_brand = (await catalog.create_brand(s, "Their Brand")).brand_no
    with pytest.raises(InvalidInput, match=f"category {foreign_cat}"):
        await create(mall, ProductIn(name="x", price="1", categories=[foreign_cat]))
    with pytest.raises(InvalidInput, match=f"brand {foreign_brand}"):
        await create(mall, ProductIn(name="x", price="1", brand_no=foreign_brand))
    async with session_scope(mall.state.sessions, "demo") as s:
        with pytest.raises(InvalidInput, match="does not exist in this mall"):
            await catalog.create_category(s, CategoryIn(name="Child", parent_category_no=foreign_cat))
    assert await counts(mall) == (0, 0)


async def test_categories_nest_at_most_four_deep(mall):
    async with session_scope(mall.state.sessions, "demo") as s:
        parent = None
        for depth in range(4):
            parent = (
                await catalog.create_category(s, CategoryIn(name=f"L{depth}", parent_category_no=parent))
            ).category_no
        with pytest.raises(InvalidInput, match="at most 4"):
            await catalog.create_category(s, CategoryIn(name="L4", parent_category_no=parent))


async def test_brand_names_are_unique_per_mall(mall):
    async with session_scope(mall.state.sessions, "demo") as s:
        await catalog.create_brand(s, "Haneul")
        with pytest.raises(Conflict):
            await catalog.create_brand(s, "Haneul")
    async with session_scope(mall.state.sessions, "other") as s:
        await catalog.create_brand(s, "Haneul")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": Decimal("-500")}, "price"),
        ({"retail_price": Decimal("-1")}, "retail_price"),
        ({"price": Decimal("1.005")}, "price"),
        ({"variants": [VariantIn.model_construct(options={}, variant_code=None, additional_amount=Decimal("0"),
                                                 quantity=-3, display=True, selling=True)]}, "variants.0.quantity"),
    ],
)  # fmt: skip
async def test_money_and_stock_rules_hold_whatever_shape_the_data_came_in(mall, change, field):
    # model_copy skips validation, as data built in code (an import, a tool) may
    data = ProductIn(name="Tee", price="1000").model_copy(update=change)
    with pytest.raises(InvalidInput) as err:
        await create(mall, data)
    assert err.value.more_info["field"] == field
    assert await counts(mall) == (0, 0)


async def test_the_database_refuses_negative_stock_too(mall):
    no = await create(mall, ProductIn(name="Tee", price="1000", default_quantity=1))
    with pytest.raises(IntegrityError):
        async with session_scope(mall.state.sessions, "demo") as s:
            await s.execute(update(Variant).where(Variant.product_no == no).values(quantity=Variant.quantity - 2))
