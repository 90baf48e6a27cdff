"""The mileage ledger: a member's balance (``members.mileage_balance``) and every change of it
(``mileage_entries``, each with the balance after it).

Every change is one conditional UPDATE that also refuses to go below 0
(``SET mileage_balance = mileage_balance + :delta WHERE mileage_balance + :delta >= 0``), so that
concurrent spends can never overdraw: the database serialises them on the member's row. A withdrawn
member's balance still takes restores and earnings (a refund after withdrawal must not fail). The ledger row
and the ``mileage.changed`` event are written in the same transaction. Services don't commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.customers import events
from openmall.customers.models import Member, MileageEntry
from openmall.kernel.db import utcnow
from openmall.kernel.errors import InvalidInput, NotFound
from openmall.kernel.events import emit
from openmall.kernel.money import MAX_AMOUNT, format_money
from openmall.kernel.pagination import Page

EARN, SPEND, RESTORE, ADJUST = "EARN", "SPEND", "RESTORE", "ADJUST"
MAX_REASON = 200


class InsufficientMileage(InvalidInput):
    """422: the balance is short of what the change takes away; nothing changed."""

    def __init__(self, balance: Decimal, wanted: Decimal):
        super().__init__(
            f"Not enough mileage: the balance is {format_money(balance)}, {format_money(wanted)} was asked for; "
            "the balance never goes below 0",
            field="mileage",
            balance=format_money(balance),
            requested=format_money(wanted),
        )


@dataclass(frozen=True)
class Ledger:
    member_no: int
    balance: Decimal
    entries: list[MileageEntry]
    total: int


def _amount(value: Decimal | int | str, *, signed: bool = False) -> Decimal:
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidInput("A mileage amount is a decimal string or an integer, never a float", field="amount")
    try:
        amount = Decimal(value)
    except Exception:
        raise InvalidInput(f"A mileage amount must be a decimal amount; got {value!r}", field="amount") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("A mileage amount has at most two decimal places", field="amount")
    if abs(amount) > MAX_AMOUNT or (amount < 0 and not signed):
        raise InvalidInput(f"A mileage amount must be between 0 and {MAX_AMOUNT}; got {amount}", field="amount")
    return amount


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(f"reason is at most {MAX_REASON} characters", field="reason", maximum=MAX_REASON)
    return text


async def balance(session: AsyncSession, member_no: int) -> Decimal:
    """The member's balance; 404 when the member is not in the session's mall."""
    found = await session.scalar(select(Member.mileage_balance).where(Member.member_no == member_no))
    if found is None:
        raise NotFound(f"Member {member_no} does not exist in this mall", more_info={"member_no": member_no})
    return found


async def _change(
    session: AsyncSession,
    member_no: int,
    delta: Decimal,
    kind: str,
    *,
    order_id: str | None,
    reason: str,
    extra: dict[str, Any] | None = None,
) -> Decimal:
    """Adds ``delta`` (signed) in one conditional UPDATE, writes the ledger row and the event."""
    reason = _reason(reason)
    result = await session.execute(
        update(Member)
        .where(Member.member_no == member_no, Member.mileage_balance + delta >= 0)
        .values(mileage_balance=Member.mileage_balance + delta)
        .returning(Member.mileage_balance)
        .execution_options(synchronize_session=False)
    )
    after = result.scalar()
    if after is None:
        current = await session.scalar(select(Member.mileage_balance).where(Member.member_no == member_no))
        if current is None:
            raise NotFound(f"Member {member_no} does not exist in this mall", more_info={"member_no": member_no})
        raise InsufficientMileage(current, -delta)
    now = utcnow()
    entry = MileageEntry(member_no=member_no, kind=kind, amount=delta, balance_after=after, order_id=order_id,
                         reason=reason, extra=extra or {}, created_at=now)  # fmt: skip
    session.add(entry)
    await session.flush()
    await emit(session, events.MILEAGE_CHANGED, {
        "member_no": member_no, "entry_no": entry.entry_no, "kind": kind, "amount": format_money(delta),
        "balance": format_money(after), "order_id": order_id, "reason": reason,
        "changed_at": await events.mall_time(session, now),
    })  # fmt: skip
    return after


async def spend(
    session: AsyncSession, member_no: int, amount: Decimal, *, order_id: str | None, reason: str
) -> Decimal:
    """Takes ``amount`` at checkout; the new balance. InsufficientMileage (422, field ``mileage``) when short.
    Spending 0 changes nothing and writes no ledger row."""
    value = _amount(amount)
    if value == 0:
        return await balance(session, member_no)
    return await _change(session, member_no, -value, SPEND, order_id=order_id, reason=reason or "used on an order")


async def restore(
    session: AsyncSession, member_no: int, amount: Decimal, *, order_id: str | None, reason: str
) -> Decimal:
    """Gives back mileage spent on an order that was cancelled or returned; the new balance."""
    value = _amount(amount)
    if value == 0:
        return await balance(session, member_no)
    return await _change(session, member_no, value, RESTORE, order_id=order_id, reason=reason or "order cancelled")


async def earn(session: AsyncSession, member_no: int, amount: Decimal, *, order_id: str | None, reason: str) -> Decimal:
    """Credits mileage earned on a confirmed purchase (the group's ``mileage_rate``); the new balance."""
    value = _amount(amount)
    if value == 0:
        return await balance(session, member_no)
    return await _change(session, member_no, value, EARN, order_id=order_id, reason=reason or "purchase confirmed")


async def adjust(session: AsyncSession, member_no: int, signed_amount: Decimal, *, reason: str) -> Decimal:
    """An operator's correction, up or down, with a reason; never below 0. The new balance."""
    value = _amount(signed_amount, signed=True)
    if value == 0:
        raise InvalidInput("amount must not be 0: give a positive amount to add or a negative one to take away",
                           field="amount")  # fmt: skip
    if not _reason(reason):
        raise InvalidInput("An adjustment needs a reason (what it is for)", field="reason")
    return await _change(session, member_no, value, ADJUST, order_id=None, reason=reason)


async def ledger(session: AsyncSession, member_no: int, page: Page) -> Ledger:
    """The balance and the ledger, newest first (or ascending from ``since_no``)."""
    current = await balance(session, member_no)
    query = select(MileageEntry).where(MileageEntry.member_no == member_no)
    if page.since_no is not None:
        query = query.where(MileageEntry.entry_no > page.since_no).order_by(MileageEntry.entry_no)
    else:
        query = query.order_by(MileageEntry.entry_no.desc()).offset(page.offset)
    rows = list((await session.scalars(query.limit(page.limit))).all())
    total = await session.scalar(
        select(func.count()).select_from(MileageEntry).where(MileageEntry.member_no == member_no)
    )
    return Ledger(member_no, current, rows, total or 0)
