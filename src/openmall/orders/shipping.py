"""The mall's shipping fee policy: a base fee per shipping group, free at or above an amount, a surcharge for
remote areas recognised by the start of their zip code.

A mall without a policy row charges the defaults: 3,000 won, free from 50,000 won, +3,000 won to Jeju (zip codes
starting 63) and the islands of Incheon (402, 409). ``put_policy`` stores the mall's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.fastsql import Statement, in_mall
from openmall.orders import pricing
from openmall.orders.models import ShippingPolicy

DEFAULT_BASE_FEE = Decimal("3000")
DEFAULT_FREE_OVER = Decimal("50000")
DEFAULT_REMOTE_SURCHARGE = Decimal("3000")
DEFAULT_REMOTE_ZIP_PREFIXES = ("63", "402", "409")  # Jeju; the islands of Ongjin (Incheon)


@dataclass(frozen=True)
class MallShipping:
    """A mall's shipping policy as the order sheet uses it."""

    base_fee: Decimal
    free_over: Decimal | None
    remote_surcharge: Decimal
    remote_zip_prefixes: tuple[str, ...]
    is_default: bool = False  # the mall has no policy of its own yet

    def rule(self) -> pricing.ShippingPolicy:
        return pricing.ShippingPolicy(base_fee=self.base_fee, free_over=self.free_over,
                                      remote_surcharge=self.remote_surcharge)  # fmt: skip

    def is_remote(self, zip_code: str | None) -> bool:
        code = (zip_code or "").strip().replace("-", "")
        return bool(code) and any(code.startswith(prefix) for prefix in self.remote_zip_prefixes)


DEFAULT = MallShipping(DEFAULT_BASE_FEE, DEFAULT_FREE_OVER, DEFAULT_REMOTE_SURCHARGE, DEFAULT_REMOTE_ZIP_PREFIXES,
                       is_default=True)  # fmt: skip


_POLICY = Statement(
    select(ShippingPolicy.base_fee, ShippingPolicy.free_over, ShippingPolicy.remote_surcharge,
           ShippingPolicy.remote_zip_prefixes).where(in_mall(ShippingPolicy))
)  # fmt: skip


async def get_policy(session: AsyncSession) -> MallShipping:
    """The mall's shipping policy (the defaults when it has none)."""
    row = await _POLICY.first(session)
    if row is None:
        return DEFAULT
    return MallShipping(row.base_fee, row.free_over, row.remote_surcharge, tuple(row.remote_zip_prefixes or ()))


async def put_policy(
    session: AsyncSession,
    *,
    base_fee: Decimal,
    free_over: Decimal | None,
    remote_surcharge: Decimal,
    remote_zip_prefixes: list[str],
) -> MallShipping:
    """Create or replace the mall's policy. Amounts are whole won (the schema checks them)."""
    prefixes = sorted(set(remote_zip_prefixes))
    row = await session.scalar(select(ShippingPolicy).with_for_update())
    if row is None:
        row = ShippingPolicy()
        session.add(row)
    row.base_fee, row.free_over, row.remote_surcharge = base_fee, free_over, remote_surcharge
    row.remote_zip_prefixes = prefixes
    await session.flush()
    return MallShipping(base_fee, free_over, remote_surcharge, tuple(prefixes))
