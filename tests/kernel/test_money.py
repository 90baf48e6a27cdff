"""Money is exact: decimal strings in and out, whole minor units in the database, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from openmall.catalog import service as catalog
from openmall.catalog.models import Product
from openmall.catalog.schemas import ProductIn, VariantIn
from openmall.kernel.db import MoneyType, session_scope
from openmall.kernel.money import MAX_AMOUNT
from tests.conftest import add_mall

LIST = "/api/v2/shop/products"


@pytest.fixture
async def priced(app) -> dict[str, int]:
    await add_mall(app, "demo")
    amounts = {
        "big": "123456789012.34",
        "max": str(MAX_AMOUNT),
        "cents": "0.07",
        "tenth": "0.1",
        "float_trap": "19.99",  # 19.99 * 100 is 1998.9999999999998 in binary floating point
        "free": "0",
        "big_plus_cent": "123456789012.35",
    }
    async with session_scope(app.state.sessions, "demo") as s:
        return {
            key: await catalog.create_product(
                s, ProductIn(name=key, product_code=key.upper().replace("_", "-"), price=Decimal(amount))
            )
            for key, amount in amounts.items()
        }


async def test_large_amounts_round_trip_exactly(client, priced):
    for key, text in (
        ("big", "123456789012.34"),
        ("max", "999999999999.99"),
        ("cents", "0.07"),
        ("tenth", "0.10"),
        ("float_trap", "19.99"),
        ("free", "0.00"),
    ):
        r = await client.get(f"{LIST}/{priced[key]}")
        assert r.status_code == 200, r.text
        p = r.json()["product"]
        assert p["price"] == text and p["retail_price"] == text, key


async def test_database_hands_back_decimals(app, priced):
    async with session_scope(app.state.sessions, "demo") as s:
        p = await s.get(Product, priced["big"])
        assert isinstance(p.price, Decimal) and p.price == Decimal("123456789012.34")


async def test_filters_and_sorting_compare_exact_amounts(client, priced):
    def nos(r):
        assert r.status_code == 200, r.text
        return [p["product_no"] for p in r.json()["products"]]

    exact = {"price_min": "123456789012.34", "price_max": "123456789012.34"}
    assert nos(await client.get(LIST, params=exact)) == [priced["big"]]
    assert nos(await client.get(LIST, params={"price_min": "123456789012.35", "price_max": "123456789012.35"})) == [
        priced["big_plus_cent"]
    ]
    assert nos(await client.get(LIST, params={"price_max": "0.07"})) == [priced["cents"], priced["free"]]
    order = [p["price"] for p in (await client.get(LIST, params={"sort": "price"})).json()["products"]]
    assert order == ["0.00", "0.07", "0.10", "19.99", "123456789012.34", "123456789012.35", "999999999999.99"]


async def test_variant_price_adds_exactly(app, client):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        no = await catalog.create_product(
            s,
            ProductIn(
                name="Cents",
                price=Decimal("0.10"),
                options=[{"name": "Size", "values": ["S"]}],
                variants=[VariantIn(options={"Size": "S"}, additional_amount=Decimal("0.20"), quantity=1)],
            ),
        )
    (v,) = (await client.get(f"{LIST}/{no}")).json()["product"]["variants"]
    assert v["additional_amount"] == "0.20" and v["price"] == "0.30"


# ---- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "words"),
    [
        (19.99, "float"),
        (19800.0, "float"),
        (Decimal("19.999"), "decimal places"),
        ("19.999", "decimal places"),
        (Decimal("-1"), "greater than or equal to 0"),
        ("-0.01", "greater than or equal to 0"),
        ("NaN", ""),
        ("Infinity", ""),
        (MAX_AMOUNT + Decimal("0.01"), "less than or equal to"),
        (True, "decimal"),
        ("abc", "decimal"),
    ],
)
def test_product_price_refused(price, words):
    with pytest.raises(ValidationError) as info:
        ProductIn(name="Tee", price=price)
    (err,) = info.value.errors()
    assert err["loc"] == ("price",)
    assert words in err["msg"]


@pytest.mark.parametrize("field", ["retail_price"])
def test_other_money_fields_refuse_floats(field):
    with pytest.raises(ValidationError, match="float"):
        ProductIn(name="Tee", price="1", **{field: 9.5})
    with pytest.raises(ValidationError, match="float"):
        VariantIn(additional_amount=0.5)


@pytest.mark.parametrize(
    ("price", "text"), [(19800, "19800.00"), ("19800", "19800.00"), ("19.9", "19.90"), ("0", "0.00")]
)
def test_product_price_accepted_and_rendered_as_string(price, text):
    assert ProductIn(name="Tee", price=price).model_dump(mode="json")["price"] == text


def test_money_type_refuses_floats_and_fractions_of_a_cent():
    t = MoneyType()
    assert t.process_bind_param(Decimal("123456789012.34"), None) == 12345678901234
    assert t.process_result_value(12345678901234, None) == Decimal("123456789012.34")
    assert str(t.process_result_value(7, None)) == "0.07"
    with pytest.raises(TypeError):
        t.process_bind_param(19.99, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two decimal places"):
        t.process_bind_param(Decimal("1.005"), None)


async def test_fraction_of_a_cent_never_reaches_the_database(app, client):
    await add_mall(app, "demo")
    with pytest.raises(Exception, match="two decimal places"):
        async with session_scope(app.state.sessions, "demo") as s:
            s.add(Product(product_code="ODD", name="Odd", price=Decimal("1.005"), retail_price=Decimal("1.005")))
            await s.flush()
    assert (await client.get(f"{LIST}/count")).json() == {"count": 0}
