"""Admin API of the catalog: products, options, variants, stock, categories and brands, for apps.

Thin: parse, call ``admin_service``, render. Every route names its scope; request bodies come wrapped
as ``{"request": {...}}`` and answers as ``{"product": {...}}`` / ``{"products": [...]}`` (Cafe24's shape).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from openmall.catalog import admin_service, service
from openmall.catalog.schemas import (
    EMBEDDABLE,
    AdminCategoryList,
    AdminCategoryOne,
    AdminCategoryOut,
    AdminProductList,
    AdminProductOne,
    AdminProductOut,
    AdminVariantList,
    AdminVariantOne,
    AdminVariantOut,
    BrandList,
    BrandOne,
    BrandOut,
    BrandRequest,
    CategoryCreateRequest,
    CategoryUpdateRequest,
    DeletedBrand,
    DeletedCategory,
    DeletedProduct,
    InventoryOne,
    InventoryOut,
    InventoryUpdateRequest,
    OptionList,
    OptionOut,
    OptionsUpdateRequest,
    ProductCreateRequest,
    ProductUpdateRequest,
    ShopProductCount,
    VariantUpdateRequest,
)
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT, parse_int, parse_int_list
from openmall.kernel.representation import EmbedQuery, FieldsQuery, View
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.malls.service import MallInfo
from openmall.oauth.guard import AdminRouter

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: catalog"])

READ_PRODUCT, WRITE_PRODUCT = "mall.read_product", "mall.write_product"
READ_CATEGORY, WRITE_CATEGORY = "mall.read_category", "mall.write_category"
READ_BRAND, WRITE_BRAND = READ_PRODUCT, WRITE_PRODUCT  # a product's brand is part of the product catalog

ProductNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The product's number.")]
VariantNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The variant's number.")]
CategoryNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The category's number.")]
BrandNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The brand's number.")]
Flag = Annotated[str | None, Query(description="T or F (true/false); absent: either.", examples=["T"])]


def product_filter_query(
    product_no: Annotated[str | None, Query(description="Product number(s), comma-separated.")] = None,
    category: Annotated[
        str | None, Query(description="Category number(s), comma-separated (OR); includes sub-categories.")
    ] = None,
    brand_no: Annotated[str | None, Query(description="Brand number(s), comma-separated.")] = None,
    keyword: Annotated[str | None, Query(description="Words in the product name or code.")] = None,
    display: Flag = None,
    selling: Flag = None,
    sort: Annotated[
        str | None, Query(description=f"One of {', '.join(service.SORT_CHOICES)}; '-' sorts descending.")
    ] = None,
) -> admin_service.ProductFilter:
    return admin_service.product_filter(product_no=product_no, category=category, brand_no=brand_no,
                                        keyword=keyword, display=display, selling=selling, sort=sort)  # fmt: skip


ProductFilterQuery = Annotated[admin_service.ProductFilter, Depends(product_filter_query)]


def _whole(mall: MallInfo) -> View:
    """A product as a write answers it: with its options and variants."""
    return View(AdminProductOut, mall, None, ",".join(EMBEDDABLE), EMBEDDABLE)


def _status(response: Response, status: int) -> Response:
    response.status_code = status
    return response


# ---- products ------------------------------------------------------------------------------------------


@router.get("/products", scope=READ_PRODUCT, response_model=AdminProductList,
            summary="List products, hidden and not on sale ones included")  # fmt: skip
async def list_products(
    mall: CurrentMall,
    session: ReadSession,
    page: PageParams,
    f: ProductFilterQuery,
    fields: FieldsQuery = None,
    embed: EmbedQuery = None,
) -> Response:
    """`embed=variants,options` shows them inline; `fields=a,b` only those fields."""
    view = View(AdminProductOut, mall, fields, embed, EMBEDDABLE)
    return view.many("products", await admin_service.list_products(session, mall, f, page, view.embeds))


@router.get("/products/count", scope=READ_PRODUCT, response_model=ShopProductCount,
            summary="Count the products a list would show")  # fmt: skip
async def count_products(session: ReadSession, f: ProductFilterQuery) -> JSONResponse:
    return JSONResponse({"count": await admin_service.count_products(session, f)})


@router.get("/products/{product_no}", scope=READ_PRODUCT, response_model=AdminProductOne, summary="One product")
async def get_product(
    mall: CurrentMall, session: ReadSession, product_no: ProductNo, fields: FieldsQuery = None, embed: EmbedQuery = None
) -> Response:
    """`embed=variants,options` shows them inline; `fields=a,b` only those fields."""
    view = View(AdminProductOut, mall, fields, embed, EMBEDDABLE)
    return view.one("product", await admin_service.get_product(session, product_no, view.embeds))


@router.post("/products", scope=WRITE_PRODUCT, status_code=201, response_model=AdminProductOne,
             summary="Create a product with its options and variants")  # fmt: skip
async def create_product(mall: CurrentMall, session: DbSession, body: ProductCreateRequest) -> Response:
    """Omit `variants` to get one per combination of option values (stock `default_quantity`).
    Answers the product with its options and variants."""
    product_no = await admin_service.create_product(session, body.request)
    product = await admin_service.get_product(session, product_no, EMBEDDABLE)
    return _status(_whole(mall).one("product", product), 201)


@router.put("/products/{product_no}", scope=WRITE_PRODUCT, response_model=AdminProductOne,
            summary="Change a product (only the fields given)")  # fmt: skip
async def update_product(
    mall: CurrentMall, session: DbSession, product_no: ProductNo, body: ProductUpdateRequest
) -> Response:
    """`categories` replaces the product's categories; `brand_no: null` takes it out of its brand.
    Answers the product with its options and variants."""
    await admin_service.update_product(session, product_no, body.request)
    return _whole(mall).one("product", await admin_service.get_product(session, product_no, EMBEDDABLE))


@router.delete("/products/{product_no}", scope=WRITE_PRODUCT, response_model=DeletedProduct,
               summary="Delete a product with its variants")  # fmt: skip
async def delete_product(session: DbSession, product_no: ProductNo) -> JSONResponse:
    await admin_service.delete_product(session, product_no)
    return JSONResponse({"product": {"product_no": product_no}})


# ---- options -------------------------------------------------------------------------------------------


@router.get("/products/{product_no}/options", scope=READ_PRODUCT, response_model=OptionList,
            summary="A product's options")  # fmt: skip
async def get_options(mall: CurrentMall, session: ReadSession, product_no: ProductNo) -> Response:
    return View(OptionOut, mall).many("options", await admin_service.get_options(session, product_no))


@router.put("/products/{product_no}/options", scope=WRITE_PRODUCT, response_model=AdminProductOne,
            summary="Replace a product's options; variants follow")  # fmt: skip
async def update_options(
    mall: CurrentMall, session: DbSession, product_no: ProductNo, body: OptionsUpdateRequest
) -> Response:
    """List the options as they should be. An option continues the current one of the same name, or
    of `original_name` (a rename); `renamed_values` maps current values to new ones. Renamed options and
    values keep their variants (numbers, codes, stock). An added value adds a variant for every
    combination with it (stock `default_quantity`); a removed value deletes its variants, refused (409)
    while any of them has stock. A new option: the variants there are take its first value. An option
    can be removed once it has a single value. Answers the product with its options and variants."""
    await admin_service.update_options(session, product_no, body.request)
    return _whole(mall).one("product", await admin_service.get_product(session, product_no, EMBEDDABLE))


# ---- variants and stock --------------------------------------------------------------------------------


@router.get("/products/{product_no}/variants", scope=READ_PRODUCT, response_model=AdminVariantList,
            summary="A product's variants, hidden ones included, with stock")  # fmt: skip
async def list_variants(
    mall: CurrentMall, session: ReadSession, product_no: ProductNo, fields: FieldsQuery = None
) -> Response:
    view = View(AdminVariantOut, mall, fields)
    return view.many("variants", await admin_service.list_variants(session, product_no))


@router.get("/products/{product_no}/variants/{variant_no}", scope=READ_PRODUCT, response_model=AdminVariantOne,
            summary="One variant")  # fmt: skip
async def get_variant(
    mall: CurrentMall, session: ReadSession, product_no: ProductNo, variant_no: VariantNo, fields: FieldsQuery = None
) -> Response:
    view = View(AdminVariantOut, mall, fields)
    return view.one("variant", await admin_service.get_variant(session, product_no, variant_no))


@router.put("/products/{product_no}/variants/{variant_no}", scope=WRITE_PRODUCT, response_model=AdminVariantOne,
            summary="Change a variant (only the fields given)")  # fmt: skip
async def update_variant(
    mall: CurrentMall, session: DbSession, product_no: ProductNo, variant_no: VariantNo, body: VariantUpdateRequest
) -> Response:
    """`quantity` sets the stock; to add or take away, use the inventories route's `adjust`."""
    await admin_service.update_variant(session, product_no, variant_no, body.request)
    return View(AdminVariantOut, mall).one("variant", await admin_service.get_variant(session, product_no, variant_no))


@router.get("/products/{product_no}/variants/{variant_no}/inventories", scope=READ_PRODUCT,
            response_model=InventoryOne, summary="A variant's stock")  # fmt: skip
async def get_inventory(
    mall: CurrentMall, session: ReadSession, product_no: ProductNo, variant_no: VariantNo
) -> Response:
    return View(InventoryOut, mall).one("inventory", await admin_service.get_inventory(session, product_no, variant_no))


@router.put("/products/{product_no}/variants/{variant_no}/inventories", scope=WRITE_PRODUCT,
            response_model=InventoryOne, summary="Set a variant's stock, or add to it")  # fmt: skip
async def update_inventory(
    mall: CurrentMall, session: DbSession, product_no: ProductNo, variant_no: VariantNo, body: InventoryUpdateRequest
) -> Response:
    """`{"request": {"quantity": N}}` sets the stock; `{"request": {"adjust": ±N}}` adds to it in one
    atomic step and is refused (409, nothing changed) when the stock would go below zero."""
    change = body.request  # the schema lets exactly one of the two through
    if change.quantity is not None:
        inventory = await admin_service.set_inventory(session, product_no, variant_no, change.quantity)
    else:
        inventory = await admin_service.adjust_inventory(session, product_no, variant_no, change.adjust)
    return View(InventoryOut, mall).one("inventory", inventory)


# ---- categories ----------------------------------------------------------------------------------------


@router.get("/categories", scope=READ_CATEGORY, response_model=AdminCategoryList,
            summary="Categories, hidden ones included, parents first")  # fmt: skip
async def list_categories(
    mall: CurrentMall,
    session: ReadSession,
    page: PageParams,
    category_no: Annotated[str | None, Query(description="Category number(s), comma-separated.")] = None,
    parent_category_no: Annotated[str | None, Query(description="Only the children of this category.")] = None,
    fields: FieldsQuery = None,
) -> Response:
    view = View(AdminCategoryOut, mall, fields)
    nos = parse_int_list("category_no", category_no)
    parent = parse_int("parent_category_no", parent_category_no, default=None, low=1, high=MAX_INT,
                       hint="a positive integer")  # fmt: skip
    return view.many("categories", await admin_service.list_categories(session, page, nos, parent))


@router.get("/categories/{category_no}", scope=READ_CATEGORY, response_model=AdminCategoryOne,
            summary="One category")  # fmt: skip
async def get_category(
    mall: CurrentMall, session: ReadSession, category_no: CategoryNo, fields: FieldsQuery = None
) -> Response:
    return View(AdminCategoryOut, mall, fields).one("category", await admin_service.get_category(session, category_no))


@router.post("/categories", scope=WRITE_CATEGORY, status_code=201, response_model=AdminCategoryOne,
             summary="Create a category")  # fmt: skip
async def create_category(mall: CurrentMall, session: DbSession, body: CategoryCreateRequest) -> Response:
    category_no = await admin_service.create_category(session, body.request)
    category = await admin_service.get_category(session, category_no)
    return _status(View(AdminCategoryOut, mall).one("category", category), 201)


@router.put("/categories/{category_no}", scope=WRITE_CATEGORY, response_model=AdminCategoryOne,
            summary="Change or move a category (only the fields given)")  # fmt: skip
async def update_category(
    mall: CurrentMall, session: DbSession, category_no: CategoryNo, body: CategoryUpdateRequest
) -> Response:
    """`parent_category_no` moves it with everything below it (`null`: to the top); a category cannot
    move under itself or its own sub-categories."""
    await admin_service.update_category(session, category_no, body.request)
    return View(AdminCategoryOut, mall).one("category", await admin_service.get_category(session, category_no))


@router.delete("/categories/{category_no}", scope=WRITE_CATEGORY, response_model=DeletedCategory,
               summary="Delete a category without sub-categories")  # fmt: skip
async def delete_category(session: DbSession, category_no: CategoryNo) -> JSONResponse:
    """Its products stay, out of this category. A category with sub-categories is refused (409)."""
    await admin_service.delete_category(session, category_no)
    return JSONResponse({"category": {"category_no": category_no}})


# ---- brands --------------------------------------------------------------------------------------------


@router.get("/brands", scope=READ_BRAND, response_model=BrandList, summary="Brands")
async def list_brands(
    mall: CurrentMall, session: ReadSession, page: PageParams, fields: FieldsQuery = None
) -> Response:
    return View(BrandOut, mall, fields).many("brands", await admin_service.list_brands(session, page))


@router.get("/brands/{brand_no}", scope=READ_BRAND, response_model=BrandOne, summary="One brand")
async def get_brand(mall: CurrentMall, session: ReadSession, brand_no: BrandNo, fields: FieldsQuery = None) -> Response:
    return View(BrandOut, mall, fields).one("brand", await admin_service.get_brand(session, brand_no))


@router.post("/brands", scope=WRITE_BRAND, status_code=201, response_model=BrandOne, summary="Create a brand")
async def create_brand(mall: CurrentMall, session: DbSession, body: BrandRequest) -> Response:
    brand = await admin_service.create_brand(session, body.request.name)
    return _status(View(BrandOut, mall).one("brand", brand), 201)


@router.put("/brands/{brand_no}", scope=WRITE_BRAND, response_model=BrandOne, summary="Rename a brand")
async def update_brand(mall: CurrentMall, session: DbSession, brand_no: BrandNo, body: BrandRequest) -> Response:
    return View(BrandOut, mall).one("brand", await admin_service.update_brand(session, brand_no, body.request.name))


@router.delete("/brands/{brand_no}", scope=WRITE_BRAND, response_model=DeletedBrand, summary="Delete a brand")
async def delete_brand(session: DbSession, brand_no: BrandNo) -> JSONResponse:
    """Its products stay, without a brand."""
    await admin_service.delete_brand(session, brand_no)
    return JSONResponse({"brand": {"brand_no": brand_no}})
