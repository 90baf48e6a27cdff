"""The storefront's read model: every product's Shop API JSON, rendered when the product changes.

A product's list entry and its detail are stored as JSON text on its row (``list_doc``,
``detail_doc``), rendered in the mall's time zone by the same code that renders a live read. The
common reads (a list page, a product page, with no ``fields`` or ``embed``) then cost one query and no
rendering. The rule that keeps it true: whatever changes what the storefront sees of a product (the
product, its variants or stock, its categories) calls ``refresh`` in the same transaction. A product
without documents is read the live way, so a missing refresh can only cost speed, never correctness
of a product that was never rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, event, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from openmall.catalog import service  # service imports this module too: use it only inside functions
from openmall.catalog.models import Category, Product, ProductCategory, Variant
from openmall.catalog.schemas import EMBEDDABLE, ShopProductOut
from openmall.kernel.documents import DirectReads, DocumentLookup
from openmall.kernel.pagination import Page
from openmall.kernel.representation import to_json
from openmall.malls import service as malls
from openmall.malls.service import MallInfo

CHUNK = 1000
LIST_FIELDS = frozenset(n for n in ShopProductOut.model_fields if n not in EMBEDDABLE)
_DETAIL = DocumentLookup(Product.detail_doc, Product.product_no, Product.display.is_(True))


async def refresh(session: AsyncSession, product_nos: Sequence[int]) -> None:
    """Render and store the documents of these products (in the caller's transaction)."""
    mall = await malls.get_mall(session, session.info["mall_id"])
    for start in range(0, len(product_nos), CHUNK):
        chunk = product_nos[start : start + CHUNK]
        products = await service.shop_products_by_no(session, mall, chunk)
        stamps = dict((await session.execute(
            select(Product.product_no, Product.updated_at).where(Product.product_no.in_(chunk))
        )).all())  # fmt: skip
        await store(session, products, stamps)


async def store(session: AsyncSession, products: Sequence[dict[str, Any]], updated_at: dict[int, Any]) -> None:
    """Store rendered products (``service._shop_product`` with options and variants) as their documents.

    ``updated_at`` is each product's own, written back as it was: rendering is not a change of the
    product (the column would bump on UPDATE otherwise).
    """
    rows = []
    for p in products:
        listed = to_json({k: v for k, v in p.items() if k in LIST_FIELDS})
        rows.append({
            "product_no": p["product_no"],
            "list_doc": listed,
            "detail_doc": f'{listed[:-1]},"options":{to_json(p["options"])},"variants":{to_json(p["variants"])}}}',
            "updated_at": updated_at[p["product_no"]],
        })  # fmt: skip
    for start in range(0, len(rows), CHUNK):
        await session.execute(update(Product).execution_options(synchronize_session=False), rows[start : start + CHUNK])


async def product_detail(reads: DirectReads, mall: MallInfo, product_no: int) -> str | None:
    """The stored detail of a displayed product, or None (not rendered, hidden, or not in this mall)."""
    return await _DETAIL.fetch(reads, mall.mall_id, product_no)


def _category_tree() -> Any:
    return select(*service.CATEGORY_TREE).where(Category.mall_id == bindparam("mall_id"))


async def product_page(reads: DirectReads, mall: MallInfo, f: service.ProductFilter, page: Page) -> list[str] | None:
    """The stored list entries of one page, or None when any of them is not rendered."""
    categories = None
    if f.categories:
        tree = await reads.rows(_category_tree, {"mall_id": mall.mall_id}, ("category_tree",))
        categories = service.with_descendants(tree, f.categories)
    q = service.list_query(f, page, mall.mall_id, categories, Product.list_doc)
    docs = [row[0] for row in await reads.rows(q.build, q.params, ("product_page", *q.shape))]
    return None if any(d is None for d in docs) else docs


# ---- the safety net: any other change to what the storefront sees drops the documents ---------------
# (reads then fall back to the live path until the next ``refresh``). Listeners, so that no write path
# can forget: ORM flushes of products, variants and category links, and ORM UPDATE/DELETE statements.

_DROP = {"list_doc": None, "detail_doc": None}
# An execution option for a statement whose caller keeps the documents true itself: stock takes
# (``catalog.stock.take_all``), where only a variant reaching 0 changes what the storefront sees, and that
# product is re-rendered (``refresh``) in the same transaction.
KEEPS_DOCUMENTS = "openmall_keeps_documents"


def _sets_documents(state: ORMExecuteState) -> bool:
    params = state.parameters
    if isinstance(params, list):
        return bool(params) and "detail_doc" in params[0]
    values = getattr(state.statement, "_values", None) or {}
    return any(getattr(k, "key", k) == "detail_doc" for k in values) or bool(params and "detail_doc" in params)


@event.listens_for(Session, "do_orm_execute")
def _drop_on_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    if state.execution_options.get(KEEPS_DOCUMENTS):
        return
    entity = state.bind_mapper.class_
    if entity is Product and state.is_update and not _sets_documents(state):
        if isinstance(state.parameters, list):
            raise RuntimeError("update products one statement at a time, or through catalog.service")
        state.statement = state.statement.values(**_DROP)
    elif entity in (Variant, ProductCategory):
        where = getattr(state.statement, "_where_criteria", ())
        owners = select(entity.product_no).where(*where)
        state.session.execute(update(Product).where(Product.product_no.in_(owners)).values(**_DROP))


@event.listens_for(Session, "before_flush")
def _drop_on_flush(session: Session, _ctx: object, _instances: object) -> None:
    owners: set[int] = set()
    for obj in (*session.dirty, *session.new, *session.deleted):
        if isinstance(obj, Product) and obj not in session.new and "detail_doc" not in _changed(obj):
            obj.list_doc = obj.detail_doc = None
        elif isinstance(obj, (Variant, ProductCategory)) and obj.product_no is not None:
            owners.add(obj.product_no)
    if owners:
        session.execute(update(Product).where(Product.product_no.in_(owners)).values(**_DROP))


def _changed(obj: object) -> set[str]:
    state = inspect(obj)
    return {a.key for a in state.attrs if a.history.has_changes()}
