"""Payment: reserve the amount the buyer saw, then confirm; the confirmation places the order.

``reserve`` re-prices the order sheet (``orders.sheets.quote``) and refuses (409) when the amount the buyer saw is no
longer the amount to pay, or when an item cannot be ordered any more; it answers a ``payment_key``.

``confirm`` places the order in ONE transaction, in this order (each step refuses by raising, and the request's
rollback then undoes every step before it):

1. the sheet is claimed with one conditional UPDATE (``status = 'ORDERED' WHERE status = 'OPEN'``): a sheet is paid
   once, even by two confirmations at once (409 for the second);
2. the sheet is priced again; it must still be orderable at the reserved amount (409 otherwise);
3. stock is taken for every line (``catalog.stock.take_all``: all or nothing, 409 "sold out");
4. the card is charged through the gateway (``orders.gateways``), with the payment key as the reference (the
   gateway's idempotency key); a decline is a 402 and nothing stays taken. Before anything is written, the attempt
   to charge is recorded and committed on its own (``orders.attempts``): a crash between the charge and the commit
   leaves it PENDING, and the workers' reconciliation cancels such a charge.
   A bank transfer is not charged: the order waits in ``DEPOSIT_WAIT`` with the account, the depositor and the
   due date, until the merchant confirms the deposit (``POST /api/v2/admin/orders/{order_id}/deposit``);
5. the order id is taken (``orders.service.next_order_id``, as late as possible: its row stays locked until the
   commit), the coupons are used (``promotions.service.use``: a coupon used meanwhile is a 409) and the mileage is
   spent (``customers.mileage.spend``: a balance spent meanwhile is a 422) — from the charge on, any failure (the
   request's commit included) cancels the charge at the gateway and marks the attempt (``kernel.db.on_rollback``);
6. the order and its options are written from the quote's priced lines, with the sheet's tracking key and channel;
   the cart lines it came from are removed; the attempt is marked APPROVED; ``order.created`` (and ``order.paid``
   when paid) are emitted.

An order with nothing to pay (coupons and mileage cover it) is paid at once, whatever the pay type.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import stock
from openmall.customers.models import Member
from openmall.kernel.db import utcnow
from openmall.kernel.errors import ApiError, Conflict, InvalidInput, NotFound
from openmall.kernel.fastsql import Statement, in_mall
from openmall.kernel.money import format_money
from openmall.kernel.timeutil import iso
from openmall.malls.service import MallInfo
from openmall.orders import attempts, bank_accounts, events, gateways, pricing, service, sheets, states
from openmall.orders.models import Order, OrderOption, OrderSheet, Payment
from openmall.orders.numbers import OrderNumbers

CARD, BANK_TRANSFER = "CARD", "BANK_TRANSFER"
PAY_TYPES = (CARD, BANK_TRANSFER)
RESERVED, APPROVED, CANCELLED = "RESERVED", "APPROVED", "CANCELLED"
DEPOSIT_DAYS = 3  # a bank transfer is due within 3 days of the order


class PaymentDeclined(ApiError):
    """402: the gateway declined the card; nothing was ordered."""

    status_code = 402


def _money(value: Decimal) -> str:
    return format_money(value)


def _sheet_paid(sheet: OrderSheet) -> Conflict:
    return Conflict(f"Order sheet {sheet.order_sheet_no} was paid already (order {sheet.order_id})",
                    more_info={"order_sheet_no": sheet.order_sheet_no, "order_id": sheet.order_id})  # fmt: skip


def _not_orderable(q: sheets.Quote) -> Conflict:
    return Conflict("The order sheet cannot be ordered now: " + "; ".join(q.invalid_reasons),
                    more_info={"order_sheet_no": q.sheet.order_sheet_no, "reasons": q.invalid_reasons})  # fmt: skip


def _amount_changed(q: sheets.Quote, seen: Decimal) -> Conflict:
    return Conflict(
        f"The amount to pay is now {_money(q.amount_to_pay)}, not {_money(seen)}: prices, stock, coupons or "
        "mileage changed since; show the buyer the new amount and reserve again",
        more_info={"amount": _money(seen), "amount_to_pay": _money(q.amount_to_pay), "field": "amount"},
    )


async def _orderable_quote(session: AsyncSession, member: Member, sheet: OrderSheet, amount: Decimal) -> sheets.Quote:
    q = await sheets.quote(session, member, sheet, list_coupons=False)
    if q.invalid_reasons or q.priced is None:
        raise _not_orderable(q)
    if q.amount_to_pay != amount:
        raise _amount_changed(q, amount)
    return q


async def reserve(session: AsyncSession, member: Member, order_sheet_no: str, pay_type: str,
                  amount: Decimal) -> Payment:  # fmt: skip
    """Reserve ``amount`` (what the buyer saw) for the member's sheet: a payment to confirm."""
    if pay_type not in PAY_TYPES:
        raise InvalidInput(f"pay_type must be one of {', '.join(PAY_TYPES)}; got '{pay_type}'", field="pay_type",
                           allowed=list(PAY_TYPES))  # fmt: skip
    sheet = await sheets.get_sheet(session, member.member_no, order_sheet_no)
    if sheet.status != sheets.OPEN:
        raise _sheet_paid(sheet)
    q = await _orderable_quote(session, member, sheet, amount)
    if pay_type == BANK_TRANSFER and q.amount_to_pay > 0:
        await bank_accounts.required_account(session)
    payment = Payment(payment_key=f"pay_{secrets.token_hex(16)}", order_sheet_no=sheet.order_sheet_no,
                      member_no=member.member_no, pay_type=pay_type, amount=amount, status=RESERVED,
                      gateway=gateways.gateway().name if pay_type == CARD else "bank_transfer",
                      created_at=utcnow())  # fmt: skip
    session.add(payment)
    await session.flush()
    return payment


async def confirm(session: AsyncSession, mall: MallInfo, member: Member, payment_key: str,
                  card_number: str | None = None, depositor_name: str | None = None,
                  numbers: OrderNumbers | None = None,
                  attempt_log: attempts.AttemptLog | None = None) -> tuple[service.Bundle, dict[str, Any]]:  # fmt: skip
    """Confirm a reserved payment: the order is placed (see the module's docstring for the steps). Answers the
    order and its representation (the events' ``data``, rendered once). ``attempt_log``: the app's (a log on the
    session's database otherwise)."""
    payment, sheet = await _payment_and_sheet(session, member.member_no, payment_key)
    if payment.status == APPROVED or payment.order_id is not None or sheet.status != sheets.OPEN:
        raise _sheet_paid(sheet)
    if payment.pay_type == CARD and not (card_number or "").strip():
        raise InvalidInput("card_number is required to pay by card", field="card_number")
    q = await _orderable_quote(session, member, sheet, payment.amount)
    assert q.priced is not None
    paid_now = payment.pay_type == CARD or q.amount_to_pay == 0
    account = None if paid_now else await bank_accounts.required_account(session)  # (removed since the reserve?)
    gateway = gateways.gateway()
    attempt = None
    if payment.pay_type == CARD and q.amount_to_pay > 0:  # recorded before the first write (see orders.attempts)
        log = attempt_log or attempts.AttemptLog.on_engine(session.bind)  # type: ignore[arg-type]
        attempt = await log.start(session, payment, gateway)
    if await _CLAIM_SHEET.execute(session, b_sheet_no=sheet.sheet_no) != 1:
        raise _sheet_paid(await sheets.get_sheet(session, member.member_no, sheet.order_sheet_no))
    wanted: dict[int, int] = {}
    for line in q.lines:
        wanted[line.variant_no] = wanted.get(line.variant_no, 0) + line.quantity
    taken = await stock.take_all(session, wanted)

    approval: gateways.Approval | None = None
    if attempt is not None:
        attempt.asked = True
        answer = await gateway.approve(q.amount_to_pay, card_number or "", reference=payment.payment_key)
        if isinstance(answer, gateways.Decline):
            attempt.note = f"declined: {answer.code}"
            raise PaymentDeclined(f"The card was declined ({answer.code}): {answer.message}; nothing was ordered. "
                                  "Try another card.", more_info={"decline_code": answer.code})  # fmt: skip
        approval = answer
        attempt.tx_id = approval.tx_id  # any failure from here on, the commit's too, cancels it (log.start)
    order_id = await service.next_order_id(session, mall.timezone, numbers)
    for coupon in q.coupons:
        await _use_coupon(session, coupon.issued_coupon_no, order_id)
    if q.mileage > 0:
        from openmall.customers import mileage

        await mileage.spend(session, member.member_no, q.mileage, order_id=order_id,
                            reason=f"used on order {order_id}")  # fmt: skip
    b = await _write_order(session, mall, member, sheet, q, payment, order_id, account, approval, depositor_name)
    if attempt is not None:
        await attempts.approved(session, attempt, order_id)
    cart_items = [line.cart_item_no for line in q.lines if line.cart_item_no is not None]
    if cart_items:
        from openmall.orders import cart

        await cart.remove_ordered(session, member.member_no, cart_items)
    data = service.as_data(b, mall.timezone)
    await events.emit_orders(session, [events.ORDER_CREATED, events.ORDER_PAID] if paid_now
                             else [events.ORDER_CREATED], data, also=stock.order_events(taken, order_id))  # fmt: skip
    await session.flush()  # every write reaches the database now: a refusal shows before the request commits
    return b, data


_PAYMENT_AND_SHEET = Statement(
    select(*[c.label(f"p_{c.key}") for c in Payment.__table__.c],
           *[c.label(f"s_{c.key}") for c in OrderSheet.__table__.c])
    .outerjoin(OrderSheet, and_(OrderSheet.order_sheet_no == Payment.order_sheet_no,
                                OrderSheet.member_no == Payment.member_no,
                                in_mall(OrderSheet)))
    .where(Payment.payment_key == bindparam("payment_key"), Payment.member_no == bindparam("member_no"),
           in_mall(Payment))
)  # fmt: skip


async def _payment_and_sheet(session: AsyncSession, member_no: int, payment_key: str) -> tuple[Payment, OrderSheet]:
    """The member's payment and its sheet, in one query (404 for either missing, as ``sheets.get_sheet``
    answers for the sheet), as objects to read (they are not in the session: changes go through
    statements)."""
    found = await _PAYMENT_AND_SHEET.first(session, payment_key=payment_key, member_no=member_no)
    if found is None:
        raise NotFound(f"No payment {payment_key!r} of yours", more_info={"payment_key": payment_key})
    row = found._asdict()
    payment = Payment(**{k[2:]: v for k, v in row.items() if k.startswith("p_")})
    if row["s_sheet_no"] is None:
        raise sheets.sheet_not_found(payment.order_sheet_no)
    return payment, OrderSheet(**{k[2:]: v for k, v in row.items() if k.startswith("s_")})


async def _use_coupon(session: AsyncSession, issued_coupon_no: int, order_id: str) -> None:
    from openmall.promotions import service as promotions

    await promotions.use(session, issued_coupon_no, order_id)


_CLAIM_SHEET = Statement(
    update(OrderSheet).where(OrderSheet.sheet_no == bindparam("b_sheet_no"), OrderSheet.status == sheets.OPEN,
                             in_mall(OrderSheet))
    .values(status=sheets.ORDERED)
)  # fmt: skip
_SHEET_ORDERED = Statement(
    update(OrderSheet).where(OrderSheet.sheet_no == bindparam("b_sheet_no"), in_mall(OrderSheet))
    .values(order_id=bindparam("b_order_id"))
)  # fmt: skip
_PAYMENT_DONE = Statement(
    update(Payment).where(Payment.payment_no == bindparam("b_payment_no"), in_mall(Payment))
    .values(order_id=bindparam("b_order_id"), status=bindparam("b_status"), approved_at=bindparam("b_approved_at"),
            gateway_tx_id=bindparam("b_gateway_tx_id"))
)  # fmt: skip
_INSERT_ORDER = Statement(insert(Order).returning(Order.order_no))
_INSERT_OPTION = Statement(insert(OrderOption).returning(OrderOption.order_option_no))


async def _write_order(session: AsyncSession, mall: MallInfo, member: Member, sheet: OrderSheet, q: sheets.Quote,
                       payment: Payment, order_id: str, account: bank_accounts.Account | None,
                       approval: gateways.Approval | None, depositor_name: str | None) -> service.Bundle:  # fmt: skip
    """The order and its options as prebuilt statements (``kernel.fastsql``); the sheet and the payment point at
    it. Answers the order as objects to render (not in the session)."""
    priced = q.priced
    assert priced is not None
    now = utcnow()
    paid_now = account is None  # a bank transfer waits for its deposit into ``account``
    status = states.PAY_DONE if paid_now else states.DEPOSIT_WAIT
    deposit: dict[str, Any] = {}
    if account is not None:
        due = now + timedelta(days=DEPOSIT_DAYS)
        deposit = {**account.as_deposit(), "depositor": (depositor_name or member.name or "")[:100],
                   "amount": _money(q.amount_to_pay), "due_at": iso(due, mall.timezone)}  # fmt: skip
    zero = Decimal("0")
    order = dict(
        order_id=order_id, member_no=member.member_no, order_sheet_no=sheet.order_sheet_no, status=status,
        pay_type=payment.pay_type, tracking_key=sheet.tracking_key, channel_type=sheet.channel_type,
        product_amount=priced.product_amount, cart_coupon_discount=priced.cart_coupon_discount,
        shipping_fee=priced.shipping_fee, shipping_coupon_discount=priced.shipping_coupon_discount,
        mileage_used=priced.mileage, pay_amount=priced.amount_to_pay, refunded_amount=zero, refunded_mileage=zero,
        mileage_earned=zero,
        coupons=[{"issued_coupon_no": c.issued_coupon_no, "kind": c.kind, "variant_no": c.line_key,
                  "discount": _money(c.discount)} for c in q.coupons],
        priced=pricing.to_json(priced),
        orderer={"name": member.name, "email": member.email, "mobile": member.mobile},
        shipping_address=dict(q.address or {}), deposit=deposit, created_at=now, updated_at=now,
        paid_at=now if paid_now else None, confirmed_at=None,
    )  # fmt: skip
    order_no = await _INSERT_ORDER.scalar(session, **order)
    by_key = {int(p.key): p for p in priced.lines}
    options = []
    for line in q.lines:
        p = by_key[line.variant_no]
        option = dict(
            order_no=order_no, product_no=line.product_no, variant_no=line.variant_no,
            product_name=line.product_name[:250], option_text=line.option_text[:250], quantity=line.quantity,
            claimed_quantity=0, sale_price=line.sale_price, immediate_discount=p.immediate_discount,
            option_price=line.option_price, additional_discount=p.additional_discount,
            product_coupon_discount=p.product_coupon_discount, cart_coupon_share=p.cart_coupon_share,
            basis_amount=p.basis_amount, status=status, shipping_group=str(p.shipping_group),
        )  # fmt: skip
        no = await _INSERT_OPTION.scalar(session, **option)
        options.append(OrderOption(order_option_no=no, mall_id=mall.mall_id, **option))
    await _PAYMENT_DONE.execute(session, b_payment_no=payment.payment_no, b_order_id=order_id,
                                b_status=APPROVED if paid_now else payment.status,
                                b_approved_at=now if paid_now else None,
                                b_gateway_tx_id=approval.tx_id if approval is not None else None)  # fmt: skip
    await _SHEET_ORDERED.execute(session, b_sheet_no=sheet.sheet_no, b_order_id=order_id)
    return service.Bundle(Order(order_no=order_no, mall_id=mall.mall_id, **order), options, [])


async def mark_deposited(session: AsyncSession, order: Order) -> None:
    """The bank transfer of ``order`` arrived: its payment is approved."""
    await session.execute(
        update(Payment).where(Payment.order_id == order.order_id, Payment.status == RESERVED)
        .values(status=APPROVED, approved_at=utcnow()).execution_options(synchronize_session=False)
    )  # fmt: skip


async def payment_of(session: AsyncSession, order: Order) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.order_id == order.order_id, Payment.status == APPROVED))


async def refund(session: AsyncSession, order: Order, amount: Decimal, *, whole: bool) -> None:
    """Give ``amount`` back to the buyer: through the gateway for a card, recorded for a bank transfer (the merchant
    sends it back). ``whole``: the order is cancelled entirely, its payment is CANCELLED."""
    payment = await payment_of(session, order)
    if payment is None:
        return
    if amount > 0 and payment.pay_type == CARD and payment.gateway_tx_id:
        await gateways.gateway().refund(payment.gateway_tx_id, amount)
    if whole:
        payment.status = CANCELLED
        await session.flush()
