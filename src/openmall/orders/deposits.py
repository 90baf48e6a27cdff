"""Bank transfers that never arrived: an order still waiting for its deposit after its due date is cancelled.

A bank-transfer order waits in ``DEPOSIT_WAIT`` until the merchant confirms the deposit; the buyer was told to pay
within ``payments.DEPOSIT_DAYS`` days (the order's ``deposit.due_at``). After that the order is cancelled whole,
as the buyer's own cancel would do it (``claims.request``, a CANCEL claim completed at once, reason "the deposit
did not arrive by …"): its stock goes back on sale, the mileage it used and its coupons come back, and the events
``order.claim_requested``, ``order.claim_completed`` and ``order.status_changed`` tell the apps.

``expire`` runs in every ``openmall worker`` (and the embedded one) as periodic housekeeping, and on demand with
``openmall orders expire-deposits``. Each order is cancelled in a transaction of its own that first locks it and
checks it still waits: a deposit confirmed meanwhile wins, and two workers never cancel one order twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from openmall.kernel.db import ALL_MALLS, session_scope, utcnow
from openmall.kernel.timeutil import iso
from openmall.malls import service as malls
from openmall.orders import claims, service, states
from openmall.orders.models import Order
from openmall.orders.payments import DEPOSIT_DAYS

log = logging.getLogger("openmall.orders")
BATCH = 200  # orders looked at per round


@dataclass(frozen=True)
class Expired:
    mall_id: str
    order_id: str


def due_before(now: datetime) -> datetime:
    """Orders placed before this are past their deposit's due date."""
    return now - timedelta(days=DEPOSIT_DAYS)


async def expire(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> list[Expired]:
    """Cancel every order of every mall whose deposit is overdue; the orders cancelled."""
    cutoff = due_before(now or utcnow())
    done: list[Expired] = []
    after = 0  # order_no: each round goes on past the last, so an order that cannot be cancelled blocks none
    while True:
        async with session_scope(sessions, ALL_MALLS) as session:
            due = (await session.execute(
                select(Order.order_no, Order.mall_id, Order.order_id)
                .where(Order.status == states.DEPOSIT_WAIT, Order.created_at <= cutoff, Order.order_no > after)
                .order_by(Order.order_no).limit(BATCH)
            )).all()  # fmt: skip
        for order_no, mall_id, order_id in due:
            after = order_no
            try:
                if await _cancel(sessions, mall_id, order_id, cutoff):
                    done.append(Expired(mall_id, order_id))
            except Exception:  # noqa: BLE001 - one order's trouble must not keep the others waiting
                log.exception("could not cancel overdue bank-transfer order %s of mall %s", order_id, mall_id)
        if len(due) < BATCH:
            return done


async def _cancel(sessions: async_sessionmaker[AsyncSession], mall_id: str, order_id: str, cutoff: datetime) -> bool:
    async with session_scope(sessions, mall_id) as session:
        b = await service.load(session, order_id, lock=True)
        if b.order.status != states.DEPOSIT_WAIT or b.order.created_at > cutoff:
            return False  # paid, or cancelled, meanwhile
        mall = await malls.get_mall(session, mall_id)
        items = [(o.order_option_no, o.quantity - o.claimed_quantity) for o in service.open_options(b)]
        due = iso(b.order.created_at + timedelta(days=DEPOSIT_DAYS), mall.timezone)
        await claims.request(session, order_id, claims.CANCEL, items, f"the deposit did not arrive by {due}",
                             mall.timezone)  # fmt: skip
        return True
