"""What the catalog emits (see kernel.events). ``data`` is the product as the Admin API shows it,
with its options and variants."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.events import emit, emit_many, register
from openmall.malls import service as malls

_EXAMPLE = {"product_no": 12, "product_code": "TEE-WHITE", "name": "White Cotton Tee", "price": "19800.00",
            "display": True, "selling": True, "variants": [{"variant_no": 31, "quantity": 5}]}  # fmt: skip

PRODUCT_CREATED = register("product.created", "mall.read_product", "A product was created", _EXAMPLE)
PRODUCT_UPDATED = register(
    "product.updated", "mall.read_product",
    "A product, its options or variants changed (stock set through the Admin API too; every stock change: "
    "product.inventory_changed)", _EXAMPLE,
)  # fmt: skip
PRODUCT_DELETED = register("product.deleted", "mall.read_product", "A product was deleted (its last state)", _EXAMPLE)
PRODUCT_RESTOCKED = register(
    "product.restocked", "mall.read_product", "A variant's stock went from 0 to more", _EXAMPLE
)

# why a variant's stock changed: taken by an order, back from its cancel or return, set by the merchant or an app
ORDER, CANCEL, RETURN, ADJUST = "ORDER", "CANCEL", "RETURN", "ADJUST"
PRODUCT_INVENTORY_CHANGED = register(
    "product.inventory_changed", "mall.read_product",
    "A variant's stock changed: data has its new quantity, the change (negative: taken), the reason (ORDER, CANCEL, "
    "RETURN, ADJUST) and the order_id of an order's change",
    {"product_no": 12, "variant_no": 31, "quantity": 3, "change": -2, "reason": ORDER,
     "order_id": "20261124-0000001"},
)  # fmt: skip


def inventory_changed(product_no: int, variant_no: int, quantity: int, change: int, reason: str,
                      order_id: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The ``product.inventory_changed`` event of one variant, as ``(type, data)`` for ``kernel.events.emit_many``:
    ``quantity`` is the stock after the change."""
    return PRODUCT_INVENTORY_CHANGED, {"product_no": product_no, "variant_no": variant_no, "quantity": quantity,
                                       "change": change, "reason": reason, "order_id": order_id}  # fmt: skip


async def render(session: AsyncSession, product_no: int) -> dict[str, Any]:
    from openmall.catalog import admin_service  # the Admin API's own rendering

    mall = await malls.get_mall(session, session.info["mall_id"])
    product = await admin_service.get_product(session, product_no, ("options", "variants"))
    return product.model_dump(mode="json", context={"timezone": mall.timezone})


async def product_event(session: AsyncSession, type: str, product_no: int, data: dict[str, Any] | None = None) -> None:
    await emit(session, type, data if data is not None else await render(session, product_no))


async def emit_inventory(session: AsyncSession, changes: list[tuple[str, dict[str, Any]]]) -> None:
    """``inventory_changed`` events, in one statement."""
    await emit_many(session, changes)
