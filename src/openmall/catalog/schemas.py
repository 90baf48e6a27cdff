"""Request and response shapes of the catalog."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from openmall.kernel.money import MAX_AMOUNT, Money, MoneyIn, _no_float
from openmall.kernel.timeutil import MallDateTime

Name = Annotated[str, Field(min_length=1, max_length=250)]
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
SignedMoneyIn = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ---- input ---------------------------------------------------------------------------------------


class OptionIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=50)]
    values: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(min_length=1, max_length=50)]


class VariantIn(Strict):
    options: dict[str, str] = Field(default_factory=dict, description="Option name → value, one per option.")
    variant_code: Code | None = None
    additional_amount: SignedMoneyIn = Decimal("0")
    quantity: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    display: bool = True
    selling: bool = True


class ProductIn(Strict):
    name: Name
    price: MoneyIn
    product_code: Code | None = None
    retail_price: MoneyIn | None = None
    summary: Annotated[str, Field(max_length=500)] = ""
    description: Annotated[str, Field(max_length=100_000)] = ""
    display: bool = True
    selling: bool = True
    categories: Annotated[list[int], Field(max_length=50)] = Field(default_factory=list)
    brand_no: int | None = None
    options: Annotated[list[OptionIn], Field(max_length=5)] = Field(default_factory=list)
    variants: Annotated[list[VariantIn], Field(max_length=1000)] | None = Field(
        default=None, description="Omit to create one variant per option combination."
    )
    default_quantity: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        default=0, description="Stock of each generated variant when variants are omitted."
    )


class CategoryIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    parent_category_no: int | None = None
    display_order: int = 0
    display: bool = True


# ---- output --------------------------------------------------------------------------------------

StockStatus = Literal["in_stock", "sold_out"]
EMBEDDABLE = ("options", "variants")  # sub-resources of a product that a list shows only on request


class OptionOut(BaseModel):
    name: str
    values: list[str]


class OptionValueOut(BaseModel):
    name: str
    value: str


class ShopVariantOut(BaseModel):
    variant_no: int
    variant_code: str
    options: list[OptionValueOut]
    additional_amount: Money
    price: Money
    stock_status: StockStatus
    selling: bool


class ShopProductOut(BaseModel):
    product_no: int
    product_code: str
    name: str
    summary: str
    description: str
    price: Money
    retail_price: Money
    selling: bool
    sold_out: bool
    categories: list[int]
    brand_no: int | None
    created_date: MallDateTime
    updated_date: MallDateTime
    options: list[OptionOut] | None = None
    variants: list[ShopVariantOut] | None = None


class CategoryOut(BaseModel):
    category_no: int
    parent_category_no: int | None
    name: str
    depth: int
    display_order: int
    full_category_no: list[int]
    full_category_name: list[str]


class ShopProductList(BaseModel):
    products: list[ShopProductOut]


class ShopProductOne(BaseModel):
    product: ShopProductOut


class ShopProductCount(BaseModel):
    count: int


class CategoryList(BaseModel):
    categories: list[CategoryOut]
