"""Orders: their numbers, how they are shown, the merchant's status changes and shipments, the buyer's reads and
purchase confirmation.

- **Order ids** are ``YYYYMMDD-0000001``: the day in the mall's time zone and a number per mall per day, taken with
  one atomic upsert (``INSERT … ON CONFLICT (mall_id, day) DO UPDATE SET last = last + 1 RETURNING last``, on SQLite
  and PostgreSQL alike). The row stays locked until the order's transaction ends, so ``orders.payments`` takes the
  number as late as it can. A number taken by a transaction that rolls back is not reused (ids may skip).
- **Statuses** change only through ``orders.states.check``, per order option; the order's status is derived from its
  options' (``states.order_status``). Every change emits ``order.status_changed``.
- **Mileage earned** when the buyer confirms the purchase: the member group's ``mileage_rate`` % of what the buyer
  paid and kept (``pay_amount − refunded_amount``; mileage spent does not earn), rounded down to whole won.

No HTTP and no commit here; every write locks the order's row first (``SELECT … FOR UPDATE`` on PostgreSQL), so that
two changes of one order run one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.pagination import Page
from openmall.kernel.timeutil import to_mall_time, zone
from openmall.orders import events, states
from openmall.orders.models import Claim, Order, OrderOption, OrderSequence, Shipment
from openmall.orders.numbers import OrderNumbers
from openmall.orders.schemas import ClaimOut, OrderOptionOut, OrderOut, ShipmentOut
from openmall.orders.states import ADMIN_STATUSES

ZERO = Decimal("0")
WON = Decimal("1")


@dataclass
class Bundle:
    """An order with its options and shipments, loaded together."""

    order: Order
    options: list[OrderOption]
    shipments: list[Shipment] = field(default_factory=list)

    def option(self, order_option_no: int) -> OrderOption | None:
        return next((o for o in self.options if o.order_option_no == order_option_no), None)


def next_statuses(options: Sequence[OrderOption]) -> list[str]:
    nexts: set[str] = set()
    for o in options:
        nexts |= set(states.allowed(o.status))
    return [s for s in states.ALL if s in nexts]


def render(b: Bundle) -> OrderOut:
    o = b.order
    return OrderOut(
        order_id=o.order_id, order_no=o.order_no, member_no=o.member_no, order_sheet_no=o.order_sheet_no,
        status=o.status, next_statuses=next_statuses(b.options), pay_type=o.pay_type, tracking_key=o.tracking_key,
        channel_type=o.channel_type, product_amount=o.product_amount, cart_coupon_discount=o.cart_coupon_discount,
        shipping_fee=o.shipping_fee, shipping_coupon_discount=o.shipping_coupon_discount, mileage_used=o.mileage_used,
        pay_amount=o.pay_amount, refunded_amount=o.refunded_amount, refunded_mileage=o.refunded_mileage,
        mileage_earned=o.mileage_earned, coupons=o.coupons or [], orderer=o.orderer or {},
        shipping_address=o.shipping_address or {}, deposit=o.deposit or {}, created_at=o.created_at,
        paid_at=o.paid_at, confirmed_at=o.confirmed_at, updated_at=o.updated_at or o.created_at,
        options=[OrderOptionOut(
            order_option_no=p.order_option_no, product_no=p.product_no, variant_no=p.variant_no,
            product_name=p.product_name, option_text=p.option_text, quantity=p.quantity,
            claimed_quantity=p.claimed_quantity, status=p.status, sale_price=p.sale_price,
            immediate_discount=p.immediate_discount, option_price=p.option_price,
            additional_discount=p.additional_discount, product_coupon_discount=p.product_coupon_discount,
            cart_coupon_share=p.cart_coupon_share, basis_amount=p.basis_amount, shipping_group=p.shipping_group,
        ) for p in b.options],
        shipments=[ShipmentOut(shipment_no=s.shipment_no, carrier=s.carrier, tracking_number=s.tracking_number,
                               created_at=s.created_at) for s in b.shipments],
    )  # fmt: skip


def render_claim(c: Claim, order_id: str) -> ClaimOut:
    return ClaimOut(claim_no=c.claim_no, order_id=order_id, kind=c.kind, status=c.status, items=c.items,
                    reason=c.reason, refund_amount=c.refund_amount, refund_mileage=c.refund_mileage,
                    restored_coupons=c.restored_coupons or [], created_at=c.created_at,
                    completed_at=c.completed_at)  # fmt: skip


def as_data(b: Bundle, timezone: str, **extra: Any) -> dict[str, Any]:
    """The order as an event's ``data``: as the Admin API shows it, plus ``extra``."""
    return {**render(b).model_dump(mode="json", context={"timezone": timezone}), **extra}


# ---- order ids ----------------------------------------------------------------------------------------------


def mall_today(timezone: str, now: datetime | None = None) -> date:
    return to_mall_time(now or utcnow(), timezone).date()


async def next_order_id(session: AsyncSession, timezone: str, numbers: OrderNumbers | None = None) -> str:
    """The mall's next order id of today (in its time zone): one atomic upsert that returns the number —
    on PostgreSQL through ``numbers`` (its own autocommit connection, so that orders don't queue on the
    row), else in the session's transaction."""
    day = mall_today(timezone)
    mall_id = session.info["mall_id"]
    dialect = session.get_bind().dialect.name
    if numbers is not None and numbers.usable and dialect == "postgresql":
        last = await numbers.take(mall_id, day)
    else:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(OrderSequence).on_conflict_do_update(
            index_elements=[OrderSequence.mall_id, OrderSequence.day], set_={"last": OrderSequence.last + 1}
        ).returning(OrderSequence.last)  # fmt: skip
        last = (await session.execute(stmt, [{"mall_id": mall_id, "day": day, "last": 1}])).scalar_one()
    return f"{day:%Y%m%d}-{last:07d}"


# ---- reads --------------------------------------------------------------------------------------------------


def _not_found(order_id: str) -> NotFound:
    return NotFound(f"No order {order_id} in this mall", more_info={"order_id": order_id})


async def load(session: AsyncSession, order_id: str, *, member_no: int | None = None, lock: bool = False) -> Bundle:
    """The order with its options and shipments; 404 when there is none (or it is not ``member_no``'s).
    ``lock``: hold the order's row until the transaction ends (every write does)."""
    stmt = select(Order).where(Order.order_id == order_id)
    if member_no is not None:
        stmt = stmt.where(Order.member_no == member_no)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = await session.scalar(stmt)
    if order is None:
        raise _not_found(order_id)
    bundles = await _with_parts(session, [order], lock=lock)
    return bundles[0]


async def _with_parts(session: AsyncSession, orders: Sequence[Order], *, lock: bool = False) -> list[Bundle]:
    nos = [o.order_no for o in orders]
    options: dict[int, list[OrderOption]] = defaultdict(list)
    shipments: dict[int, list[Shipment]] = defaultdict(list)
    if nos:
        stmt = select(OrderOption).where(OrderOption.order_no.in_(nos)).order_by(OrderOption.order_option_no)
        if lock:
            stmt = stmt.execution_options(populate_existing=True)
        for p in await session.scalars(stmt):
            options[p.order_no].append(p)
        for s in await session.scalars(
            select(Shipment).where(Shipment.order_no.in_(nos)).order_by(Shipment.shipment_no)
        ):
            shipments[s.order_no].append(s)
    return [Bundle(o, options[o.order_no], shipments[o.order_no]) for o in orders]


def parse_date(name: str, raw: str | None) -> date | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date as YYYY-MM-DD; got '{raw}'", field=name) from None


def parse_statuses(raw: str | None) -> list[str]:
    if raw is None or raw.strip() == "":
        return []
    asked = [p.strip().upper() for p in raw.split(",") if p.strip()]
    unknown = [s for s in asked if s not in states.ALL]
    if unknown:
        raise InvalidInput(f"status has unknown value{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"allowed: {', '.join(states.ALL)}", field="status", allowed=list(states.ALL))  # fmt: skip
    return asked


@dataclass(frozen=True)
class OrderFilter:
    start: datetime | None = None  # UTC bounds, start inclusive, end exclusive
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    member_no: int | None = None


def order_filter(timezone: str, *, start_date: str | None, end_date: str | None, status: str | None = None,
                 member_no: int | None = None) -> OrderFilter:  # fmt: skip
    """Dates are whole days in the mall's time zone, both included."""
    start, end = parse_date("start_date", start_date), parse_date("end_date", end_date)
    if start and end and start > end:
        raise InvalidInput(f"start_date {start} is after end_date {end}", field="start_date")
    tz = zone(timezone)
    lo = datetime.combine(start, time(), tz) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), tz) if end else None
    return OrderFilter(lo, hi, tuple(parse_statuses(status)), member_no)


def _where(f: OrderFilter) -> list[Any]:
    where: list[Any] = []
    if f.start is not None:
        where.append(Order.created_at >= f.start)
    if f.end is not None:
        where.append(Order.created_at < f.end)
    if f.statuses:
        where.append(Order.status.in_(f.statuses))
    if f.member_no is not None:
        where.append(Order.member_no == f.member_no)
    return where


async def list_orders(session: AsyncSession, f: OrderFilter, page: Page) -> list[Bundle]:
    """Newest first; with ``since_no``, orders numbered above it in ascending order."""
    stmt = select(Order).where(*_where(f))
    if page.since_no is not None:
        stmt = stmt.where(Order.order_no > page.since_no).order_by(Order.order_no)
    else:
        stmt = stmt.order_by(Order.created_at.desc(), Order.order_no.desc()).offset(page.offset)
    orders = list(await session.scalars(stmt.limit(page.limit)))
    return await _with_parts(session, orders)


async def count_orders(session: AsyncSession, f: OrderFilter) -> int:
    return int(await session.scalar(select(func.count()).select_from(Order).where(*_where(f))) or 0)


async def list_claims(session: AsyncSession, order_id: str) -> tuple[Order, list[Claim]]:
    b = await load(session, order_id)
    claims = list(await session.scalars(select(Claim).where(Claim.order_no == b.order.order_no)
                                        .order_by(Claim.claim_no)))  # fmt: skip
    return b.order, claims


# ---- status changes -----------------------------------------------------------------------------------------


def open_options(b: Bundle) -> list[OrderOption]:
    return [o for o in b.options if o.status not in states.CLOSED]


async def refresh_status(session: AsyncSession, b: Bundle, timezone: str) -> bool:
    """Derive the order's status from its options; emits ``order.status_changed`` when it changed."""
    before = b.order.status
    b.order.status = states.order_status(o.status for o in b.options)
    b.order.updated_at = utcnow()
    await session.flush()
    if b.order.status != before:
        await events.emit_order(session, events.ORDER_STATUS_CHANGED, as_data(b, timezone, previous_status=before))
        return True
    return False


async def _pending_claims(session: AsyncSession, order_no: int, kinds: Sequence[str]) -> list[Claim]:
    return list(await session.scalars(
        select(Claim).where(Claim.order_no == order_no, Claim.status == "REQUESTED", Claim.kind.in_(kinds))
    ))  # fmt: skip


async def move(session: AsyncSession, b: Bundle, to: str, timezone: str,
               option_nos: Sequence[int] | None = None) -> list[OrderOption]:  # fmt: skip
    """Move the order's open options (or the ones named) to ``to``, each checked by the state machine."""
    if option_nos:
        chosen = []
        for no in option_nos:
            option = b.option(no)
            if option is None:
                raise InvalidInput(f"order option {no} is not part of order {b.order.order_id}",
                                   field="order_option_nos", order_option_no=no)  # fmt: skip
            chosen.append(option)
    else:
        chosen = open_options(b)
        if to not in states.CLAIM_STATES:  # options already past ``to`` (an exchange, a confirmed one) stay
            chosen = [o for o in chosen if o.status not in states.CLAIM_STATES or states.can(o.status, to)]
    if not chosen:
        raise Conflict(f"order {b.order.order_id} has no open option to move to {to}",
                       more_info={"status": b.order.status})  # fmt: skip
    for option in chosen:
        states.check(option.status, to, what=f"order option {option.order_option_no}")
    for option in chosen:
        option.status = to
    await refresh_status(session, b, timezone)
    return chosen


async def change_status(session: AsyncSession, order_id: str, to: str, timezone: str,
                        option_nos: Sequence[int] | None = None) -> Bundle:  # fmt: skip
    """The merchant's status change (Admin API). Claims go through the claims routes (refunds, stock);
    ``PAY_DONE`` from ``DEPOSIT_WAIT`` is a deposit confirmation."""
    if to in states.CLAIM_STATES:
        raise InvalidInput(f"{to} is a claim status: request and complete claims through the claims routes, "
                           "which refund and return stock", field="status", allowed=list(ADMIN_STATUSES))  # fmt: skip
    if to not in ADMIN_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(ADMIN_STATUSES)}; got '{to}'", field="status",
                           allowed=list(ADMIN_STATUSES))  # fmt: skip
    b = await load(session, order_id, lock=True)
    if to == states.PAY_DONE and b.order.status == states.DEPOSIT_WAIT:
        return await confirm_deposit(session, order_id, timezone)
    if to in (states.DELIVERY_PREPARE, states.DELIVERY_ING, states.DELIVERY_DONE):
        await _no_pending(session, b, ("CANCEL",), "ship it")
    if to == states.BUY_CONFIRM:
        return await confirm_purchase(session, order_id, timezone, bundle=b)
    await move(session, b, to, timezone, option_nos)
    return b


async def _no_pending(session: AsyncSession, b: Bundle, kinds: Sequence[str], doing: str) -> None:
    pending = await _pending_claims(session, b.order.order_no, kinds)
    if pending:
        c = pending[0]
        raise Conflict(f"order {b.order.order_id} has an open {c.kind.lower()} request (claim {c.claim_no}); "
                       f"complete or reject it before you {doing}", more_info={"claim_no": c.claim_no})  # fmt: skip


async def add_shipment(session: AsyncSession, order_id: str, carrier: str, tracking_number: str,
                       timezone: str) -> Bundle:  # fmt: skip
    """A parcel for every open option waiting to ship: they go to DELIVERY_ING."""
    b = await load(session, order_id, lock=True)
    await _no_pending(session, b, ("CANCEL",), "ship it")
    waiting = [o for o in open_options(b) if o.status in states.SHIPPABLE]
    if not waiting:
        raise Conflict(
            f"order {order_id} is {b.order.status}: nothing waits to be shipped (shipments are for options in "
            f"{', '.join(sorted(states.SHIPPABLE))})", more_info={"status": b.order.status},
        )  # fmt: skip
    shipment = Shipment(order_no=b.order.order_no, carrier=carrier, tracking_number=tracking_number,
                        created_at=utcnow())  # fmt: skip
    session.add(shipment)
    await session.flush()
    b.shipments.append(shipment)
    await move(session, b, states.DELIVERY_ING, timezone, [o.order_option_no for o in waiting])
    return b


async def confirm_deposit(session: AsyncSession, order_id: str, timezone: str) -> Bundle:
    """A bank transfer's deposit arrived: DEPOSIT_WAIT → PAY_DONE, the payment approved, ``order.paid``."""
    from openmall.orders import payments  # payments imports this module

    b = await load(session, order_id, lock=True)
    if b.order.status != states.DEPOSIT_WAIT:
        raise Conflict(f"order {order_id} is {b.order.status}, not waiting for a deposit (DEPOSIT_WAIT)",
                       more_info={"status": b.order.status})  # fmt: skip
    await move(session, b, states.PAY_DONE, timezone)
    now = utcnow()
    b.order.paid_at = now
    b.order.deposit = {**(b.order.deposit or {}), "confirmed_at": now.isoformat()}
    await payments.mark_deposited(session, b.order)
    await session.flush()
    await events.emit_order(session, events.ORDER_PAID, as_data(b, timezone))
    return b


# ---- the buyer ----------------------------------------------------------------------------------------------


def earned_mileage(paid: Decimal, rate_percent: Decimal) -> Decimal:
    """``rate_percent`` % of ``paid``, rounded down to whole won."""
    if paid <= 0 or rate_percent <= 0:
        return ZERO
    return (paid * rate_percent / 100).quantize(WON, rounding=ROUND_DOWN)


async def confirm_purchase(session: AsyncSession, order_id: str, timezone: str, *, member_no: int | None = None,
                           bundle: Bundle | None = None) -> Bundle:  # fmt: skip
    """The buyer (or the merchant) confirms the purchase: delivered options → BUY_CONFIRM, and the member earns
    mileage at their group's rate of what they paid and kept."""
    from openmall.customers import mileage
    from openmall.customers import service as customers

    b = bundle or await load(session, order_id, member_no=member_no, lock=True)
    await _no_pending(session, b, ("RETURN", "EXCHANGE"), "confirm the purchase")
    await move(session, b, states.BUY_CONFIRM, timezone)
    order = b.order
    order.confirmed_at = utcnow()
    if order.member_no is not None and order.mileage_earned == 0:
        member = await customers.get_member(session, order.member_no)
        group = await customers.member_group(session, member) if member is not None else None
        amount = earned_mileage(order.pay_amount - order.refunded_amount, group.mileage_rate if group else ZERO)
        if amount > 0 and member is not None and member.status == "ACTIVE":
            await mileage.earn(session, order.member_no, amount, order_id=order.order_id,
                               reason=f"purchase confirmed: order {order.order_id}")  # fmt: skip
            order.mileage_earned = amount
    await session.flush()
    return b
