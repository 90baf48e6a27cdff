"""Claims: cancel before shipping, return after delivery, exchange; per order option and quantity (partial).

Rules (stated once):

- **What can be claimed.** CANCEL: options in DEPOSIT_WAIT, PAY_DONE or PRODUCT_PREPARE (not yet shipping).
  RETURN and EXCHANGE: options in DELIVERY_DONE (or EXCHANGE_DONE), before the purchase is confirmed. A quantity
  is 1 up to the units of the option not yet cancelled, returned or under another open claim. An order waiting
  for its deposit is cancelled whole (it was not paid, so there is nothing to split).
- **Who decides.** A cancel of options that are all DEPOSIT_WAIT or PAY_DONE completes at once (nothing was
  prepared); a cancel in PRODUCT_PREPARE, a return and an exchange are REQUESTED and the merchant completes or
  rejects them (Admin API). An option whose every open unit is claimed shows the claim's ``*_REQUEST`` status; a
  partial request leaves the option's status as it was. A rejected claim puts the options back where they were.
- **Refunds** are recomputed by ``orders.pricing.refund`` from the calculation the buyer paid for, with every unit
  cancelled or returned so far; the claim refunds the difference from what was refunded before. Cash comes back
  first (through the card gateway; recorded for a bank transfer), then mileage (``customers.mileage.restore``).
  Shipping is refunded only when every line of its shipping group is cancelled or returned. An unpaid order
  (DEPOSIT_WAIT) refunds no cash; the mileage it used comes back whole.
- **Stock** of cancelled and returned units goes back (``catalog.stock.give_back``); an exchange swaps the same
  variant and leaves stock as it is.
- **Coupons** come back (``promotions.service.restore``) only when the whole order is cancelled (every unit, by
  CANCEL claims); a partial cancel or any return keeps them used — the refund already gives back the coupon's
  share of the lines that are refunded, never more.
- Events: ``order.claim_requested`` when a claim is made, ``order.claim_completed`` when it is completed or
  rejected (``data.claim.status``), ``order.status_changed`` whenever the order's status changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import stock
from openmall.kernel.db import utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.orders import events, payments, pricing, service, states
from openmall.orders.models import Claim, Order, OrderOption
from openmall.orders.service import Bundle

CANCEL, RETURN, EXCHANGE = "CANCEL", "RETURN", "EXCHANGE"
KINDS = (CANCEL, RETURN, EXCHANGE)
REQUESTED, DONE, REJECTED = "REQUESTED", "DONE", "REJECTED"
ZERO = Decimal("0")

REQUEST_STATE = {CANCEL: states.CANCEL_REQUEST, RETURN: states.RETURN_REQUEST, EXCHANGE: states.EXCHANGE_REQUEST}
DONE_STATE = {CANCEL: states.CANCEL_DONE, RETURN: states.RETURN_DONE, EXCHANGE: states.EXCHANGE_DONE}
CLAIMABLE = {CANCEL: states.CANCELLABLE, RETURN: states.RETURNABLE, EXCHANGE: states.RETURNABLE}
IMMEDIATE_CANCEL = frozenset({states.DEPOSIT_WAIT, states.PAY_DONE})


async def _open_claims(session: AsyncSession, order_no: int) -> list[Claim]:
    return list(await session.scalars(select(Claim).where(Claim.order_no == order_no, Claim.status == REQUESTED)
                                      .order_by(Claim.claim_no)))  # fmt: skip


def _pending(claims: Sequence[Claim], but: int | None = None) -> dict[int, tuple[int, str]]:
    """order_option_no → (units under open claims, the kind of the last of them)."""
    out: dict[int, tuple[int, str]] = {}
    for c in claims:
        if c.claim_no == but:
            continue
        for item in c.items:
            qty, _ = out.get(item["order_option_no"], (0, c.kind))
            out[item["order_option_no"]] = (qty + item["quantity"], c.kind)
    return out


def _claim_data(b: Bundle, claim: Claim, timezone: str) -> dict:
    rendered = service.render_claim(claim, b.order.order_id).model_dump(mode="json", context={"timezone": timezone})
    return service.as_data(b, timezone, claim=rendered)


async def request(session: AsyncSession, order_id: str, kind: str, items: Sequence[tuple[int, int]], reason: str,
                  timezone: str, *, member_no: int | None = None) -> tuple[Bundle, Claim]:  # fmt: skip
    """A claim of ``items`` (order_option_no, quantity) of the order; completes at once when the rules say so."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}; got '{kind}'", field="kind", allowed=list(KINDS))
    if not items:
        raise InvalidInput("items lists the order options to claim, each with a quantity", field="items")
    nos = [no for no, _ in items]
    if len(set(nos)) != len(nos):
        raise InvalidInput("Each order_option_no appears once in items; add the quantities up", field="items")
    b = await service.load(session, order_id, member_no=member_no, lock=True)
    open_claims = await _open_claims(session, b.order.order_no)
    pending = _pending(open_claims)
    chosen: list[tuple[OrderOption, int]] = []
    for no, quantity in items:
        option = b.option(no)
        if option is None:
            raise NotFound(f"Order {order_id} has no order option {no}", more_info={"order_option_no": no})
        if option.status not in CLAIMABLE[kind]:
            allowed = ", ".join(sorted(CLAIMABLE[kind]))
            raise Conflict(f"order option {no} is {option.status}: a {kind.lower()} is for options in {allowed}",
                           more_info={"order_option_no": no, "status": option.status, "allowed": allowed})  # fmt: skip
        available = option.quantity - option.claimed_quantity - pending.get(no, (0, kind))[0]
        if type(quantity) is not int or not 1 <= quantity <= available:
            raise InvalidInput(f"quantity of order option {no} must be from 1 to {available} (the units not yet "
                               f"cancelled, returned or claimed); got {quantity}", field="items.quantity",
                               order_option_no=no, available=available)  # fmt: skip
        chosen.append((option, quantity))
    if kind == CANCEL and b.order.status == states.DEPOSIT_WAIT:
        whole = {o.order_option_no: o.quantity - o.claimed_quantity for o in service.open_options(b)}
        if {o.order_option_no: q for o, q in chosen} != whole:
            raise InvalidInput(f"order {order_id} waits for its deposit: cancel it whole (every option, every unit)",
                               field="items")  # fmt: skip
    now = utcnow()
    claim = Claim(order_no=b.order.order_no, kind=kind, status=REQUESTED, reason=(reason or "")[:300],
                  items=[{"order_option_no": o.order_option_no, "quantity": q, "from_status": o.status}
                         for o, q in chosen], created_at=now)  # fmt: skip
    session.add(claim)
    for option, quantity in chosen:
        if quantity == option.quantity - option.claimed_quantity - pending.get(option.order_option_no, (0, kind))[0]:
            if not pending.get(option.order_option_no):  # every open unit claimed: the option shows the request
                states.check(option.status, REQUEST_STATE[kind], what=f"order option {option.order_option_no}")
                option.status = REQUEST_STATE[kind]
    await session.flush()
    await service.refresh_status(session, b, timezone)
    await events.emit_order(session, events.ORDER_CLAIM_REQUESTED, _claim_data(b, claim, timezone))
    if kind == CANCEL and all(item["from_status"] in IMMEDIATE_CANCEL for item in claim.items):
        await _complete(session, b, claim, timezone)
    return b, claim


async def _claim(session: AsyncSession, claim_no: int) -> tuple[Bundle, Claim]:
    claim = await session.scalar(select(Claim).where(Claim.claim_no == claim_no))
    if claim is None:
        raise NotFound(f"No claim {claim_no} in this mall", more_info={"claim_no": claim_no})
    order_id = await session.scalar(select(Order.order_id).where(Order.order_no == claim.order_no))
    b = await service.load(session, order_id, lock=True)
    await session.refresh(claim)  # as of the lock
    if claim.status != REQUESTED:
        raise Conflict(f"claim {claim_no} is {claim.status} already", more_info={"status": claim.status})
    return b, claim


async def complete(session: AsyncSession, claim_no: int, timezone: str) -> tuple[Bundle, Claim]:
    """The merchant completes a requested claim: refund, stock and coupons by the rules."""
    b, claim = await _claim(session, claim_no)
    await _complete(session, b, claim, timezone)
    return b, claim


async def reject(session: AsyncSession, claim_no: int, reason: str, timezone: str) -> tuple[Bundle, Claim]:
    """The merchant refuses a requested claim: the options go back to where they were."""
    b, claim = await _claim(session, claim_no)
    claim.status, claim.completed_at = REJECTED, utcnow()
    if reason:
        claim.reason = f"{claim.reason} / rejected: {reason}"[:300]
    await _settle(session, b, claim)
    await service.refresh_status(session, b, timezone)
    await events.emit_order(session, events.ORDER_CLAIM_COMPLETED, _claim_data(b, claim, timezone))
    return b, claim


async def _settle(session: AsyncSession, b: Bundle, claim: Claim) -> None:
    """Each option of the claim to the status its units now call for (checked by the state machine)."""
    pending = _pending(await _open_claims(session, b.order.order_no), but=claim.claim_no)
    for item in claim.items:
        option = b.option(item["order_option_no"])
        assert option is not None
        if option.claimed_quantity >= option.quantity:
            to = DONE_STATE[claim.kind]
        elif claim.status == DONE and claim.kind == EXCHANGE and option.status == states.EXCHANGE_REQUEST:
            to = states.EXCHANGE_DONE
        elif (waiting := pending.get(option.order_option_no)) and waiting[0] == _open_units(option):
            to = REQUEST_STATE[waiting[1]]
        elif option.status in states.CLAIM_STATES and option.status.endswith("_REQUEST"):
            to = item["from_status"]
        else:
            continue
        if to != option.status:
            states.check(option.status, to, what=f"order option {option.order_option_no}")
            option.status = to
    await session.flush()


def _open_units(option: OrderOption) -> int:
    return option.quantity - option.claimed_quantity


async def _complete(session: AsyncSession, b: Bundle, claim: Claim, timezone: str) -> None:
    order = b.order
    claim.status, claim.completed_at = DONE, utcnow()
    if claim.kind in (CANCEL, RETURN):
        returned: dict[int, int] = {}
        for item in claim.items:
            option = b.option(item["order_option_no"])
            assert option is not None
            option.claimed_quantity += item["quantity"]
            returned[option.variant_no] = returned.get(option.variant_no, 0) + item["quantity"]
        await _settle(session, b, claim)
        cash, miles = _refund(b)
        claim.refund_amount, claim.refund_mileage = cash, miles
        order.refunded_amount += cash
        order.refunded_mileage += miles
        whole_cancel = all(o.status == states.CANCEL_DONE for o in b.options)
        await payments.refund(session, order, cash, whole=whole_cancel)
        if miles > 0 and order.member_no is not None:
            await _restore_mileage(session, order.member_no, miles, order.order_id)
        await stock.give_back(session, returned, reason=claim.kind, order_id=order.order_id)
        if whole_cancel:
            claim.restored_coupons = await _restore_coupons(session, order.coupons or [], order.order_id)
    else:
        await _settle(session, b, claim)
    await session.flush()
    await service.refresh_status(session, b, timezone)
    await events.emit_order(session, events.ORDER_CLAIM_COMPLETED, _claim_data(b, claim, timezone))


def _refund(b: Bundle) -> tuple[Decimal, Decimal]:
    """This claim's cash and mileage: the refund of everything claimed so far, less what was refunded before."""
    order = b.order
    if order.paid_at is None:  # never paid: only the mileage it used comes back
        closed = all(o.claimed_quantity >= o.quantity for o in b.options)
        return ZERO, (order.mileage_used - order.refunded_mileage) if closed else ZERO
    priced = pricing.from_json(order.priced)
    cancelled: dict[int, int] = {}
    for o in b.options:
        cancelled[o.variant_no] = cancelled.get(o.variant_no, 0) + o.claimed_quantity
    r = pricing.refund(priced, cancelled)
    return max(r.cash - order.refunded_amount, ZERO), max(r.mileage - order.refunded_mileage, ZERO)


async def _restore_mileage(session: AsyncSession, member_no: int, amount: Decimal, order_id: str) -> None:
    from openmall.customers import mileage
    from openmall.customers import service as customers

    member = await customers.get_member(session, member_no)
    if member is None or member.status != "ACTIVE":  # withdrawn: nobody to give it back to
        return
    await mileage.restore(session, member_no, amount, order_id=order_id, reason=f"order {order_id} refunded")


async def _restore_coupons(session: AsyncSession, coupons: list[dict], order_id: str) -> list[int]:
    from openmall.promotions import service as promotions

    restored = []
    for c in coupons:
        if await promotions.restore(session, int(c["issued_coupon_no"]), order_id=order_id):
            restored.append(int(c["issued_coupon_no"]))
    return restored


async def list_for_order(session: AsyncSession, order_id: str, *, member_no: int | None = None) -> list[Claim]:
    b = await service.load(session, order_id, member_no=member_no)
    return list(await session.scalars(select(Claim).where(Claim.order_no == b.order.order_no)
                                      .order_by(Claim.claim_no)))  # fmt: skip
