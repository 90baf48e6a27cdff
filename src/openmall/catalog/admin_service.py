"""The catalog's rules on the merchant's side (the Admin API): reads that show everything, and the writes.

No HTTP here and no commit: the request's unit of work commits once, so a refused change leaves
nothing behind. Every query runs through a session bound to one mall (``kernel.db``). Whatever
changes what the storefront sees of a product (the product, its variants or stock, its categories
or brand) ends with ``documents.refresh`` of those products, in the same transaction, so that the
Shop API's stored documents are current the moment the change commits.

Stock changes by an amount (``adjust_inventory``) are one conditional ``UPDATE``: two requests
taking the last item at once cannot both succeed, and stock never goes below zero.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import documents, events, service
from openmall.catalog.models import Brand, Category, Product, ProductCategory, Variant
from openmall.catalog.schemas import (
    MAX_QUANTITY,
    AdminCategoryOut,
    AdminProductOut,
    AdminVariantOut,
    BrandOut,
    CategoryIn,
    CategoryUpdate,
    InventoryOut,
    OptionOut,
    OptionsUpdate,
    OptionValueOut,
    ProductIn,
    ProductUpdate,
    VariantUpdate,
)
from openmall.kernel.db import utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.money import MAX_AMOUNT
from openmall.kernel.pagination import Page
from openmall.kernel.params import parse_choice, parse_flag, parse_int_list, parse_text
from openmall.malls.service import MallInfo

ADMIN_PRODUCT_COLUMNS = (*service.PRODUCT_COLUMNS, Product.display)
ADMIN_VARIANT_COLUMNS = (*service.VARIANT_COLUMNS, Variant.display, Variant.created_at, Variant.updated_at)


# ---- product reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilter:
    product_nos: Sequence[int] = ()
    categories: Sequence[int] = ()
    brand_nos: Sequence[int] = ()
    keyword: str | None = None
    display: bool | None = None
    selling: bool | None = None
    sort: str = "product_no"


def product_filter(
    *,
    product_no: str | None = None,
    category: str | None = None,
    brand_no: str | None = None,
    keyword: str | None = None,
    display: str | None = None,
    selling: str | None = None,
    sort: str | None = None,
) -> ProductFilter:
    """Check the merchant's list filter as it came in the query string."""
    return ProductFilter(
        product_nos=parse_int_list("product_no", product_no),
        categories=parse_int_list("category", category),
        brand_nos=parse_int_list("brand_no", brand_no),
        keyword=parse_text("keyword", keyword, max_length=100),
        display=parse_flag("display", display),
        selling=parse_flag("selling", selling),
        sort=parse_choice("sort", sort, service.SORT_CHOICES, "product_no"),
    )


async def _conditions(session: AsyncSession, f: ProductFilter) -> list[Any]:
    where: list[Any] = []
    if f.categories:
        tree = (await session.execute(select(*service.CATEGORY_TREE))).all()
        scope = sorted(service.with_descendants(tree, f.categories)) or [-1]
        linked = select(ProductCategory.product_no).where(ProductCategory.category_no.in_(scope))
        where.append(Product.product_no.in_(linked))
    if f.product_nos:
        where.append(Product.product_no.in_(f.product_nos))
    if f.brand_nos:
        where.append(Product.brand_no.in_(f.brand_nos))
    if f.keyword:
        pattern = service._like(f.keyword)
        where.append(or_(Product.name.ilike(pattern, escape="\\"), Product.product_code.ilike(pattern, escape="\\")))
    if f.display is not None:
        where.append(Product.display.is_(f.display))
    if f.selling is not None:
        where.append(Product.selling.is_(f.selling))
    return where


async def list_products(
    session: AsyncSession, mall: MallInfo, f: ProductFilter, page: Page, embed: frozenset[str]
) -> list[AdminProductOut]:
    """Every product of the mall that the filter picks, hidden and not on sale included."""
    if page.since_no is not None and f.sort != "product_no":
        raise InvalidInput(
            "since_no reads in ascending product_no order; drop sort or use sort=product_no", field="since_no"
        )
    stmt = select(*ADMIN_PRODUCT_COLUMNS, service._category_list()).where(*await _conditions(session, f))
    if page.since_no is not None:
        stmt = stmt.where(Product.product_no > page.since_no)
    key = service.SORTS[f.sort.lstrip("-")]
    descending = f.sort.startswith("-")
    order = [key.desc() if descending else key.asc()]
    if key is not Product.product_no:
        order.append(Product.product_no.desc() if descending else Product.product_no.asc())
    rows = (await session.execute(stmt.order_by(*order).limit(page.limit).offset(page.offset))).all()
    return await _render(session, rows, embed)


async def count_products(session: AsyncSession, f: ProductFilter) -> int:
    stmt = select(func.count(Product.product_no)).where(*await _conditions(session, f))
    return int(await session.scalar(stmt) or 0)


async def get_product(session: AsyncSession, product_no: int, embed: Iterable[str] = ()) -> AdminProductOut:
    stmt = select(*ADMIN_PRODUCT_COLUMNS, service._category_list()).where(Product.product_no == product_no)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise _no_product(product_no)
    return (await _render(session, [row], frozenset(embed)))[0]


def _no_product(product_no: int) -> NotFound:
    return NotFound(f"Product {product_no} does not exist in this mall", more_info={"product_no": product_no})


async def _render(session: AsyncSession, rows: Sequence[Any], embed: frozenset[str]) -> list[AdminProductOut]:
    nos = [r.product_no for r in rows]
    stats: dict[int, tuple[int, int, bool]] = {}
    if nos:
        sellable = and_(Variant.quantity > 0, Variant.selling.is_(True), Variant.display.is_(True))
        found = await session.execute(
            select(
                Variant.product_no,
                func.coalesce(func.sum(Variant.quantity), 0),
                func.count(Variant.variant_no),
                func.max(case((sellable, 1), else_=0)),
            )
            .where(Variant.product_no.in_(nos))
            .group_by(Variant.product_no)
        )
        stats = {no: (int(total), int(count), bool(in_stock)) for no, total, count, in_stock in found}
    variants = await _variant_rows(session, nos) if "variants" in embed else {}
    out = []
    for p in rows:
        total, count, in_stock = stats.get(p.product_no, (0, 0, False))
        product = AdminProductOut(
            product_no=p.product_no,
            product_code=p.product_code,
            name=p.name,
            summary=p.summary,
            description=p.description,
            price=p.price,
            retail_price=p.retail_price,
            display=p.display,
            selling=p.selling,
            sold_out=not in_stock,
            total_quantity=total,
            variant_count=count,
            categories=service._categories_of(p),
            brand_no=p.brand_no,
            created_date=p.created_at,
            updated_date=p.updated_at,
        )
        if "options" in embed:
            product.options = _options(p.options)
        if "variants" in embed:
            product.variants = [_variant_out(v, p.price) for v in variants.get(p.product_no, ())]
        out.append(product)
    return out


def _options(raw: Sequence[dict[str, Any]]) -> list[OptionOut]:
    return [OptionOut(name=o["name"], values=list(o["values"])) for o in raw]


async def _variant_rows(session: AsyncSession, product_nos: Sequence[int]) -> dict[int, list[Any]]:
    if not product_nos:
        return {}
    rows = await session.execute(
        select(*ADMIN_VARIANT_COLUMNS).where(Variant.product_no.in_(product_nos)).order_by(Variant.variant_no)
    )
    out: dict[int, list[Any]] = defaultdict(list)
    for v in rows:
        out[v.product_no].append(v)
    return out


def _variant_out(v: Any, price: Decimal) -> AdminVariantOut:
    return AdminVariantOut(
        variant_no=v.variant_no,
        variant_code=v.variant_code,
        options=[OptionValueOut(name=ov["name"], value=ov["value"]) for ov in v.option_values],
        additional_amount=v.additional_amount,
        price=price + v.additional_amount,
        quantity=v.quantity,
        display=v.display,
        selling=v.selling,
        created_date=v.created_at,
        updated_date=v.updated_at,
    )


async def _product(session: AsyncSession, product_no: int) -> Product:
    product = await session.scalar(select(Product).where(Product.product_no == product_no))
    if product is None:
        raise _no_product(product_no)
    return product


# ---- product writes ------------------------------------------------------------------------------------


async def create_product(session: AsyncSession, data: ProductIn) -> int:
    product_no = await service.create_product(session, data)
    await events.product_event(session, events.PRODUCT_CREATED, product_no)
    return product_no


async def update_product(session: AsyncSession, product_no: int, data: ProductUpdate) -> None:
    """Change the fields the request names; every rule is checked before anything is written.

    ``categories`` replaces the product's categories; ``brand_no: null`` takes it out of its brand.
    """
    product = await _product(session, product_no)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    for name in ("price", "retail_price"):
        if name in changes and not service._amount_ok(changes[name]):
            raise InvalidInput(f"{name} must be an amount from 0 to {MAX_AMOUNT} with at most two decimals",
                               field=name)  # fmt: skip
    if "price" in changes:
        lowest = await session.scalar(
            select(func.min(Variant.additional_amount)).where(Variant.product_no == product_no)
        )
        if lowest is not None and changes["price"] + lowest < 0:
            raise InvalidInput(
                f"price {changes['price']} is below what a variant takes off ({-lowest}): a variant's price would be "
                "negative; change that variant's additional_amount first",
                field="price",
                lowest_additional_amount=str(lowest),
            )
    code = changes.get("product_code")
    if code is not None and code != product.product_code:
        taken = await session.scalar(
            select(Product.product_no).where(Product.product_code == code, Product.product_no != product_no)
        )
        if taken is not None:
            raise Conflict(f"product_code {code} is already used in this mall by product {taken}",
                           more_info={"product_code": code, "product_no": taken})  # fmt: skip
    brand_no = changes.get("brand_no")
    if brand_no is not None and await session.scalar(select(Brand.brand_no).where(Brand.brand_no == brand_no)) is None:
        raise InvalidInput(f"brand {brand_no} does not exist in this mall", field="brand_no")
    categories = changes.pop("categories", None)
    if categories is not None:
        categories = list(dict.fromkeys(categories))
        missing = set(categories) - await service._existing(session, Category.category_no, categories)
        if missing:
            raise InvalidInput(f"category {sorted(missing)[0]} does not exist in this mall", field="categories")

    for name, value in changes.items():
        setattr(product, name, value)
    if categories is not None:
        current = set(
            await session.scalars(select(ProductCategory.category_no).where(ProductCategory.product_no == product_no))
        )
        gone = current - set(categories)
        if gone:
            await session.execute(
                delete(ProductCategory).where(
                    ProductCategory.product_no == product_no, ProductCategory.category_no.in_(gone)
                )
            )
        for category_no in categories:
            if category_no not in current:
                session.add(ProductCategory(product_no=product_no, category_no=category_no))
    if changes or categories is not None:
        product.updated_at = utcnow()
    await session.flush()
    await documents.refresh(session, [product_no])
    await events.product_event(session, events.PRODUCT_UPDATED, product_no)


async def delete_product(session: AsyncSession, product_no: int) -> None:
    """The product, its variants and its category links; its storefront documents go with its row."""
    product = await _product(session, product_no)
    last_state = await events.render(session, product_no)
    await session.execute(delete(ProductCategory).where(ProductCategory.product_no == product_no))
    await session.execute(delete(Variant).where(Variant.product_no == product_no))
    await session.delete(product)
    await session.flush()
    await events.product_event(session, events.PRODUCT_DELETED, product_no, last_state)


# ---- options -------------------------------------------------------------------------------------------


async def get_options(session: AsyncSession, product_no: int) -> list[OptionOut]:
    return _options((await _product(session, product_no)).options)


@dataclass
class _Axis:
    name: str
    values: list[str]
    source: str | None  # the current option it continues, or None for a new option
    image: dict[str, str]  # current value -> its value from now on (values that stay)
    fresh: set[str]  # values that no variant has yet


def _plan_axes(current: dict[str, list[str]], data: OptionsUpdate) -> list[_Axis]:
    names = [o.name for o in data.options]
    if len(set(names)) != len(names):
        raise InvalidInput("option names must be unique within a product", field="options")
    axes: list[_Axis] = []
    used: set[str] = set()
    for i, o in enumerate(data.options):
        where = f"options.{i}"
        if len(set(o.values)) != len(o.values):
            raise InvalidInput(f"option '{o.name}' lists a value twice", field=f"{where}.values")
        if o.original_name is not None and o.original_name not in current:
            raise InvalidInput(f"the product has no option '{o.original_name}' to rename",
                               field=f"{where}.original_name", options=list(current))  # fmt: skip
        source = o.original_name if o.original_name is not None else (o.name if o.name in current else None)
        if source is not None and source in used:
            raise InvalidInput(f"option '{source}' is continued twice", field=f"{where}.original_name")
        if source is None:
            if o.renamed_values:
                raise InvalidInput(f"option '{o.name}' is new: it has no values to rename",
                                   field=f"{where}.renamed_values")  # fmt: skip
            # the variants there are take the first value; every other value is new
            axes.append(_Axis(o.name, list(o.values), None, {}, set(o.values[1:])))
            continue
        used.add(source)
        unknown = sorted(set(o.renamed_values) - set(current[source]))
        if unknown:
            raise InvalidInput(f"option '{source}' has no value '{unknown[0]}' to rename",
                               field=f"{where}.renamed_values", values=current[source])  # fmt: skip
        for old, new in o.renamed_values.items():
            if new not in o.values:
                raise InvalidInput(f"'{old}' is renamed to '{new}', which is not one of the option's values",
                                   field=f"{where}.renamed_values")  # fmt: skip
        image = {v: o.renamed_values.get(v, v) for v in current[source]}
        image = {v: new for v, new in image.items() if new in o.values}
        if len(set(image.values())) != len(image):
            clash = next(n for n in image.values() if list(image.values()).count(n) > 1)
            raise InvalidInput(f"two values of option '{source}' would both become '{clash}'",
                               field=f"{where}.renamed_values")  # fmt: skip
        axes.append(_Axis(o.name, list(o.values), source, image, set(o.values) - set(image.values())))
    for name, values in current.items():
        if name not in used and len(values) > 1:
            raise InvalidInput(
                f"removing option '{name}' would merge variants that differ only in it; "
                "remove its values first until one is left",
                field="options",
                option=name,
            )
    combos = 1
    for axis in axes:
        combos *= len(axis.values)
    if combos > service.MAX_COMBINATIONS:
        raise InvalidInput(f"options make {combos} combinations; at most {service.MAX_COMBINATIONS}",
                           field="options")  # fmt: skip
    return axes


async def update_options(session: AsyncSession, product_no: int, data: OptionsUpdate) -> None:
    """Replace the product's options, keeping every variant that can be kept, with its code and stock.

    The request lists the options as they should be, in order. An option continues the current one
    of the same name, or of ``original_name`` (a rename); ``renamed_values`` renames its values. Then:

    - a renamed option or value: the variants keep their numbers, codes, prices and stock;
    - an added value: a variant (stock ``default_quantity``) for every combination with it;
    - a removed value: the variants with it are deleted, but only when none of them has stock
      (409 otherwise: stock is never thrown away silently);
    - a new option: the variants there are take its first value, and its other values are added;
    - a removed option: only once it has a single value (two variants would become one otherwise).

    Combinations of values that stay and that had no variant (left out at creation) stay left out.
    """
    product = await _product(session, product_no)
    current = {o["name"]: list(o["values"]) for o in product.options}
    axes = _plan_axes(current, data)
    variants = (await session.scalars(
        select(Variant).where(Variant.product_no == product_no).order_by(Variant.variant_no)
    )).all()  # fmt: skip

    kept: list[tuple[Variant, list[dict[str, str]]]] = []
    doomed: list[Variant] = []
    for v in variants:
        values = {ov["name"]: ov["value"] for ov in v.option_values}
        chosen = []
        for axis in axes:
            value = axis.values[0] if axis.source is None else axis.image.get(values.get(axis.source, ""))
            if value is None:
                break
            chosen.append({"name": axis.name, "value": value})
        if len(chosen) == len(axes):
            kept.append((v, chosen))
        else:
            doomed.append(v)
    stocked = [v for v in doomed if v.quantity > 0]
    if stocked:
        v = stocked[0]
        raise Conflict(
            f"variant {v.variant_code} has {v.quantity} in stock and would be removed with its option value; "
            "set its stock to 0 first (nothing was changed)",
            more_info={"variant_no": v.variant_no, "variant_code": v.variant_code, "quantity": v.quantity},
        )
    added = [
        combo
        for combo in itertools.product(*(axis.values for axis in axes))
        if any(value in axis.fresh for value, axis in zip(combo, axes, strict=True))
    ]
    if not kept and not added:
        raise InvalidInput("a product needs at least one variant; these options would leave it none", field="options")

    codes = await _new_variant_codes(session, product.product_code, len(added), start=len(variants) + 1)
    for v, chosen in kept:
        if v.option_values != chosen:
            v.option_values = chosen
    for v in doomed:
        await session.delete(v)
    for combo, code in zip(added, codes, strict=True):
        session.add(
            Variant(
                product_no=product_no,
                variant_code=code,
                option_values=[{"name": a.name, "value": val} for a, val in zip(axes, combo, strict=True)],
                additional_amount=Decimal("0"),
                quantity=data.default_quantity,
                display=True,
                selling=True,
            )
        )
    product.options = [{"name": a.name, "values": a.values} for a in axes]
    product.updated_at = utcnow()
    await session.flush()
    await documents.refresh(session, [product_no])
    await events.product_event(session, events.PRODUCT_UPDATED, product_no)


async def _new_variant_codes(session: AsyncSession, product_code: str, count: int, *, start: int) -> list[str]:
    """``{product_code}-{n:03d}`` as creation names them, skipping codes taken in the mall."""
    codes: list[str] = []
    n = start
    while len(codes) < count:
        batch = []
        for i in range(n, n + count - len(codes) + 20):
            suffix = f"-{i:03d}"
            batch.append(product_code[: 40 - len(suffix)] + suffix)
        n += len(batch)
        taken = await service._existing(session, Variant.variant_code, batch)
        codes.extend(c for c in batch if c not in taken)
    return codes[:count]


# ---- variants and stock --------------------------------------------------------------------------------


async def list_variants(session: AsyncSession, product_no: int) -> list[AdminVariantOut]:
    price = await session.scalar(select(Product.price).where(Product.product_no == product_no))
    if price is None:
        raise _no_product(product_no)
    return [_variant_out(v, price) for v in (await _variant_rows(session, [product_no])).get(product_no, ())]


async def get_variant(session: AsyncSession, product_no: int, variant_no: int) -> AdminVariantOut:
    row = (await session.execute(
        select(*ADMIN_VARIANT_COLUMNS, Product.price.label("product_price"))
        .join(Product, Product.product_no == Variant.product_no)
        .where(Variant.product_no == product_no, Variant.variant_no == variant_no)
    )).first()  # fmt: skip
    if row is None:
        raise await _no_variant(session, product_no, variant_no)
    return _variant_out(row, row.product_price)


async def _no_variant(session: AsyncSession, product_no: int, variant_no: int) -> NotFound:
    if await session.scalar(select(Product.product_no).where(Product.product_no == product_no)) is None:
        return _no_product(product_no)
    return NotFound(f"Product {product_no} has no variant {variant_no}",
                    more_info={"product_no": product_no, "variant_no": variant_no})  # fmt: skip


async def update_variant(session: AsyncSession, product_no: int, variant_no: int, data: VariantUpdate) -> None:
    variant = await session.scalar(
        select(Variant).where(Variant.product_no == product_no, Variant.variant_no == variant_no)
    )
    if variant is None:
        raise await _no_variant(session, product_no, variant_no)
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    if "additional_amount" in changes:
        amount = changes["additional_amount"]
        if not service._amount_ok(amount, signed=True):
            raise InvalidInput("additional_amount must be an amount with at most two decimals",
                               field="additional_amount")  # fmt: skip
        price = await session.scalar(select(Product.price).where(Product.product_no == product_no))
        if price + amount < 0:
            raise InvalidInput(f"additional_amount {amount} would make the variant's price ({price + amount}) negative",
                               field="additional_amount", product_price=str(price))  # fmt: skip
    if "quantity" in changes and not 0 <= changes["quantity"] <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be a whole number from 0 to {MAX_QUANTITY}", field="quantity")
    code = changes.get("variant_code")
    if code is not None and code != variant.variant_code:
        taken = await session.scalar(
            select(Variant.variant_no).where(Variant.variant_code == code, Variant.variant_no != variant_no)
        )
        if taken is not None:
            raise Conflict(f"variant_code {code} is already used in this mall", more_info={"variant_code": code})
    before = variant.quantity
    for name, value in changes.items():
        setattr(variant, name, value)
    await session.flush()
    await documents.refresh(session, [product_no])
    data = await events.render(session, product_no)
    await events.product_event(session, events.PRODUCT_UPDATED, product_no, data)
    if variant.quantity != before:
        await events.emit_inventory(session, [events.inventory_changed(
            product_no, variant_no, variant.quantity, variant.quantity - before, events.ADJUST)])  # fmt: skip
    if before == 0 and variant.quantity > 0:
        await events.product_event(session, events.PRODUCT_RESTOCKED, product_no, data)


async def get_inventory(session: AsyncSession, product_no: int, variant_no: int) -> InventoryOut:
    row = (await session.execute(
        select(Variant.variant_code, Variant.quantity)
        .where(Variant.product_no == product_no, Variant.variant_no == variant_no)
    )).first()  # fmt: skip
    if row is None:
        raise await _no_variant(session, product_no, variant_no)
    return InventoryOut(product_no=product_no, variant_no=variant_no, variant_code=row.variant_code,
                        quantity=row.quantity)  # fmt: skip


async def set_inventory(session: AsyncSession, product_no: int, variant_no: int, quantity: int) -> InventoryOut:
    if not isinstance(quantity, int) or not 0 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be a whole number from 0 to {MAX_QUANTITY}", field="quantity")
    before = await _stock(session, product_no, variant_no)
    stmt = update(Variant).where(Variant.product_no == product_no, Variant.variant_no == variant_no)
    result = await session.execute(stmt.values(quantity=quantity).execution_options(synchronize_session=False))
    if result.rowcount == 0:
        raise await _no_variant(session, product_no, variant_no)
    return await _stock_changed(session, product_no, variant_no, before)


async def adjust_inventory(session: AsyncSession, product_no: int, variant_no: int, adjust: int | None) -> InventoryOut:
    """Add ``adjust`` (negative: take away) in one conditional UPDATE: stock never goes below zero."""
    if not isinstance(adjust, int) or abs(adjust) > MAX_QUANTITY:
        raise InvalidInput(f"adjust must be a whole number from -{MAX_QUANTITY} to {MAX_QUANTITY}", field="adjust")
    before = await _stock(session, product_no, variant_no)
    after = Variant.quantity + adjust
    stmt = update(Variant).where(
        Variant.product_no == product_no, Variant.variant_no == variant_no, after >= 0, after <= MAX_QUANTITY
    )
    result = await session.execute(stmt.values(quantity=after).execution_options(synchronize_session=False))
    if result.rowcount == 0:
        now = await session.scalar(
            select(Variant.quantity).where(Variant.product_no == product_no, Variant.variant_no == variant_no)
        )
        if now is None:
            raise await _no_variant(session, product_no, variant_no)
        if adjust < 0:
            raise Conflict(
                f"variant {variant_no} has {now} in stock; taking {-adjust} would leave it below zero "
                "(nothing was changed)",
                more_info={"quantity": now, "adjust": adjust},
            )
        raise Conflict(f"variant {variant_no} has {now} in stock; adding {adjust} would pass the most it can hold, "
                       f"{MAX_QUANTITY} (nothing was changed)",
                       more_info={"quantity": now, "adjust": adjust, "maximum": MAX_QUANTITY})  # fmt: skip
    return await _stock_changed(session, product_no, variant_no, before)


async def _stock(session: AsyncSession, product_no: int, variant_no: int) -> int | None:
    return await session.scalar(
        select(Variant.quantity).where(Variant.product_no == product_no, Variant.variant_no == variant_no)
    )


async def _stock_changed(session: AsyncSession, product_no: int, variant_no: int, before: int | None) -> InventoryOut:
    await documents.refresh(session, [product_no])
    inventory = await get_inventory(session, product_no, variant_no)
    if inventory.quantity != before:
        data = await events.render(session, product_no)
        await events.product_event(session, events.PRODUCT_UPDATED, product_no, data)
        change = inventory.quantity - (before or 0)
        await events.emit_inventory(session, [events.inventory_changed(
            product_no, variant_no, inventory.quantity, change, events.ADJUST)])  # fmt: skip
        if before == 0 and inventory.quantity > 0:
            await events.product_event(session, events.PRODUCT_RESTOCKED, product_no, data)
    return inventory


# ---- categories ----------------------------------------------------------------------------------------


async def list_categories(
    session: AsyncSession, page: Page, category_nos: Sequence[int] = (), parent_category_no: int | None = None
) -> list[AdminCategoryOut]:
    """Every category, hidden ones too, depth first: each right after its parent, siblings by display order."""
    rows = (await session.scalars(select(Category).order_by(Category.display_order, Category.category_no))).all()
    by_no = {c.category_no: c for c in rows}
    paths = sorted((service._path(c, by_no) for c in rows),
                   key=lambda p: [(n.display_order, n.category_no) for n in p])  # fmt: skip
    out = [_category_out(path) for path in paths]
    if category_nos:
        wanted = set(category_nos)
        out = [c for c in out if c.category_no in wanted]
    if parent_category_no is not None:
        out = [c for c in out if c.parent_category_no == parent_category_no]
    if page.since_no is not None:
        out = sorted((c for c in out if c.category_no > page.since_no), key=lambda c: c.category_no)
    return out[page.offset : page.offset + page.limit]


def _category_out(path: list[Category]) -> AdminCategoryOut:
    c = path[-1]
    return AdminCategoryOut(
        category_no=c.category_no,
        parent_category_no=c.parent_category_no,
        name=c.name,
        depth=len(path),
        display_order=c.display_order,
        full_category_no=[n.category_no for n in path],
        full_category_name=[n.name for n in path],
        display=c.display,
        created_date=c.created_at,
    )


async def _categories(session: AsyncSession) -> dict[int, Category]:
    return {c.category_no: c for c in (await session.scalars(select(Category))).all()}


async def get_category(session: AsyncSession, category_no: int) -> AdminCategoryOut:
    by_no = await _categories(session)
    if category_no not in by_no:
        raise _no_category(category_no)
    return _category_out(service._path(by_no[category_no], by_no))


def _no_category(category_no: int) -> NotFound:
    return NotFound(f"Category {category_no} does not exist in this mall", more_info={"category_no": category_no})


async def create_category(session: AsyncSession, data: CategoryIn) -> int:
    return (await service.create_category(session, data)).category_no


async def _products_in(session: AsyncSession, category_nos: Iterable[int]) -> list[int]:
    found = await session.scalars(
        select(ProductCategory.product_no).where(ProductCategory.category_no.in_(list(category_nos))).distinct()
    )
    return sorted(found)


async def update_category(session: AsyncSession, category_no: int, data: CategoryUpdate) -> None:
    """Rename, reorder, show/hide or move a category (with everything below it).

    A category cannot move under itself or under one of its own sub-categories, and the tree stays
    at most ``MAX_CATEGORY_DEPTH`` deep.
    """
    by_no = await _categories(session)
    category = by_no.get(category_no)
    if category is None:
        raise _no_category(category_no)
    tree = [(c.category_no, c.parent_category_no) for c in by_no.values()]
    subtree = service.with_descendants(tree, [category_no])
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    parent_no = changes.get("parent_category_no")
    if parent_no is not None and parent_no != category.parent_category_no:
        if parent_no not in by_no:
            raise InvalidInput(f"parent category {parent_no} does not exist in this mall", field="parent_category_no")
        if parent_no in subtree:
            why = "itself" if parent_no == category_no else f"category {parent_no}, which is inside it"
            raise InvalidInput(
                f"category {category_no} cannot move under {why}: a category cannot be its own ancestor",
                field="parent_category_no",
                category_no=category_no,
                parent_category_no=parent_no,
            )
        top = len(service._path(category, by_no))
        height = max(len(service._path(by_no[n], by_no)) for n in subtree) - top + 1
        depth = len(service._path(by_no[parent_no], by_no)) + height
        if depth > service.MAX_CATEGORY_DEPTH:
            raise InvalidInput(
                f"categories nest at most {service.MAX_CATEGORY_DEPTH} deep; under {parent_no} this branch "
                f"would reach {depth}",
                field="parent_category_no",
                maximum=service.MAX_CATEGORY_DEPTH,
            )
    for name, value in changes.items():
        setattr(category, name, value)
    await session.flush()
    await documents.refresh(session, await _products_in(session, subtree))


async def delete_category(session: AsyncSession, category_no: int) -> None:
    """Delete a category without sub-categories; its products stay, out of it."""
    category = await session.scalar(select(Category).where(Category.category_no == category_no))
    if category is None:
        raise _no_category(category_no)
    children = list(await session.scalars(
        select(Category.category_no).where(Category.parent_category_no == category_no).order_by(Category.category_no)
    ))  # fmt: skip
    if children:
        raise Conflict(
            f"category {category_no} has sub-categories ({', '.join(map(str, children))}); move or delete them first",
            more_info={"category_no": category_no, "sub_categories": children},
        )
    affected = await _products_in(session, [category_no])
    await session.execute(delete(ProductCategory).where(ProductCategory.category_no == category_no))
    await session.delete(category)
    await session.flush()
    await documents.refresh(session, affected)


# ---- brands --------------------------------------------------------------------------------------------


def _brand_out(b: Brand) -> BrandOut:
    return BrandOut(brand_no=b.brand_no, name=b.name, created_date=b.created_at)


async def list_brands(session: AsyncSession, page: Page) -> list[BrandOut]:
    stmt = select(Brand).order_by(Brand.brand_no)
    if page.since_no is not None:
        stmt = stmt.where(Brand.brand_no > page.since_no)
    rows = await session.scalars(stmt.limit(page.limit).offset(page.offset))
    return [_brand_out(b) for b in rows]


async def _brand(session: AsyncSession, brand_no: int) -> Brand:
    brand = await session.scalar(select(Brand).where(Brand.brand_no == brand_no))
    if brand is None:
        raise NotFound(f"Brand {brand_no} does not exist in this mall", more_info={"brand_no": brand_no})
    return brand


async def get_brand(session: AsyncSession, brand_no: int) -> BrandOut:
    return _brand_out(await _brand(session, brand_no))


async def create_brand(session: AsyncSession, name: str) -> BrandOut:
    return _brand_out(await service.create_brand(session, name))


async def update_brand(session: AsyncSession, brand_no: int, name: str) -> BrandOut:
    brand = await _brand(session, brand_no)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("brand name must be 1 to 100 characters", field="name")
    taken = await session.scalar(select(Brand.brand_no).where(Brand.name == name, Brand.brand_no != brand_no))
    if taken is not None:
        raise Conflict(f"Brand '{name}' already exists in this mall", more_info={"name": name, "brand_no": taken})
    brand.name = name
    await session.flush()
    return _brand_out(brand)


async def delete_brand(session: AsyncSession, brand_no: int) -> None:
    """Delete a brand; its products stay, without a brand."""
    brand = await _brand(session, brand_no)
    affected = sorted(await session.scalars(select(Product.product_no).where(Product.brand_no == brand_no)))
    if affected:
        await session.execute(update(Product).where(Product.brand_no == brand_no).values(brand_no=None))
    await session.delete(brand)
    await session.flush()
    await documents.refresh(session, affected)
