"""Coupons: what a valid coupon is, issuing and downloading copies, and using them in orders.

No HTTP and no commit here: the caller's unit of work commits, so a change and its event land together.
Every query runs through a session bound to one mall (``kernel.db``). Counters change with one conditional
UPDATE: ``issued_count`` (``WHERE issued_count + n <= max_issue_count``) and a copy's use (``WHERE used_at IS
NULL``), so concurrent downloads never pass the limit and one copy is never used by two orders.

Rules stated once:

- A coupon is *usable* by its holder while it is ACTIVE and ``starts_at <= now < ends_at``, and the copy is unused.
- A DOWNLOAD coupon can be downloaded while it is usable in that sense and not all ``max_issue_count`` are gone;
  the shop may issue either kind (ahead of ``starts_at`` too), but not a STOPPED or ended one.
- Amounts are whole units (pricing works in whole won); a rate is a percent, 0 < rate ≤ 100, two decimals at most.
- ``use`` does not look at the period again: the order sheet checked it (``coupons_for_use``) when the buyer
  confirmed, and a payment that completes a second after midnight still gets the discount the buyer saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import service as catalog
from openmall.customers import service as customers
from openmall.kernel.db import utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.money import MAX_AMOUNT
from openmall.kernel.pagination import Page
from openmall.kernel.params import parse_flag
from openmall.orders import pricing
from openmall.promotions import events
from openmall.promotions.models import Coupon, IssuedCoupon
from openmall.promotions.schemas import (
    AdminCouponOut,
    CouponIn,
    CouponUpdate,
    IssuedCouponOut,
    MemberCouponOut,
    OptionValueOut,
    ShopCouponOut,
)

KINDS = ("PRODUCT", "CART", "SHIPPING")
DISCOUNT_TYPES = ("FIXED", "PERCENT")
ISSUE_TYPES = ("ISSUED", "DOWNLOAD")
STATUSES = ("ACTIVE", "STOPPED")
ZERO = Decimal("0")
_FIELDS = ("name", "kind", "discount_type", "discount_amount", "discount_rate", "max_discount", "min_order_amount",
           "target_product_nos", "target_category_nos", "target_option_values", "issue_type", "starts_at", "ends_at",
           "max_issue_count", "status")  # fmt: skip
_PER_TYPE = ("discount_amount", "discount_rate", "max_discount")


# ---- rules ---------------------------------------------------------------------------------------


def _whole(name: str, value: Decimal | None, *, positive: bool = False) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise InvalidInput(f"{name} must be an amount from 0 to {MAX_AMOUNT}", field=name)
    if value != value.to_integral_value():
        raise InvalidInput(f"{name} must be a whole amount (prices are in whole won); got {value}", field=name)
    if positive and value <= 0:
        raise InvalidInput(f"{name} must be more than 0", field=name)


def _check_terms(v: dict[str, Any]) -> None:
    """The coupon's own rules, on the whole (merged) set of values. Raises InvalidInput; changes nothing."""
    if v["kind"] not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind", allowed=list(KINDS))
    if v["discount_type"] not in DISCOUNT_TYPES:
        raise InvalidInput(f"discount_type must be one of {', '.join(DISCOUNT_TYPES)}", field="discount_type",
                           allowed=list(DISCOUNT_TYPES))  # fmt: skip
    if v["issue_type"] not in ISSUE_TYPES or v["status"] not in STATUSES:
        raise InvalidInput("issue_type is ISSUED or DOWNLOAD; status is ACTIVE or STOPPED", field="issue_type")
    if v["discount_type"] == "FIXED":
        if v["discount_amount"] is None:
            raise InvalidInput("a FIXED coupon needs discount_amount (the amount off)", field="discount_amount")
        _whole("discount_amount", v["discount_amount"], positive=True)
        for name in ("discount_rate", "max_discount"):
            if v[name] is not None:
                raise InvalidInput(f"{name} is for PERCENT coupons; a FIXED coupon takes discount_amount off",
                                   field=name)  # fmt: skip
    else:
        rate = v["discount_rate"]
        if rate is None:
            raise InvalidInput("a PERCENT coupon needs discount_rate (percent off)", field="discount_rate")
        if not isinstance(rate, Decimal) or not rate.is_finite() or not ZERO < rate <= 100:
            raise InvalidInput(f"discount_rate must be more than 0 and at most 100; got {rate}", field="discount_rate",
                               minimum="0", maximum="100")  # fmt: skip
        if rate != rate.quantize(Decimal("0.01")):
            raise InvalidInput("discount_rate has at most two decimal places", field="discount_rate")
        if v["discount_amount"] is not None:
            raise InvalidInput("discount_amount is for FIXED coupons; a PERCENT coupon takes discount_rate % off "
                               "(cap it with max_discount)", field="discount_amount")  # fmt: skip
        _whole("max_discount", v["max_discount"], positive=True)
    _whole("min_order_amount", v["min_order_amount"])
    if v["ends_at"] <= v["starts_at"]:
        raise InvalidInput("ends_at must be after starts_at", field="ends_at")
    for name in ("target_product_nos", "target_category_nos"):
        if len(set(v[name])) != len(v[name]):
            raise InvalidInput(f"{name} lists a number twice", field=name)
    pairs = [(o["name"], o["value"]) for o in v["target_option_values"]]
    if len(set(pairs)) != len(pairs):
        raise InvalidInput("target_option_values lists a value twice", field="target_option_values")


async def _check_targets(session: AsyncSession, v: dict[str, Any]) -> None:
    for name, missing, what in (("target_product_nos", catalog.missing_products, "products"),
                                ("target_category_nos", catalog.missing_categories, "categories")):  # fmt: skip
        unknown = await missing(session, v[name]) if v[name] else []
        if unknown:
            raise InvalidInput(f"{name}: no such {what} in this mall: {', '.join(map(str, unknown))}", field=name,
                               unknown=unknown)  # fmt: skip


def _row_values(v: dict[str, Any]) -> dict[str, Any]:
    """Column values: the other discount type's fields are stored as 0 (their columns are not nullable)."""
    out = dict(v)
    out["discount_amount"] = v["discount_amount"] if v["discount_type"] == "FIXED" else ZERO
    out["discount_rate"] = v["discount_rate"] if v["discount_type"] == "PERCENT" else ZERO
    out["max_discount"] = v["max_discount"] if v["discount_type"] == "PERCENT" else None
    return out


def _given(data: CouponIn | CouponUpdate, names: Any) -> dict[str, Any]:
    """The request's values as Python objects (``model_dump`` would turn money into strings)."""
    out = {name: getattr(data, name) for name in names}
    if out.get("target_option_values") is not None:
        out["target_option_values"] = [{"name": o.name, "value": o.value} for o in out["target_option_values"]]
    return out


def _values_of(coupon: Coupon) -> dict[str, Any]:
    v = {name: getattr(coupon, name) for name in _FIELDS}
    fixed = coupon.discount_type == "FIXED"
    v["discount_amount"] = coupon.discount_amount if fixed else None
    v["discount_rate"] = None if fixed else coupon.discount_rate
    v["max_discount"] = None if fixed else coupon.max_discount
    return v


# ---- Admin API -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponFilter:
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    issue_types: tuple[str, ...] = ()


def _choices(name: str, raw: str | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    asked = tuple(dict.fromkeys(p.strip().upper() for p in raw.split(",")))
    unknown = [a for a in asked if a not in allowed]
    if unknown:
        got = ", ".join(unknown) or "an empty item"
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)} (comma-separated for any of them); got {got}",
                           field=name, allowed=list(allowed))  # fmt: skip
    return asked


def coupon_filter(*, kind: str | None, status: str | None, issue_type: str | None) -> CouponFilter:
    return CouponFilter(_choices("kind", kind, KINDS), _choices("status", status, STATUSES),
                        _choices("issue_type", issue_type, ISSUE_TYPES))  # fmt: skip


async def list_coupons(session: AsyncSession, f: CouponFilter, page: Page) -> list[AdminCouponOut]:
    """Newest first; after ``since_no``, in ascending coupon_no."""
    stmt = select(Coupon)
    if f.kinds:
        stmt = stmt.where(Coupon.kind.in_(f.kinds))
    if f.statuses:
        stmt = stmt.where(Coupon.status.in_(f.statuses))
    if f.issue_types:
        stmt = stmt.where(Coupon.issue_type.in_(f.issue_types))
    if page.since_no is not None:
        stmt = stmt.where(Coupon.coupon_no > page.since_no).order_by(Coupon.coupon_no)
    else:
        stmt = stmt.order_by(Coupon.coupon_no.desc()).offset(page.offset)
    coupons = list(await session.scalars(stmt.limit(page.limit)))
    used = await _used_counts(session, [c.coupon_no for c in coupons])
    return [admin_out(c, used.get(c.coupon_no, 0)) for c in coupons]


async def _used_counts(session: AsyncSession, coupon_nos: Sequence[int]) -> dict[int, int]:
    if not coupon_nos:
        return {}
    rows = await session.execute(
        select(IssuedCoupon.coupon_no, func.count()).where(IssuedCoupon.coupon_no.in_(list(coupon_nos)),
                                                           IssuedCoupon.used_at.is_not(None))
        .group_by(IssuedCoupon.coupon_no)
    )  # fmt: skip
    return {no: int(n) for no, n in rows.all()}


def _no_coupon(coupon_no: int) -> NotFound:
    return NotFound(f"No coupon {coupon_no} in this mall", more_info={"coupon_no": coupon_no})


async def _coupon(session: AsyncSession, coupon_no: int, *, lock: bool = False) -> Coupon:
    stmt = select(Coupon).where(Coupon.coupon_no == coupon_no)
    coupon = await session.scalar(stmt.with_for_update() if lock else stmt)
    if coupon is None:
        raise _no_coupon(coupon_no)
    return coupon


async def get_coupon(session: AsyncSession, coupon_no: int) -> AdminCouponOut:
    coupon = await _coupon(session, coupon_no)
    return admin_out(coupon, (await _used_counts(session, [coupon_no])).get(coupon_no, 0))


async def create_coupon(session: AsyncSession, data: CouponIn) -> Coupon:
    v = _given(data, _FIELDS)
    v["starts_at"] = v["starts_at"] or utcnow()
    _check_terms(v)
    if v["ends_at"] <= utcnow():
        raise InvalidInput("ends_at is in the past: the coupon could never be used", field="ends_at")
    await _check_targets(session, v)
    coupon = Coupon(**_row_values(v), issued_count=0)
    session.add(coupon)
    await session.flush()
    return coupon


async def update_coupon(session: AsyncSession, coupon_no: int, data: CouponUpdate) -> Coupon:
    """Only the fields given change. Switching ``discount_type`` clears the other type's fields unless given."""
    coupon = await _coupon(session, coupon_no, lock=True)  # row lock: issuing waits until this commits
    given = _given(data, [name for name in _FIELDS if name in data.model_fields_set])
    v = _values_of(coupon)
    if given.get("discount_type", v["discount_type"]) != v["discount_type"]:
        v.update(dict.fromkeys(_PER_TYPE))
    v.update(given)
    _check_terms(v)
    if v["max_issue_count"] is not None and v["max_issue_count"] < coupon.issued_count:
        raise Conflict(f"max_issue_count cannot go below the {coupon.issued_count} already issued",
                       more_info={"field": "max_issue_count", "issued_count": coupon.issued_count})  # fmt: skip
    await _check_targets(session, {k: given.get(k, []) for k in ("target_product_nos", "target_category_nos")})
    for name, value in _row_values(v).items():
        if getattr(coupon, name) != value:
            setattr(coupon, name, value)  # issued_count is never written from here
    await session.flush()
    return coupon


async def delete_coupon(session: AsyncSession, coupon_no: int) -> str:
    """A coupon never issued is deleted; one issued is STOPPED, so that members' copies keep their history
    (and orders that used them their reference). Answers DELETED or STOPPED."""
    coupon = await _coupon(session, coupon_no, lock=True)
    if coupon.issued_count == 0:
        await session.delete(coupon)
        await session.flush()
        return "DELETED"
    coupon.status = "STOPPED"
    await session.flush()
    return "STOPPED"


async def _active_members(session: AsyncSession, member_nos: Sequence[int]) -> set[int]:
    """The members of this mall among ``member_nos`` who have not withdrawn (at most ``MAX_ISSUE_MEMBERS``)."""
    found = [await customers.get_member(session, no) for no in member_nos]
    return {m.member_no for m in found if m is not None and m.status == "ACTIVE"}


def _ended(coupon: Coupon, now: datetime) -> bool:
    return coupon.ends_at <= now


@dataclass(frozen=True)
class Issued:
    coupon: Coupon
    copies: list[IssuedCoupon]
    already_issued: list[int]


async def _take(session: AsyncSession, coupon_no: int, n: int, *extra: Any) -> bool:
    """Count ``n`` more copies issued, if the limit allows: one conditional UPDATE."""
    result = await session.execute(
        update(Coupon)
        .where(Coupon.coupon_no == coupon_no, or_(Coupon.max_issue_count.is_(None),
                                                  Coupon.issued_count + n <= Coupon.max_issue_count), *extra)
        .values(issued_count=Coupon.issued_count + n)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return bool(result.rowcount)


async def _add_copies(session: AsyncSession, coupon_no: int, member_nos: Sequence[int]) -> list[IssuedCoupon]:
    now = utcnow()
    copies = [IssuedCoupon(coupon_no=coupon_no, member_no=m, issued_at=now) for m in member_nos]
    session.add_all(copies)
    try:
        await session.flush()
    except IntegrityError as exc:  # another request issued it to one of them meanwhile; the request rolls back
        raise Conflict("A member got this coupon meanwhile; nothing was issued, try again",
                       more_info={"coupon_no": coupon_no}) from exc  # fmt: skip
    return copies


async def issue(session: AsyncSession, coupon_no: int, member_nos: Sequence[int]) -> Issued:
    """The shop gives the coupon to members of this mall. Members who hold it already are left as they are
    (and named); unknown or withdrawn members refuse the whole call; the limit is checked for the new copies."""
    coupon = await _coupon(session, coupon_no, lock=True)
    if coupon.status != "ACTIVE":
        raise Conflict(f"Coupon {coupon_no} is STOPPED; make it ACTIVE before issuing it",
                       more_info={"coupon_no": coupon_no, "status": coupon.status})  # fmt: skip
    if _ended(coupon, utcnow()):
        raise Conflict(f"Coupon {coupon_no} ended at its ends_at; it can no longer be issued",
                       more_info={"coupon_no": coupon_no})  # fmt: skip
    wanted = list(dict.fromkeys(member_nos))
    active = await _active_members(session, wanted)
    unknown = [m for m in wanted if m not in active]
    if unknown:
        raise InvalidInput(f"member_nos: no such members in this mall (or withdrawn): {', '.join(map(str, unknown))}",
                           field="member_nos", unknown=unknown)  # fmt: skip
    holding = set(await session.scalars(
        select(IssuedCoupon.member_no).where(IssuedCoupon.coupon_no == coupon_no, IssuedCoupon.member_no.in_(wanted))
    ))  # fmt: skip
    new = [m for m in wanted if m not in holding]
    if new and not await _take(session, coupon_no, len(new)):
        left = (coupon.max_issue_count or 0) - coupon.issued_count
        raise Conflict(f"Coupon {coupon_no} can be issued {max(left, 0)} more times, not {len(new)}",
                       more_info={"coupon_no": coupon_no, "remaining": max(left, 0), "asked": len(new)})  # fmt: skip
    copies = await _add_copies(session, coupon_no, new)
    await session.refresh(coupon, ["issued_count"])
    await events.issued(session, coupon, copies, "ADMIN")
    return Issued(coupon, copies, [m for m in wanted if m in holding])


async def list_issued(session: AsyncSession, coupon_no: int, page: Page, used: bool | None) -> list[IssuedCouponOut]:
    """The coupon's copies, newest first (after ``since_no``: ascending issued_coupon_no)."""
    await _coupon(session, coupon_no)
    stmt = select(IssuedCoupon).where(IssuedCoupon.coupon_no == coupon_no)
    if used is not None:
        stmt = stmt.where(IssuedCoupon.used_at.is_not(None) if used else IssuedCoupon.used_at.is_(None))
    if page.since_no is not None:
        stmt = stmt.where(IssuedCoupon.issued_coupon_no > page.since_no).order_by(IssuedCoupon.issued_coupon_no)
    else:
        stmt = stmt.order_by(IssuedCoupon.issued_coupon_no.desc()).offset(page.offset)
    return [issued_out(c) for c in await session.scalars(stmt.limit(page.limit))]


def parse_used(raw: str | None) -> bool | None:
    return parse_flag("used", raw)


# ---- Shop API ------------------------------------------------------------------------------------


def _downloadable_now(now: datetime) -> Any:
    return and_(Coupon.issue_type == "DOWNLOAD", Coupon.status == "ACTIVE", Coupon.starts_at <= now,
                Coupon.ends_at > now, or_(Coupon.max_issue_count.is_(None),
                                          Coupon.issued_count < Coupon.max_issue_count))  # fmt: skip


async def downloadable(session: AsyncSession, page: Page, member_no: int | None) -> list[ShopCouponOut]:
    """DOWNLOAD coupons that can be downloaded now, soonest ending first; ``downloaded`` for the member."""
    stmt = select(Coupon).where(_downloadable_now(utcnow()))
    if page.since_no is not None:
        stmt = stmt.where(Coupon.coupon_no > page.since_no).order_by(Coupon.coupon_no)
    else:
        stmt = stmt.order_by(Coupon.ends_at, Coupon.coupon_no).offset(page.offset)
    coupons = list(await session.scalars(stmt.limit(page.limit)))
    held: set[int] = set()
    if member_no is not None and coupons:
        nos = [c.coupon_no for c in coupons]
        held = set(await session.scalars(select(IssuedCoupon.coupon_no).where(
            IssuedCoupon.member_no == member_no, IssuedCoupon.coupon_no.in_(nos))))  # fmt: skip
    return [shop_out(c, c.coupon_no in held) for c in coupons]


async def download(session: AsyncSession, coupon_no: int, member_no: int) -> tuple[IssuedCoupon, Coupon]:
    """The member takes one copy of a DOWNLOAD coupon: once per member, within the limit (conditional UPDATE)."""
    coupon = await session.scalar(select(Coupon).where(Coupon.coupon_no == coupon_no, Coupon.issue_type == "DOWNLOAD"))
    if coupon is None:
        raise NotFound(f"No downloadable coupon {coupon_no} in this mall", more_info={"coupon_no": coupon_no})
    mine = await session.scalar(select(IssuedCoupon.issued_coupon_no).where(
        IssuedCoupon.coupon_no == coupon_no, IssuedCoupon.member_no == member_no))  # fmt: skip
    if mine is not None:
        raise _already(coupon_no, mine)
    now = utcnow()
    if not await _take(session, coupon_no, 1, _downloadable_now(now)):
        await session.refresh(coupon)
        raise _not_downloadable(coupon, now)
    try:
        (copy,) = await _add_copies(session, coupon_no, [member_no])
    except Conflict:
        raise _already(coupon_no, None) from None
    await session.refresh(coupon, ["issued_count"])
    await events.issued(session, coupon, [copy], "DOWNLOAD")
    return copy, coupon


def _already(coupon_no: int, issued_coupon_no: int | None) -> Conflict:
    return Conflict(f"You already have coupon {coupon_no}; each member can download it once",
                    more_info={"coupon_no": coupon_no, "issued_coupon_no": issued_coupon_no,
                               "reason": "ALREADY_DOWNLOADED"})  # fmt: skip


def _not_downloadable(coupon: Coupon, now: datetime) -> Conflict:
    if coupon.status != "ACTIVE":
        reason, text = "STOPPED", "has been stopped"
    elif coupon.starts_at > now:
        reason, text = "NOT_STARTED", "cannot be downloaded before its starts_at"
    elif _ended(coupon, now):
        reason, text = "EXPIRED", "has ended"
    else:
        reason, text = "SOLD_OUT", "has all been downloaded"
    return Conflict(f"Coupon {coupon.coupon_no} {text}", more_info={"coupon_no": coupon.coupon_no, "reason": reason})


def unusable_reason(copy: IssuedCoupon, coupon: Coupon, now: datetime) -> str | None:
    """Why the copy cannot be used now, or None when it can."""
    if copy.used_at is not None:
        return "USED"
    if coupon.status != "ACTIVE":
        return "STOPPED"
    if coupon.starts_at > now:
        return "NOT_STARTED"
    if _ended(coupon, now):
        return "EXPIRED"
    return None


def _usable_now(now: datetime) -> tuple[Any, ...]:
    return (IssuedCoupon.used_at.is_(None), Coupon.status == "ACTIVE", Coupon.starts_at <= now, Coupon.ends_at > now)


def _mine(member_no: int) -> Any:
    return (select(IssuedCoupon, Coupon).join(Coupon, Coupon.coupon_no == IssuedCoupon.coupon_no)
            .where(IssuedCoupon.member_no == member_no))  # fmt: skip


async def member_coupons(
    session: AsyncSession, member_no: int, usable: bool | None, page: Page
) -> list[MemberCouponOut]:
    """The member's coupons: ``usable`` True (usable now, soonest ending first), False (used, stopped, not yet
    started or ended; newest first) or None (all, newest first). After ``since_no``: ascending issued_coupon_no."""
    now = utcnow()
    stmt = _mine(member_no)
    if usable is True:
        stmt = stmt.where(*_usable_now(now))
    elif usable is False:
        stmt = stmt.where(~and_(*_usable_now(now)))
    if page.since_no is not None:
        stmt = stmt.where(IssuedCoupon.issued_coupon_no > page.since_no).order_by(IssuedCoupon.issued_coupon_no)
    elif usable:
        stmt = stmt.order_by(Coupon.ends_at, IssuedCoupon.issued_coupon_no).offset(page.offset)
    else:
        stmt = stmt.order_by(IssuedCoupon.issued_coupon_no.desc()).offset(page.offset)
    rows = (await session.execute(stmt.limit(page.limit))).all()
    return [member_out(copy, coupon, now) for copy, coupon in rows]


# ---- for order sheets and orders (the interface in the issue's contract) ---------------------------


async def usable_coupons(session: AsyncSession, member_no: int) -> list[tuple[IssuedCoupon, Coupon]]:
    """The member's copies usable now (unused, within the period, coupon ACTIVE), soonest ending first."""
    stmt = _mine(member_no).where(*_usable_now(utcnow())).order_by(Coupon.ends_at, IssuedCoupon.issued_coupon_no)
    return [(copy, coupon) for copy, coupon in (await session.execute(stmt)).all()]


async def coupons_for_use(
    session: AsyncSession, member_no: int, issued_coupon_nos: list[int]
) -> list[tuple[IssuedCoupon, Coupon]]:
    """The member's copies ``issued_coupon_nos``, in that order, each usable now; otherwise InvalidInput
    (field ``coupons``). Another member's copy is answered like a copy that does not exist."""
    if len(set(issued_coupon_nos)) != len(issued_coupon_nos):
        raise InvalidInput("a coupon is listed twice; each coupon can be used once", field="coupons")
    if not issued_coupon_nos:
        return []
    rows = (await session.execute(_mine(member_no).where(IssuedCoupon.issued_coupon_no.in_(issued_coupon_nos)))).all()
    found = {copy.issued_coupon_no: (copy, coupon) for copy, coupon in rows}
    now = utcnow()
    out = []
    for no in issued_coupon_nos:
        pair = found.get(no)
        if pair is None:
            raise InvalidInput(f"coupon {no} is not one of your usable coupons", field="coupons",
                               issued_coupon_no=no, reason="NOT_FOUND")  # fmt: skip
        reason = unusable_reason(*pair, now)
        if reason is not None:
            text = {"USED": "has been used", "STOPPED": "has been stopped by the shop",
                    "NOT_STARTED": "cannot be used before its starts_at", "EXPIRED": "has expired"}[reason]  # fmt: skip
            raise InvalidInput(f"coupon {no} is not one of your usable coupons: it {text}", field="coupons",
                               issued_coupon_no=no, reason=reason)  # fmt: skip
        out.append(pair)
    return out


def to_rule(issued: IssuedCoupon, coupon: Coupon) -> pricing.CouponRule:
    """The copy as the pricing function sees it; its key is ``issued_coupon_no``."""
    percent = coupon.discount_type == "PERCENT"
    return pricing.CouponRule(
        key=issued.issued_coupon_no,
        kind=coupon.kind,  # type: ignore[arg-type]
        discount_type=coupon.discount_type,  # type: ignore[arg-type]
        value=coupon.discount_rate if percent else coupon.discount_amount,
        max_discount=coupon.max_discount if percent else None,
        min_order_amount=coupon.min_order_amount,
        target_product_nos=frozenset(coupon.target_product_nos or ()),
        target_category_nos=frozenset(coupon.target_category_nos or ()),
        target_option_values=frozenset((o["name"], o["value"]) for o in coupon.target_option_values or ()),
    )


async def _copy_and_coupon(session: AsyncSession, issued_coupon_no: int) -> tuple[IssuedCoupon, Coupon] | None:
    stmt = (select(IssuedCoupon, Coupon).join(Coupon, Coupon.coupon_no == IssuedCoupon.coupon_no)
            .where(IssuedCoupon.issued_coupon_no == issued_coupon_no)
            .execution_options(populate_existing=True))  # fmt: skip
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def use(session: AsyncSession, issued_coupon_no: int, order_id: str) -> IssuedCoupon:
    """Mark the copy used by ``order_id``: one conditional UPDATE ``WHERE used_at IS NULL``. A copy used
    meanwhile (two orders at once) is a 409 Conflict; a copy that does not exist, a 404."""
    result = await session.execute(
        update(IssuedCoupon)
        .where(IssuedCoupon.issued_coupon_no == issued_coupon_no, IssuedCoupon.used_at.is_(None))
        .values(used_at=utcnow(), used_order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    pair = await _copy_and_coupon(session, issued_coupon_no)
    if pair is None:
        raise NotFound(f"No issued coupon {issued_coupon_no} in this mall",
                       more_info={"issued_coupon_no": issued_coupon_no})  # fmt: skip
    if not result.rowcount:
        raise Conflict(f"Coupon {issued_coupon_no} has already been used by another order",
                       more_info={"field": "coupons", "issued_coupon_no": issued_coupon_no,
                                  "reason": "USED"})  # fmt: skip
    await events.used(session, *pair)
    return pair[0]


async def restore(session: AsyncSession, issued_coupon_no: int, *, order_id: str | None = None) -> bool:
    """Give a used copy back (its order was cancelled): ``used_at`` and ``used_order_id`` back to NULL.

    With ``order_id``, only when that order used it (a late restore never frees a copy a newer order holds).
    False when there was nothing to restore; the copy is usable again only while its coupon is."""
    pair = await _copy_and_coupon(session, issued_coupon_no)
    if pair is None or pair[0].used_order_id is None or order_id not in (None, pair[0].used_order_id):
        return False
    used_by = pair[0].used_order_id
    result = await session.execute(
        update(IssuedCoupon)
        .where(IssuedCoupon.issued_coupon_no == issued_coupon_no, IssuedCoupon.used_at.is_not(None),
               IssuedCoupon.used_order_id == used_by)
        .values(used_at=None, used_order_id=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if not result.rowcount:
        return False
    pair = await _copy_and_coupon(session, issued_coupon_no)
    assert pair is not None
    await events.restored(session, *pair, used_by)
    return True


# ---- rendering -----------------------------------------------------------------------------------


def _benefit(c: Coupon) -> dict[str, Any]:
    percent = c.discount_type == "PERCENT"
    return {
        "coupon_no": c.coupon_no, "name": c.name, "kind": c.kind, "discount_type": c.discount_type,
        "discount_amount": None if percent else c.discount_amount,
        "discount_rate": c.discount_rate if percent else None,
        "max_discount": c.max_discount if percent else None,
        "min_order_amount": c.min_order_amount,
        "target_product_nos": list(c.target_product_nos or ()),
        "target_category_nos": list(c.target_category_nos or ()),
        "target_option_values": [OptionValueOut(**o) for o in c.target_option_values or ()],
        "starts_at": c.starts_at, "ends_at": c.ends_at,
    }  # fmt: skip


def admin_out(c: Coupon, used_count: int) -> AdminCouponOut:
    return AdminCouponOut(**_benefit(c), issue_type=c.issue_type, status=c.status, max_issue_count=c.max_issue_count,
                          issued_count=c.issued_count, used_count=used_count, created_date=c.created_at,
                          updated_date=c.updated_at)  # fmt: skip


def shop_out(c: Coupon, downloaded: bool) -> ShopCouponOut:
    remaining = None if c.max_issue_count is None else max(c.max_issue_count - c.issued_count, 0)
    return ShopCouponOut(**_benefit(c), remaining=remaining, downloaded=downloaded)


def member_out(copy: IssuedCoupon, c: Coupon, now: datetime) -> MemberCouponOut:
    reason = unusable_reason(copy, c, now)
    return MemberCouponOut(**_benefit(c), issued_coupon_no=copy.issued_coupon_no, issued_at=copy.issued_at,
                           used_at=copy.used_at, used_order_id=copy.used_order_id, usable=reason is None,
                           unusable_reason=reason)  # fmt: skip


def issued_out(copy: IssuedCoupon) -> IssuedCouponOut:
    return IssuedCouponOut(issued_coupon_no=copy.issued_coupon_no, coupon_no=copy.coupon_no,
                           member_no=copy.member_no, issued_at=copy.issued_at, used_at=copy.used_at,
                           used_order_id=copy.used_order_id)  # fmt: skip
