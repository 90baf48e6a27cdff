"""Money: ``Decimal`` in Python, a decimal string on the wire, whole minor units in the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")


def format_money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('money must be a decimal string such as "29800.00" (or an integer), not a float')
    if isinstance(value, bool):
        raise ValueError("money must be a decimal string or an integer")
    return value


Money = Annotated[Decimal, PlainSerializer(format_money, return_type=str)]
"""Money in a response: always a string with two decimal places."""

MoneyIn = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(format_money, return_type=str),
]
"""Money in a request: a non-negative decimal string or integer with at most two decimal places."""
