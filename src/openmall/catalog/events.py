"""What the catalog emits (see kernel.events). ``data`` is the product as the Admin API shows it,
with its options and variants."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.events import emit, register
from openmall.malls import service as malls

_EXAMPLE = {"product_no": 12, "product_code": "TEE-WHITE", "name": "White Cotton Tee", "price": "19800.00",
            "display": True, "selling": True, "variants": [{"variant_no": 31, "quantity": 5}]}  # fmt: skip

PRODUCT_CREATED = register("product.created", "mall.read_product", "A product was created", _EXAMPLE)
PRODUCT_UPDATED = register(
    "product.updated", "mall.read_product", "A product, its options, variants or stock changed", _EXAMPLE
)
PRODUCT_DELETED = register("product.deleted", "mall.read_product", "A product was deleted (its last state)", _EXAMPLE)
PRODUCT_RESTOCKED = register(
    "product.restocked", "mall.read_product", "A variant's stock went from 0 to more", _EXAMPLE
)


async def render(session: AsyncSession, product_no: int) -> dict[str, Any]:
    from openmall.catalog import admin_service  # the Admin API's own rendering

    mall = await malls.get_mall(session, session.info["mall_id"])
    product = await admin_service.get_product(session, product_no, ("options", "variants"))
    return product.model_dump(mode="json", context={"timezone": mall.timezone})


async def product_event(session: AsyncSession, type: str, product_no: int, data: dict[str, Any] | None = None) -> None:
    await emit(session, type, data if data is not None else await render(session, product_no))
