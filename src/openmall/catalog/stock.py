"""Stock taken by orders and given back by cancellations and returns.

Each change is one conditional ``UPDATE`` (``quantity = quantity - :n WHERE quantity >= :n``): concurrent orders
of the last units cannot both take them, and stock never goes below zero (the column's CHECK backs this up).
``take_all`` takes every line of an order or none (it gives back what it took before raising).

Locks: a variant's UPDATE also locks its product's row (the catalog drops the product's storefront documents on
any variant change), so ``take_all`` first locks the products (``SELECT … FOR UPDATE``, ascending) and then updates
the variants by product and variant number: two orders always lock in the same order and never wait on each other.

The storefront's documents (``catalog.documents``) show a variant as in stock or sold out, nothing finer: a take
that leaves every variant with stock writes the documents back exactly as they were (read under the lock, so never
a stale copy), and only a variant that reaches 0 re-renders its product (``documents.refresh``). Stock given back
re-renders, and stock back from 0 emits ``product.restocked``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import documents, events
from openmall.catalog.models import Product, Variant
from openmall.kernel.errors import Conflict


class SoldOut(Conflict):
    """409: a variant has fewer units than asked (nothing was taken)."""


async def take(session: AsyncSession, variant_no: int, quantity: int) -> bool:
    """Take ``quantity`` units of the variant in one conditional UPDATE; False (nothing changed) when short."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    result = await session.execute(
        update(Variant).where(Variant.variant_no == variant_no, Variant.quantity >= quantity)
        .values(quantity=Variant.quantity - quantity).execution_options(synchronize_session=False)
    )  # fmt: skip
    return result.rowcount == 1


async def _put_back(session: AsyncSession, variant_no: int, quantity: int) -> int | None:
    """Add ``quantity`` back; the stock after it (None: no such variant any more)."""
    return await session.scalar(
        update(Variant).where(Variant.variant_no == variant_no)
        .values(quantity=Variant.quantity + quantity).returning(Variant.quantity)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


async def _owners(session: AsyncSession, variant_nos: list[int]) -> dict[int, int]:
    """variant_no → product_no."""
    if not variant_nos:
        return {}
    return dict((await session.execute(
        select(Variant.variant_no, Variant.product_no).where(Variant.variant_no.in_(variant_nos))
    )).all())  # fmt: skip


def _lock_order(owners: Mapping[int, int], variant_nos: list[int]) -> list[int]:
    return sorted(variant_nos, key=lambda v: (owners.get(v, 0), v))


async def take_all(session: AsyncSession, wanted: Mapping[int, int]) -> None:
    """Take ``wanted`` (variant_no → quantity) whole, or nothing: raises ``SoldOut`` naming the short variant."""
    owners = await _owners(session, list(wanted))
    product_nos = sorted(set(owners.values()))
    docs = (await session.execute(
        select(Product.product_no, Product.list_doc, Product.detail_doc, Product.updated_at)
        .where(Product.product_no.in_(product_nos)).order_by(Product.product_no).with_for_update()
    )).all() if product_nos else []  # fmt: skip
    taken: list[tuple[int, int]] = []
    emptied: set[int] = set()
    for variant_no in _lock_order(owners, list(wanted)):
        quantity = wanted[variant_no]
        left = await _take_returning(session, variant_no, quantity) if variant_no in owners else None
        if left is None:
            for done, qty in taken:
                await _put_back(session, done, qty)
            now = await session.scalar(select(Variant.quantity).where(Variant.variant_no == variant_no))
            raise SoldOut(
                f"Sold out: variant {variant_no} has {now or 0} left and {quantity} were asked; nothing was ordered",
                more_info={"variant_no": variant_no, "quantity": now or 0, "asked": quantity},
            )
        taken.append((variant_no, quantity))
        if left == 0:
            emptied.add(owners[variant_no])
    if emptied:
        await documents.refresh(session, sorted(emptied))
    keep = [{"product_no": r.product_no, "list_doc": r.list_doc, "detail_doc": r.detail_doc, "updated_at": r.updated_at}
            for r in docs if r.product_no not in emptied and r.detail_doc]  # fmt: skip
    if keep:  # nothing the storefront sees changed: the documents as they were (updated_at too)
        await session.execute(update(Product).execution_options(synchronize_session=False), keep)


async def _take_returning(session: AsyncSession, variant_no: int, quantity: int) -> int | None:
    """Take in one conditional UPDATE; the stock left, or None (nothing changed) when short."""
    return await session.scalar(
        update(Variant).where(Variant.variant_no == variant_no, Variant.quantity >= quantity)
        .values(quantity=Variant.quantity - quantity).returning(Variant.quantity)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


async def give_back(session: AsyncSession, returned: Mapping[int, int]) -> None:
    """Return stock (variant_no → quantity) from a cancellation or a return; a variant deleted since is skipped.
    A variant back from zero emits ``product.restocked`` for its product."""
    returned = {v: q for v, q in returned.items() if q > 0}
    owners = await _owners(session, list(returned))
    restocked: set[int] = set()
    for variant_no in _lock_order(owners, [v for v in returned if v in owners]):
        quantity = returned[variant_no]
        if await _put_back(session, variant_no, quantity) == quantity:
            restocked.add(owners[variant_no])
    await documents.refresh(session, sorted(set(owners.values())))
    for product_no in sorted(restocked):
        await events.product_event(session, events.PRODUCT_RESTOCKED, product_no)
