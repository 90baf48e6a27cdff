"""Stock taken by orders and given back by cancellations and returns.

Each change is one conditional ``UPDATE`` (``quantity = quantity - :n WHERE quantity >= :n``): concurrent orders
of the last units cannot both take them, and stock never goes below zero (the column's CHECK backs this up).
``take_all`` takes every line of an order or none (it gives back what it took before raising).

The storefront's documents (``catalog.documents``) show a variant as in stock or sold out, nothing finer: a take
that leaves a variant with stock changes nothing the storefront sees, so its UPDATE (a prebuilt ``kernel.fastsql``
statement, which the catalog's ORM safety net does not watch) leaves the documents alone, and only a variant that
reaches 0 re-renders its product (``documents.refresh``). Stock given back re-renders, and stock back from 0 emits
``product.restocked``.

Locks: ``take_all`` first locks the products (``SELECT … FOR UPDATE``, ascending, in the same query that finds the
variants' products) and then updates the variants by product and variant number, as every change of a product's
variants through the catalog does (product row first): two writers always lock in the same order, and the
re-rendering of a product emptied here cannot race another writer of its documents.

Every change of a variant's stock is told to the apps by ``product.inventory_changed`` (``catalog.events``), in the
transaction that made it: ``give_back`` emits its own; ``take_all`` answers what it took, and order placement writes
those events in the one statement that writes the order's (``order_events``), adding no round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import documents, events
from openmall.catalog.models import Product, Variant
from openmall.kernel.errors import Conflict
from openmall.kernel.fastsql import Statement, in_mall


class SoldOut(Conflict):
    """409: a variant has fewer units than asked (nothing was taken)."""


@dataclass(frozen=True)
class Taken:
    """Units of a variant taken by an order, and the stock left."""

    product_no: int
    variant_no: int
    quantity: int  # taken
    left: int


def order_events(taken: list[Taken], order_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``product.inventory_changed`` events of what an order took, for ``kernel.events.emit_many``."""
    return [events.inventory_changed(t.product_no, t.variant_no, t.left, -t.quantity, events.ORDER, order_id)
            for t in taken]  # fmt: skip


async def take(session: AsyncSession, variant_no: int, quantity: int) -> bool:
    """Take ``quantity`` units of the variant in one conditional UPDATE; False (nothing changed) when short."""
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    result = await session.execute(
        update(Variant).where(Variant.variant_no == variant_no, Variant.quantity >= quantity)
        .values(quantity=Variant.quantity - quantity).execution_options(synchronize_session=False)
    )  # fmt: skip
    return result.rowcount == 1


async def _put_back(session: AsyncSession, variant_no: int, quantity: int, *,
                    keep_documents: bool = False) -> int | None:  # fmt: skip
    """Add ``quantity`` back; the stock after it (None: no such variant any more). ``keep_documents``: the caller
    knows the storefront's documents stay true (units it took itself, before any re-rendering)."""
    return await session.scalar(
        update(Variant).where(Variant.variant_no == variant_no)
        .values(quantity=Variant.quantity + quantity).returning(Variant.quantity)
        .execution_options(synchronize_session=False, **{documents.KEEPS_DOCUMENTS: keep_documents})
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


async def take_all(session: AsyncSession, wanted: Mapping[int, int]) -> list[Taken]:
    """Take ``wanted`` (variant_no → quantity) whole, or nothing: raises ``SoldOut`` naming the short variant.
    Answers what was taken, for the order's ``product.inventory_changed`` events (``order_events``)."""
    owners = await _lock_owners(session, list(wanted))
    taken: list[tuple[int, int]] = []
    took: list[Taken] = []
    emptied: set[int] = set()
    for variant_no in _lock_order(owners, list(wanted)):
        quantity = wanted[variant_no]
        left = await _take_returning(session, variant_no, quantity) if variant_no in owners else None
        if left is None:
            for done, qty in taken:  # nothing the storefront sees changed yet: the documents stay
                await _put_back(session, done, qty, keep_documents=True)
            now = await session.scalar(select(Variant.quantity).where(Variant.variant_no == variant_no))
            raise SoldOut(
                f"Sold out: variant {variant_no} has {now or 0} left and {quantity} were asked; nothing was ordered",
                more_info={"variant_no": variant_no, "quantity": now or 0, "asked": quantity},
            )
        taken.append((variant_no, quantity))
        took.append(Taken(owners[variant_no], variant_no, quantity, left))
        if left == 0:
            emptied.add(owners[variant_no])
    if emptied:  # sold out now: the storefront must say so
        await documents.refresh(session, sorted(emptied))
    return took


_LOCK_OWNERS = Statement(lambda many: (
    select(Variant.variant_no, Variant.product_no).join(Product, Product.product_no == Variant.product_no)
    .where(many(Variant.variant_no, "nos"), in_mall(Variant),
           in_mall(Product))
    .order_by(Variant.product_no, Variant.variant_no).with_for_update(of=Product)
))  # fmt: skip
# the storefront's documents are left alone: ``take_all`` re-renders the product of a variant that reaches 0
_TAKE = Statement(
    update(Variant).where(Variant.variant_no == bindparam("b_variant_no"), Variant.quantity >= bindparam("b_quantity"),
                          in_mall(Variant))
    .values(quantity=Variant.quantity - bindparam("b_quantity")).returning(Variant.quantity)
)  # fmt: skip


async def _lock_owners(session: AsyncSession, variant_nos: list[int]) -> dict[int, int]:
    """variant_no → product_no, with the products' rows locked in ascending order (one query)."""
    if not variant_nos:
        return {}
    return dict(await _LOCK_OWNERS.all(session, nos=variant_nos))


async def _take_returning(session: AsyncSession, variant_no: int, quantity: int) -> int | None:
    """Take in one conditional UPDATE; the stock left, or None (nothing changed) when short."""
    return await _TAKE.scalar(session, b_variant_no=variant_no, b_quantity=quantity)


async def give_back(session: AsyncSession, returned: Mapping[int, int], *, reason: str = events.CANCEL,
                    order_id: str | None = None) -> None:  # fmt: skip
    """Return stock (variant_no → quantity) from a cancellation or a return (``reason``) of the order ``order_id``;
    a variant deleted since is skipped (its number is never another's: it stays gone). Each variant given back emits
    ``product.inventory_changed``; a variant back from zero emits ``product.restocked`` for its product."""
    returned = {v: q for v, q in returned.items() if q > 0}
    owners = await _owners(session, list(returned))
    restocked: set[int] = set()
    changed: list[tuple[str, dict[str, Any]]] = []
    for variant_no in _lock_order(owners, [v for v in returned if v in owners]):
        quantity = returned[variant_no]
        now = await _put_back(session, variant_no, quantity)
        if now is None:  # deleted meanwhile
            continue
        changed.append(events.inventory_changed(owners[variant_no], variant_no, now, quantity, reason, order_id))
        if now == quantity:
            restocked.add(owners[variant_no])
    await documents.refresh(session, sorted(set(owners.values())))
    await events.emit_inventory(session, changed)
    for product_no in sorted(restocked):
        await events.product_event(session, events.PRODUCT_RESTOCKED, product_no)
