"""Shop API of the catalog: what a headless storefront reads. Thin: parse, call the service, render."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from openmall.catalog import documents, service
from openmall.catalog.schemas import (
    CategoryList,
    CategoryOut,
    ShopProductCount,
    ShopProductList,
    ShopProductOne,
    ShopProductOut,
)
from openmall.kernel.cache import public
from openmall.kernel.errors import ERROR_RESPONSES
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT
from openmall.kernel.representation import EmbedQuery, FieldsQuery, View, stored_many, stored_one
from openmall.kernel.tenancy import CurrentMall, ReadSession, read_session

router = APIRouter(prefix="/api/v2/shop", tags=["Shop API: catalog"], responses=ERROR_RESPONSES)
# The catalog is the same for every shopper: say so, so that openmall's own shared cache (capped by
# OPENMALL_SHOP_CACHE_SECONDS) and any CDN in front may serve it again for a few seconds.
MAX_AGE = 10

Category = Annotated[
    str | None, Query(description="Category number(s), comma-separated (OR); includes sub-categories.")
]
Keyword = Annotated[str | None, Query(description="Words in the product name or code.")]
PriceMin = Annotated[str | None, Query(description="Lowest price, a decimal amount.", examples=["10000"])]
PriceMax = Annotated[str | None, Query(description="Highest price, a decimal amount.", examples=["50000"])]
Sort = Annotated[str | None, Query(description=f"One of {', '.join(service.SORT_CHOICES)}; '-' sorts descending.")]
ProductNos = Annotated[str | None, Query(alias="product_no", description="Product number(s), comma-separated.")]
BrandNos = Annotated[str | None, Query(alias="brand_no", description="Brand number(s), comma-separated.")]
ProductNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The product's number.")]


def product_filter_query(
    category: Category = None,
    keyword: Keyword = None,
    price_min: PriceMin = None,
    price_max: PriceMax = None,
    sort: Sort = None,
    product_nos: ProductNos = None,
    brand_nos: BrandNos = None,
) -> service.ProductFilter:
    """The storefront's product filter, as a list and its count both take it."""
    return service.product_filter(
        category=category,
        product_no=product_nos,
        brand_no=brand_nos,
        keyword=keyword,
        price_min=price_min,
        price_max=price_max,
        sort=sort,
    )


ProductFilterQuery = Annotated[service.ProductFilter, Depends(product_filter_query)]


@router.get("/products", response_model=ShopProductList, summary="List displayed products on sale")
async def list_products(
    request: Request,
    mall: CurrentMall,
    page: PageParams,
    f: ProductFilterQuery,
    fields: FieldsQuery = None,
    embed: EmbedQuery = None,
) -> Response:
    view = View(ShopProductOut, mall, fields, embed, service.EMBEDDABLE)
    if fields is None and not view.embeds:  # stored documents, one query, no session
        docs = await documents.product_page(request.app.state.direct_reads, mall, f, page)
        if docs is not None:
            return public(stored_many("products", docs), MAX_AGE)
    async with read_session(request, mall) as session:
        products = await service.list_shop_products(session, mall, replace(f, embed=view.embeds), page)
    return public(view.many("products", products), MAX_AGE)


@router.get("/products/count", response_model=ShopProductCount, summary="Count the products a list would show")
async def count_products(mall: CurrentMall, session: ReadSession, f: ProductFilterQuery) -> Response:
    return public(JSONResponse({"count": await service.count_shop_products(session, f)}), MAX_AGE)


@router.get(
    "/products/{product_no}",
    response_model=ShopProductOne,
    summary="One product with its options, variants and stock status",
)
async def get_product(
    request: Request, mall: CurrentMall, product_no: ProductNo, fields: FieldsQuery = None
) -> Response:
    if fields is None:  # the stored document, one indexed row, no session
        doc = await documents.product_detail(request.app.state.direct_reads, mall, product_no)
        if doc is not None:
            return public(stored_one("product", doc), MAX_AGE)
    view = View(ShopProductOut, mall, fields, None, ())
    async with read_session(request, mall) as session:
        product = await service.get_shop_product(session, mall, product_no)
    return public(view.one("product", product), MAX_AGE)


@router.get("/categories", response_model=CategoryList, summary="Displayed categories, parents first")
async def list_categories(
    mall: CurrentMall, session: ReadSession, page: PageParams, fields: FieldsQuery = None
) -> Response:
    view = View(CategoryOut, mall, fields)
    return public(view.many("categories", await service.list_shop_categories(session, page)), MAX_AGE)
