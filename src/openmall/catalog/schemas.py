"""Request and response shapes of the catalog."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from openmall.kernel.money import MAX_AMOUNT, Money, MoneyIn, _no_float
from openmall.kernel.schemas import NoControls, Strict
from openmall.kernel.schemas import Partial as _Partial
from openmall.kernel.timeutil import MallDateTime

Name = Annotated[str, Field(min_length=1, max_length=250), NoControls]
RowNo = Annotated[int, Field(ge=1, le=2**63 - 1)]  # a product, category or brand number (a 64-bit id)
DisplayOrder = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]  # a 32-bit column
Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
SignedMoneyIn = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False),
]


# ---- input ---------------------------------------------------------------------------------------


class OptionIn(Strict):
    name: OptionName
    values: Annotated[list[OptionValue], Field(min_length=1, max_length=50)]


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
    categories: Annotated[list[RowNo], Field(max_length=50)] = Field(default_factory=list)
    brand_no: RowNo | None = None
    options: Annotated[list[OptionIn], Field(max_length=5)] = Field(default_factory=list)
    variants: Annotated[list[VariantIn], Field(max_length=1000)] | None = Field(
        default=None, description="Omit to create one variant per option combination."
    )
    default_quantity: Annotated[int, Field(ge=0, le=10_000_000)] = Field(
        default=0, description="Stock of each generated variant when variants are omitted."
    )


class CategoryIn(Strict):
    name: CategoryName
    parent_category_no: RowNo | None = None
    display_order: DisplayOrder = 0
    display: bool = True


# ---- Admin API input: bodies come wrapped as {"request": {...}} (Cafe24's shape) -------------------------

MAX_QUANTITY = 10_000_000
Quantity = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY)]
OptionName = Annotated[str, Field(min_length=1, max_length=50), NoControls]
OptionValue = Annotated[str, Field(min_length=1, max_length=50), NoControls]
BrandName = Annotated[str, Field(min_length=1, max_length=100), NoControls]
CategoryName = Annotated[str, Field(min_length=1, max_length=100), NoControls]


class ProductUpdate(_Partial):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"brand_no"})

    name: Name | None = None
    price: MoneyIn | None = None
    retail_price: MoneyIn | None = None
    summary: Annotated[str, Field(max_length=500)] | None = None
    description: Annotated[str, Field(max_length=100_000)] | None = None
    display: bool | None = None
    selling: bool | None = None
    product_code: Code | None = None
    categories: Annotated[list[RowNo], Field(max_length=50)] | None = Field(
        default=None, description="The product's categories, all of them: replaces the current ones."
    )
    brand_no: RowNo | None = Field(default=None, description="null takes the product out of its brand.")


class OptionEdit(Strict):
    name: OptionName
    values: Annotated[list[OptionValue], Field(min_length=1, max_length=50)]
    original_name: OptionName | None = Field(
        default=None, description="The option's current name, when this renames it; omit otherwise."
    )
    renamed_values: dict[OptionValue, OptionValue] = Field(
        default_factory=dict, description="Current value → new value; each new value is one of `values`."
    )


class OptionsUpdate(Strict):
    options: Annotated[list[OptionEdit], Field(max_length=5)]
    default_quantity: Quantity = Field(default=0, description="Stock of each variant that the change creates.")


class VariantUpdate(_Partial):
    additional_amount: SignedMoneyIn | None = None
    display: bool | None = None
    selling: bool | None = None
    variant_code: Code | None = None
    quantity: Quantity | None = None


class InventoryUpdate(Strict):
    quantity: Quantity | None = Field(default=None, description="The new stock: sets it.")
    adjust: Annotated[int, Field(strict=True, ge=-MAX_QUANTITY, le=MAX_QUANTITY)] | None = Field(
        default=None, description="Add to (or, negative, take from) the stock; it never goes below zero."
    )

    @model_validator(mode="after")
    def _one_of(self) -> InventoryUpdate:
        if (self.quantity is None) == (self.adjust is None):
            raise ValueError("give either quantity (sets the stock) or adjust (adds to it), not both or neither")
        return self


class CategoryUpdate(_Partial):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"parent_category_no"})

    name: CategoryName | None = None
    parent_category_no: RowNo | None = Field(default=None, description="null makes it a top-level category.")
    display_order: DisplayOrder | None = None
    display: bool | None = None


class BrandIn(Strict):
    name: BrandName


class ProductCreateRequest(Strict):
    request: ProductIn


class ProductUpdateRequest(Strict):
    request: ProductUpdate


class OptionsUpdateRequest(Strict):
    request: OptionsUpdate


class VariantUpdateRequest(Strict):
    request: VariantUpdate


class InventoryUpdateRequest(Strict):
    request: InventoryUpdate


class CategoryCreateRequest(Strict):
    request: CategoryIn


class CategoryUpdateRequest(Strict):
    request: CategoryUpdate


class BrandRequest(Strict):
    request: BrandIn


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


# ---- Admin API output: what the merchant's tools see (hidden products, stock counts, codes) -------------


class AdminVariantOut(BaseModel):
    variant_no: int
    variant_code: str
    options: list[OptionValueOut]
    additional_amount: Money
    price: Money
    quantity: int
    display: bool
    selling: bool
    created_date: MallDateTime
    updated_date: MallDateTime


class AdminProductOut(BaseModel):
    product_no: int
    product_code: str
    name: str
    summary: str
    description: str
    price: Money
    retail_price: Money
    display: bool
    selling: bool
    sold_out: bool = Field(description="As the storefront sees it: no displayed variant on sale has stock.")
    total_quantity: int = Field(description="Stock of all variants together, hidden ones included.")
    variant_count: int
    categories: list[int]
    brand_no: int | None
    created_date: MallDateTime
    updated_date: MallDateTime
    options: list[OptionOut] | None = None
    variants: list[AdminVariantOut] | None = None


class InventoryOut(BaseModel):
    product_no: int
    variant_no: int
    variant_code: str
    quantity: int


class AdminCategoryOut(CategoryOut):
    display: bool
    created_date: MallDateTime


class BrandOut(BaseModel):
    brand_no: int
    name: str
    created_date: MallDateTime


class AdminProductList(BaseModel):
    products: list[AdminProductOut]


class AdminProductOne(BaseModel):
    product: AdminProductOut


class OptionList(BaseModel):
    options: list[OptionOut]


class AdminVariantList(BaseModel):
    variants: list[AdminVariantOut]


class AdminVariantOne(BaseModel):
    variant: AdminVariantOut


class InventoryOne(BaseModel):
    inventory: InventoryOut


class AdminCategoryList(BaseModel):
    categories: list[AdminCategoryOut]


class AdminCategoryOne(BaseModel):
    category: AdminCategoryOut


class BrandList(BaseModel):
    brands: list[BrandOut]


class BrandOne(BaseModel):
    brand: BrandOut


class DeletedProduct(BaseModel):
    product: dict[str, int]


class DeletedCategory(BaseModel):
    category: dict[str, int]


class DeletedBrand(BaseModel):
    brand: dict[str, int]
