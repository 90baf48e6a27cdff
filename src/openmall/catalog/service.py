"""The catalog's rules: what a valid product is, and how the storefront reads products and categories.

No HTTP here and no commit: the caller's unit of work commits. Every query runs through a session
bound to one mall (``kernel.db``), so nothing here filters by mall by hand except on bulk inserts,
which stamp the mall themselves.
"""

from __future__ import annotations

import itertools
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import String, bindparam, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import documents
from openmall.catalog.models import Brand, Category, Product, ProductCategory, Variant
from openmall.catalog.schemas import (
    EMBEDDABLE,
    CategoryIn,
    CategoryOut,
    ProductIn,
    VariantIn,
)
from openmall.kernel.bulk import analyze, bulk_insert
from openmall.kernel.db import utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.fastsql import Statement, in_mall
from openmall.kernel.money import CENT, MAX_AMOUNT, format_money
from openmall.kernel.pagination import Page
from openmall.kernel.params import parse_choice, parse_int_list, parse_money, parse_text
from openmall.kernel.timeutil import iso
from openmall.malls import service as malls
from openmall.malls.service import MallInfo

Product_ = dict[str, Any]  # a product as the Shop API shows it: ``schemas.ShopProductOut``, rendered
MAX_CATEGORY_DEPTH = 4
MAX_COMBINATIONS = 1000
SORTS: dict[str, Any] = {
    "product_no": Product.product_no,
    "price": Product.price,
    "created_date": Product.created_at,
    "updated_date": Product.updated_at,
    "name": Product.name,
}
SORT_CHOICES = tuple(itertools.chain.from_iterable((k, "-" + k) for k in SORTS))


# ---- storefront reads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilter:
    categories: Sequence[int] = ()
    product_nos: Sequence[int] = ()
    brand_nos: Sequence[int] = ()
    keyword: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    sort: str = "product_no"
    embed: frozenset[str] = field(default_factory=frozenset)


def product_filter(
    *,
    category: str | None = None,
    product_no: str | None = None,
    brand_no: str | None = None,
    keyword: str | None = None,
    price_min: str | None = None,
    price_max: str | None = None,
    sort: str | None = None,
    embed: Iterable[str] = (),
) -> ProductFilter:
    """Check a storefront's list filter as it came in the query string."""
    low = parse_money("price_min", price_min, maximum=MAX_AMOUNT)
    high = parse_money("price_max", price_max, maximum=MAX_AMOUNT)
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"price_min ({low}) must not be above price_max ({high})",
            field="price_min",
            price_min=str(low),
            price_max=str(high),
        )
    return ProductFilter(
        categories=parse_int_list("category", category),
        product_nos=parse_int_list("product_no", product_no),
        brand_nos=parse_int_list("brand_no", brand_no),
        keyword=parse_text("keyword", keyword, max_length=100),
        price_min=low,
        price_max=high,
        sort=parse_choice("sort", sort, SORT_CHOICES, "product_no"),
        embed=frozenset(embed),
    )


# Hot reads select columns, not entities: plain rows skip the identity map and object loading.
PRODUCT_COLUMNS = (
    Product.product_no, Product.product_code, Product.name, Product.summary, Product.description, Product.price,
    Product.retail_price, Product.selling, Product.brand_no, Product.created_at, Product.updated_at, Product.options,
)  # fmt: skip
VARIANT_COLUMNS = (
    Variant.variant_no, Variant.product_no, Variant.variant_code, Variant.option_values, Variant.additional_amount,
    Variant.quantity, Variant.selling,
)  # fmt: skip


def _category_list() -> Any:
    """The product's category numbers as "3,7", in the same query (saves a round trip per read)."""
    return (
        select(func.aggregate_strings(cast(ProductCategory.category_no, String), ","))
        .where(ProductCategory.product_no == Product.product_no)
        .correlate(Product)
        .scalar_subquery()
        .label("category_list")
    )


def _categories_of(row: Any) -> list[int]:
    return sorted(int(c) for c in row.category_list.split(",")) if row.category_list else []


def _in_stock(quantity: int, selling: bool) -> bool:
    return quantity > 0 and selling


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


CATEGORY_TREE = (Category.category_no, Category.parent_category_no)


def with_descendants(tree: Sequence[Any], category_nos: Sequence[int]) -> set[int]:
    """These categories and every category below them, from (category_no, parent_category_no) rows."""
    children: dict[int | None, list[int]] = defaultdict(list)
    known = set()
    for no, parent in tree:
        children[parent].append(no)
        known.add(no)
    found: set[int] = set()
    stack = [n for n in category_nos if n in known]
    while stack:
        no = stack.pop()
        if no not in found:
            found.add(no)
            stack.extend(children.get(no, ()))
    return found


async def _category_scope(session: AsyncSession, f: ProductFilter) -> set[int] | None:
    if not f.categories:
        return None
    return with_descendants((await session.execute(select(*CATEGORY_TREE))).all(), f.categories)


@dataclass(frozen=True)
class ListQuery:
    """A storefront list query as SQL of a known shape plus its values.

    Values travel as named parameters, so one shape (which filters, how many numbers in a list, which
    order) is one SQL text: built and compiled once, then only re-bound (``kernel.documents``).
    """

    shape: tuple[Any, ...]
    params: dict[str, Any]
    build: Any  # () -> Select

    def statement(self) -> Any:
        return self.build()


def _numbers(prefix: str, values: Sequence[int], params: dict[str, Any]) -> list[Any]:
    params.update({f"{prefix}{i}": v for i, v in enumerate(values)})
    return [bindparam(f"{prefix}{i}") for i in range(len(values))]


def list_query(
    f: ProductFilter, page: Page | None, mall_id: str, categories: set[int] | None, *columns: Any
) -> ListQuery:
    """SELECT ``columns`` of the storefront's product list (one page of it, given ``page``).

    ``categories`` is ``f.categories`` with their descendants. The statement states its mall itself,
    so that it is scoped even where it runs without a mall-bound session (the stored-document reads).
    """
    if page is not None and page.since_no is not None and f.sort != "product_no":
        raise InvalidInput(
            "since_no reads in ascending product_no order; drop sort or use sort=product_no", field="since_no"
        )
    params: dict[str, Any] = {"mall_id": mall_id}
    cats = sorted(categories) if categories else ([-1] if categories is not None else [])
    shape = (
        tuple(str(c) for c in columns), categories is not None, len(cats), len(f.product_nos), len(f.brand_nos),
        bool(f.keyword), f.price_min is not None, f.price_max is not None, f.sort,
        page is not None, page is not None and page.since_no is not None,
    )  # fmt: skip
    category_params = _numbers("c", cats, params)
    product_params = _numbers("p", f.product_nos, params)
    brand_params = _numbers("b", f.brand_nos, params)
    if f.keyword:
        params["keyword"] = _like(f.keyword)
    if f.price_min is not None:
        params["price_min"] = f.price_min
    if f.price_max is not None:
        params["price_max"] = f.price_max
    if page is not None:
        params.update(limit=page.limit, offset=page.offset)
        if page.since_no is not None:
            params["since_no"] = page.since_no

    def build() -> Any:
        mall = bindparam("mall_id")
        stmt = select(*columns).where(Product.mall_id == mall, Product.display.is_(True), Product.selling.is_(True))
        if categories is not None:
            linked = select(ProductCategory.product_no).where(
                ProductCategory.mall_id == mall, ProductCategory.category_no.in_(category_params)
            )
            stmt = stmt.where(Product.product_no.in_(linked))
        if product_params:
            stmt = stmt.where(Product.product_no.in_(product_params))
        if brand_params:
            stmt = stmt.where(Product.brand_no.in_(brand_params))
        if f.keyword:
            pattern = bindparam("keyword")
            stmt = stmt.where(
                or_(Product.name.ilike(pattern, escape="\\"), Product.product_code.ilike(pattern, escape="\\"))
            )
        if f.price_min is not None:
            stmt = stmt.where(Product.price >= bindparam("price_min"))
        if f.price_max is not None:
            stmt = stmt.where(Product.price <= bindparam("price_max"))
        if page is None:
            return stmt
        if page.since_no is not None:
            stmt = stmt.where(Product.product_no > bindparam("since_no"))
        key = SORTS[f.sort.lstrip("-")]
        descending = f.sort.startswith("-")
        order = [key.desc() if descending else key.asc()]
        if key is not Product.product_no:  # ties in price, name or date: a stable order across pages
            order.append(Product.product_no.desc() if descending else Product.product_no.asc())
        return stmt.order_by(*order).limit(bindparam("limit")).offset(bindparam("offset"))

    return ListQuery(shape, params, build)


async def list_shop_products(session: AsyncSession, mall: MallInfo, f: ProductFilter, page: Page) -> list[Product_]:
    q = list_query(f, page, mall.mall_id, await _category_scope(session, f), *PRODUCT_COLUMNS, _category_list())
    rows = (await session.execute(q.statement(), q.params)).all()
    return await _render_rows(session, rows, f.embed, mall.timezone)


async def _render_rows(session: AsyncSession, rows: Sequence[Any], embed: frozenset[str], tz: str) -> list[Product_]:
    nos = [p.product_no for p in rows]
    if "variants" in embed:
        variants = await _shop_variants(session, nos)
        in_stock = {no for no, vs in variants.items() if any(_in_stock(v.quantity, v.selling) for v in vs)}
    else:
        variants = {}
        in_stock = await _products_in_stock(session, nos)
    return [
        _shop_product(p, p.product_no not in in_stock, _categories_of(p), variants.get(p.product_no), embed, tz)
        for p in rows
    ]


async def shop_products_by_no(session: AsyncSession, mall: MallInfo, product_nos: Sequence[int]) -> list[Product_]:
    """Products as the storefront sees them, with options and variants, displayed or not (for read models)."""
    stmt = select(*PRODUCT_COLUMNS, _category_list()).where(Product.product_no.in_(product_nos))
    rows = (await session.execute(stmt)).all()
    return await _render_rows(session, rows, frozenset(EMBEDDABLE), mall.timezone)


async def count_shop_products(session: AsyncSession, f: ProductFilter) -> int:
    categories = await _category_scope(session, f)
    q = list_query(f, None, session.info["mall_id"], categories, func.count(Product.product_no))
    return int(await session.scalar(q.statement(), q.params) or 0)


def _detail_statements() -> tuple[Any, Any]:
    """Built once: a hot read should not rebuild its SQL expression on every request."""
    no = bindparam("product_no")
    product = select(*PRODUCT_COLUMNS, _category_list()).where(Product.product_no == no, Product.display.is_(True))
    variants = (
        select(*VARIANT_COLUMNS).where(Variant.product_no == no, Variant.display.is_(True)).order_by(Variant.variant_no)
    )
    return product, variants


_DETAIL_PRODUCT, _DETAIL_VARIANTS = _detail_statements()


async def get_shop_product(session: AsyncSession, mall: MallInfo, product_no: int) -> Product_:
    params = {"product_no": product_no}
    product = (await session.execute(_DETAIL_PRODUCT, params)).first()
    if product is None:
        raise NotFound(
            f"Product {product_no} does not exist in this mall or is not displayed",
            more_info={"product_no": product_no},
        )
    variants = (await session.execute(_DETAIL_VARIANTS, params)).all()
    sold_out = not any(_in_stock(v.quantity, v.selling) for v in variants)
    return _shop_product(product, sold_out, _categories_of(product), variants, frozenset(EMBEDDABLE), mall.timezone)


async def _products_in_stock(session: AsyncSession, product_nos: Sequence[int]) -> set[int]:
    """Which of these products have a displayed variant on sale with stock (one indexed lookup each)."""
    if not product_nos:
        return set()
    rows = await session.scalars(
        select(Variant.product_no)
        .where(
            Variant.product_no.in_(product_nos),
            Variant.quantity > 0,
            Variant.selling.is_(True),
            Variant.display.is_(True),
        )
        .distinct()
    )
    return set(rows)


async def _shop_variants(session: AsyncSession, product_nos: Sequence[int]) -> dict[int, list[Any]]:
    if not product_nos:
        return {}
    rows = await session.execute(
        select(*VARIANT_COLUMNS)
        .where(Variant.product_no.in_(product_nos), Variant.display.is_(True))
        .order_by(Variant.variant_no)
    )
    out: dict[int, list[Any]] = defaultdict(list)
    for v in rows:
        out[v.product_no].append(v)
    return out


def _shop_product(
    p: Any, sold_out: bool, categories: list[int], variants: list[Any] | None, embed: frozenset[str], tz: str
) -> dict[str, Any]:
    """One product as the Shop API shows it (``schemas.ShopProductOut``), as JSON-ready values.

    Plain dicts rather than models: this runs for every product of every list and of every stored
    document, and building thousands of nested models costs more than the queries.
    """
    out: dict[str, Any] = {
        "product_no": p.product_no,
        "product_code": p.product_code,
        "name": p.name,
        "summary": p.summary,
        "description": p.description,
        "price": format_money(p.price),
        "retail_price": format_money(p.retail_price),
        "selling": p.selling,
        "sold_out": bool(sold_out),
        "categories": categories,
        "brand_no": p.brand_no,
        "created_date": iso(p.created_at, tz),
        "updated_date": iso(p.updated_at, tz),
    }
    if "options" in embed:
        out["options"] = [{"name": o["name"], "values": o["values"]} for o in p.options]
    if "variants" in embed:
        out["variants"] = [
            {
                "variant_no": v.variant_no,
                "variant_code": v.variant_code,
                "options": [{"name": ov["name"], "value": ov["value"]} for ov in v.option_values],
                "additional_amount": format_money(v.additional_amount),
                "price": format_money(p.price + v.additional_amount),
                "stock_status": "in_stock" if _in_stock(v.quantity, v.selling) else "sold_out",
                "selling": v.selling,
            }
            for v in variants or ()
        ]
    return out


async def list_shop_categories(session: AsyncSession, page: Page) -> list[CategoryOut]:
    rows = (await session.scalars(select(Category).order_by(Category.display_order, Category.category_no))).all()
    by_no = {c.category_no: c for c in rows}
    out: list[CategoryOut] = []
    # depth first: every category right after its parent, siblings by display order
    paths = sorted((_path(c, by_no) for c in rows), key=lambda p: [(n.display_order, n.category_no) for n in p])
    for path in paths:
        c = path[-1]
        if not all(node.display for node in path):
            continue  # a hidden category hides everything below it
        out.append(
            CategoryOut(
                category_no=c.category_no,
                parent_category_no=c.parent_category_no,
                name=c.name,
                depth=len(path),
                display_order=c.display_order,
                full_category_no=[n.category_no for n in path],
                full_category_name=[n.name for n in path],
            )
        )
    if page.since_no is not None:
        out = sorted((c for c in out if c.category_no > page.since_no), key=lambda c: c.category_no)
    return out[page.offset : page.offset + page.limit]


def _path(c: Category, by_no: dict[int, Category]) -> list[Category]:
    path = [c]
    while path[0].parent_category_no is not None and len(path) <= MAX_CATEGORY_DEPTH:
        parent = by_no.get(path[0].parent_category_no)
        if parent is None:
            break
        path.insert(0, parent)
    return path


# ---- writes --------------------------------------------------------------------------------------


async def create_brand(session: AsyncSession, name: str) -> Brand:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("brand name must be 1 to 100 characters", field="name")
    if await session.scalar(select(Brand.brand_no).where(Brand.name == name)) is not None:
        raise Conflict(f"Brand '{name}' already exists in this mall", more_info={"name": name})
    brand = Brand(name=name)
    session.add(brand)
    await session.flush()
    return brand


async def create_category(session: AsyncSession, data: CategoryIn) -> Category:
    depth = 1
    if data.parent_category_no is not None:
        parent = await session.get(Category, data.parent_category_no)
        if parent is None or parent.mall_id != session.info.get("mall_id"):
            raise InvalidInput(
                f"parent category {data.parent_category_no} does not exist in this mall", field="parent_category_no"
            )
        by_no = {c.category_no: c for c in (await session.scalars(select(Category))).all()}
        depth = len(_path(parent, by_no)) + 1
    if depth > MAX_CATEGORY_DEPTH:
        raise InvalidInput(
            f"categories nest at most {MAX_CATEGORY_DEPTH} deep", field="parent_category_no", maximum=MAX_CATEGORY_DEPTH
        )
    category = Category(**data.model_dump())
    session.add(category)
    await session.flush()
    return category


def _amount_ok(value: Decimal, *, signed: bool = False) -> bool:
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and (signed or value >= 0)
        and abs(value) <= MAX_AMOUNT
        and value == value.quantize(CENT)
    )


def _check_money(data: ProductIn, index: int) -> None:
    """Prices are non-negative with at most two decimals; stock is never negative.

    The request schema says so too, but the rule is the catalog's: it holds for every caller
    (imports, tools, tests), whatever shape the data came in.
    """
    for name in ("price", "retail_price"):
        value = getattr(data, name)
        if value is not None and not _amount_ok(value):
            raise InvalidInput(f"{name} must be an amount from 0 to {MAX_AMOUNT} with at most two decimals",
                               field=name, index=index)  # fmt: skip
    for i, v in enumerate(data.variants or ()):
        if not _amount_ok(v.additional_amount, signed=True):
            raise InvalidInput("additional_amount must be an amount with at most two decimals",
                               field=f"variants.{i}.additional_amount", index=index)  # fmt: skip
        if not isinstance(v.quantity, int) or v.quantity < 0:
            raise InvalidInput("quantity must be a whole number of at least 0", field=f"variants.{i}.quantity",
                               index=index)  # fmt: skip
    if data.default_quantity < 0:
        raise InvalidInput("default_quantity must be at least 0", field="default_quantity", index=index)


@dataclass
class _Planned:
    row: dict[str, Any]
    categories: list[int]
    variants: list[dict[str, Any]]


def _plan_variants(data: ProductIn, code: str) -> list[dict[str, Any]]:
    """The variant rows of one product, checked against its options."""
    names = [o.name for o in data.options]
    if len(set(names)) != len(names):
        raise InvalidInput("option names must be unique within a product", field="options")
    for o in data.options:
        if len(set(o.values)) != len(o.values):
            raise InvalidInput(f"option '{o.name}' lists a value twice", field="options")
    combos = 1
    for o in data.options:
        combos *= len(o.values)
    if combos > MAX_COMBINATIONS:
        raise InvalidInput(f"options make {combos} combinations; at most {MAX_COMBINATIONS}", field="options")

    if data.variants is None:
        wanted = [
            VariantIn.model_construct(
                options=dict(zip(names, values, strict=True)),
                variant_code=None,
                additional_amount=Decimal("0"),
                quantity=data.default_quantity,
                display=True,
                selling=True,
            )
            for values in itertools.product(*(o.values for o in data.options))
        ]
    else:
        wanted = data.variants
        if not wanted:
            raise InvalidInput("a product needs at least one variant; omit variants to generate them", field="variants")
    allowed = {o.name: set(o.values) for o in data.options}
    seen: set[tuple[str, ...]] = set()
    rows = []
    for i, v in enumerate(wanted, start=1):
        chosen: dict[str, str] = v.options
        try:
            key = tuple(chosen[n] for n in names)
        except KeyError:
            key = ()
        if len(chosen) != len(names) or len(key) != len(names):
            missing = sorted(set(names) - set(chosen))
            extra = sorted(set(chosen) - set(names))
            what = "; ".join(
                filter(None, [missing and f"missing {', '.join(missing)}", extra and f"unknown {', '.join(extra)}"])
            )
            raise InvalidInput(
                f"variant {i} must name one value of every option ({what})", field=f"variants.{i - 1}.options"
            )
        for name, value in zip(names, key, strict=True):
            if value not in allowed[name]:
                raise InvalidInput(
                    f"variant {i}: '{value}' is not a value of option '{name}'", field=f"variants.{i - 1}.options"
                )
        if key in seen:
            raise InvalidInput(
                f"variant {i} repeats the combination {' / '.join(key)}", field=f"variants.{i - 1}.options"
            )
        seen.add(key)
        if v.additional_amount < 0 and data.price + v.additional_amount < 0:
            raise InvalidInput(
                f"variant {i}: price plus additional_amount is below zero", field=f"variants.{i - 1}.additional_amount"
            )
        rows.append(
            {
                "variant_code": v.variant_code or f"{code}-{i:03d}",
                "option_values": [{"name": n, "value": val} for n, val in zip(names, key, strict=True)],
                "additional_amount": v.additional_amount,
                "quantity": v.quantity,
                "display": v.display,
                "selling": v.selling,
            }
        )
    return rows


async def _existing(session: AsyncSession, column: Any, values: Iterable[Any]) -> set[Any]:
    values = list(values)
    found: set[Any] = set()
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found.update(await session.scalars(select(column).where(column.in_(chunk))))
    return found


async def create_products(session: AsyncSession, items: Sequence[ProductIn]) -> list[int]:
    """Create many products in a few statements; every rule is checked before anything is written."""
    mall_id = session.info.get("mall_id")
    if not mall_id or mall_id == "*":
        raise RuntimeError("create_products needs a session bound to one mall")
    planned: list[_Planned] = []
    codes: set[str] = set()
    now = utcnow()
    for n, data in enumerate(items):
        _check_money(data, n)
        code = data.product_code or f"P{secrets.token_hex(6).upper()}"
        if code in codes:
            raise Conflict(f"product_code {code} is given twice", more_info={"product_code": code, "index": n})
        codes.add(code)
        planned.append(
            _Planned(
                row={
                    "mall_id": mall_id,
                    "product_code": code,
                    "name": data.name,
                    "summary": data.summary,
                    "description": data.description,
                    "price": data.price,
                    "retail_price": data.retail_price if data.retail_price is not None else data.price,
                    "display": data.display,
                    "selling": data.selling,
                    "brand_no": data.brand_no,
                    "options": [o.model_dump() for o in data.options],
                    "created_at": now,
                    "updated_at": now,
                },
                categories=list(dict.fromkeys(data.categories)),
                variants=_plan_variants(data, code),
            )
        )
    taken = await _existing(session, Product.product_code, codes)
    if taken:
        raise Conflict(
            f"product_code {sorted(taken)[0]} is already used in this mall",
            more_info={"product_code": sorted(taken)[0]},
        )
    variant_codes = [v["variant_code"] for p in planned for v in p.variants]
    dupes = sorted(c for c, n in Counter(variant_codes).items() if n > 1)
    if dupes:
        raise Conflict(f"variant_code {dupes[0]} is given twice", more_info={"variant_code": dupes[0]})
    taken_v = sorted(await _existing(session, Variant.variant_code, variant_codes))
    if taken_v:
        raise Conflict(
            f"variant_code {taken_v[0]} is already used in this mall", more_info={"variant_code": taken_v[0]}
        )
    category_nos = {c for p in planned for c in p.categories}
    missing = category_nos - await _existing(session, Category.category_no, category_nos)
    if missing:
        raise InvalidInput(f"category {sorted(missing)[0]} does not exist in this mall", field="categories")
    brand_nos = {p.row["brand_no"] for p in planned if p.row["brand_no"] is not None}
    missing = brand_nos - await _existing(session, Brand.brand_no, brand_nos)
    if missing:
        raise InvalidInput(f"brand {sorted(missing)[0]} does not exist in this mall", field="brand_no")

    # the driver's bulk path, then one read of the new numbers by their codes
    await bulk_insert(session, Product.__table__, [p.row for p in planned])
    found = await session.execute(
        select(Product.product_code, Product.product_no).where(Product.product_code.in_(list(codes)))
    )
    by_code: dict[str, int] = {code: no for code, no in found}
    nos = [by_code[p.row["product_code"]] for p in planned]
    links = [
        {"mall_id": mall_id, "product_no": no, "category_no": c}
        for no, p in zip(nos, planned, strict=True)
        for c in p.categories
    ]
    if links:
        await bulk_insert(session, ProductCategory.__table__, links)
    variants = [
        {"mall_id": mall_id, "product_no": no, "created_at": now, "updated_at": now, **v}
        for no, p in zip(nos, planned, strict=True)
        for v in p.variants
    ]
    if variants:
        await bulk_insert(session, Variant.__table__, variants)
    await _store_documents(session, nos, planned, variants, now)
    return nos


async def _store_documents(
    session: AsyncSession, nos: list[int], planned: list[_Planned], variants: list[dict[str, Any]], now: Any
) -> None:
    """Render the new products' storefront documents from what was just written (no read-back)."""
    mall = await malls.get_mall(session, session.info["mall_id"])
    numbers = dict((await session.execute(
        select(Variant.variant_code, Variant.variant_no).where(Variant.product_no.in_(nos))
    )).all())  # fmt: skip
    shown: dict[int, list[SimpleNamespace]] = defaultdict(list)
    for v in variants:
        if v["display"]:
            shown[v["product_no"]].append(SimpleNamespace(**v, variant_no=numbers[v["variant_code"]]))
    rendered = []
    for no, p in zip(nos, planned, strict=True):
        row = SimpleNamespace(**p.row, product_no=no)
        mine = sorted(shown[no], key=lambda v: v.variant_no)
        sold_out = not any(_in_stock(v.quantity, v.selling) for v in mine)
        rendered.append(_shop_product(row, sold_out, sorted(p.categories), mine, frozenset(EMBEDDABLE), mall.timezone))
    await documents.store(session, rendered, dict.fromkeys(nos, now))


async def refresh_statistics(session: AsyncSession) -> None:
    """After a large import: let the database planner see the new rows."""
    await analyze(session, [Product.__table__, Variant.__table__, ProductCategory.__table__, Category.__table__])


async def create_product(session: AsyncSession, data: ProductIn) -> int:
    return (await create_products(session, [data]))[0]


# ---- what other domains ask of the catalog (orders, promotions): through here, never its tables -------------


@dataclass(frozen=True)
class VariantFacts:
    """A variant and its product as an order needs them: prices, stock, whether shown and on sale, categories."""

    variant_no: int
    product_no: int
    product_name: str
    variant_code: str
    option_values: list[dict[str, Any]]
    price: Decimal  # the product's sale price
    additional_amount: Decimal  # the variant's option price (may be negative)
    quantity: int
    displayed: bool  # the product and the variant are shown
    selling: bool  # the product and the variant are on sale
    category_nos: frozenset[int]


_VARIANT_FACTS = Statement(lambda many: (
    select(Variant.variant_no, Variant.product_no, Variant.variant_code, Variant.option_values,
           Variant.additional_amount, Variant.quantity, Variant.display, Variant.selling,
           Product.name, Product.price, Product.display.label("product_display"),
           Product.selling.label("product_selling"))
    .join(Product, Product.product_no == Variant.product_no)
    .where(many(Variant.variant_no, "nos"), in_mall(Variant),
           in_mall(Product))
))  # fmt: skip
_PRODUCT_CATEGORIES = Statement(lambda many: (
    select(ProductCategory.product_no, ProductCategory.category_no)
    .where(many(ProductCategory.product_no, "nos"), in_mall(ProductCategory))
))  # fmt: skip


async def variant_facts(
    session: AsyncSession, variant_nos: Iterable[int], *, categories: bool = True
) -> dict[int, VariantFacts]:
    """The variants of the session's mall among ``variant_nos`` (others are simply absent): one query, and one
    more for their products' categories unless ``categories`` is False (their ``category_nos`` are then empty)."""
    nos = sorted(set(variant_nos))
    if not nos:
        return {}
    rows = await _VARIANT_FACTS.all(session, nos=nos)
    linked: dict[int, set[int]] = defaultdict(set)
    product_nos = sorted({r.product_no for r in rows})
    if product_nos and categories:
        for product_no, category_no in await _PRODUCT_CATEGORIES.all(session, nos=product_nos):
            linked[product_no].add(category_no)
    return {
        r.variant_no: VariantFacts(
            r.variant_no,
            r.product_no,
            r.name,
            r.variant_code,
            list(r.option_values or []),
            r.price,
            r.additional_amount,
            r.quantity,
            bool(r.display and r.product_display),
            bool(r.selling and r.product_selling),
            frozenset(linked.get(r.product_no, ())),
        )  # fmt: skip
        for r in rows
    }


async def missing_products(session: AsyncSession, product_nos: Sequence[int]) -> list[int]:
    """Those of ``product_nos`` that are not products of the session's mall (in the order given)."""
    found = await _existing(session, Product.product_no, product_nos)
    return [n for n in product_nos if n not in found]


async def missing_categories(session: AsyncSession, category_nos: Sequence[int]) -> list[int]:
    """Those of ``category_nos`` that are not categories of the session's mall (in the order given)."""
    found = await _existing(session, Category.category_no, category_nos)
    return [n for n in category_nos if n not in found]
