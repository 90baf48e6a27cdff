"""Order sheets: what a member is about to order, its coupons, mileage and address, and the price of it all.

- ``create_sheet``: from cart items or direct items, with the campaign ``tracking_key`` and ``channel_type``;
  every item must be orderable at that moment. The sheet's number is random (20 letters and digits) and the
  sheet expires ``EXPIRES`` (24 hours) after it was made.
- ``quote``: re-reads everything (products, variants, stock, the member's group, coupons, mileage balance,
  address) and prices the sheet with ``orders.pricing`` under the sheet's last ``choices``. Nothing is raised for
  what went stale since: it is listed in ``Quote.invalid_reasons`` (empty when the sheet can be ordered).
- ``calculate``: the same with new choices; a bad choice (a coupon not the member's or that does not apply,
  more mileage than owned or than left to pay, an unknown address) is a 422 naming its field and nothing is
  stored; otherwise the choices, the priced breakdown and the amount to pay are stored on the sheet.

Line keys in pricing are the variant numbers (one line per variant on a sheet). Immediate discounts are 0: the
catalog has no such price yet. Every line is in the shipping group ``default`` (one fee per sheet).
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.customers import service as customers
from openmall.customers.models import Address, Member
from openmall.kernel.db import utcnow
from openmall.kernel.errors import ApiError, Conflict, InvalidInput, NotFound
from openmall.orders import cart, pricing, shipping
from openmall.orders.models import OrderSheet
from openmall.orders.schemas import (
    AddressIn,
    AddressOut,
    AppliedCouponOut,
    ChoicesOut,
    MemberGroupOut,
    MileageOut,
    OptionValueOut,
    OrderSheetOut,
    PriceOut,
    ProductCouponIn,
    SheetItemOut,
    ShippingGroupOut,
    ShippingOut,
    UsableCouponOut,
    UsableCouponsOut,
)

EXPIRES = timedelta(hours=24)
MAX_ITEMS = 100
SHEET_NO_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits
TRACKING_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")  # printable ASCII, no spaces
CHANNEL_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
ZERO = Decimal("0")
OPEN, ORDERED = "OPEN", "ORDERED"
REJECTIONS = {
    pricing.Rejection.NO_MATCHING_ITEM: "no item on the sheet is one it applies to",
    pricing.Rejection.MIN_ORDER_AMOUNT_NOT_MET: "the order does not reach its minimum amount",
    pricing.Rejection.NOTHING_TO_DISCOUNT: "there is nothing left for it to take off",
}


# ---- making and finding sheets ----------------------------------------------------------------------------


def new_sheet_no() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(SHEET_NO_LENGTH))


def check_tracking_key(query_value: str | None, body_value: str | None) -> str | None:
    """The campaign's ``trackingKey``, sent as the query parameter (as the seed names it) or in the body."""
    values = {v for v in (query_value, body_value) if v not in (None, "")}
    if len(values) > 1:
        raise InvalidInput("trackingKey is sent twice with two values (query and body); send it once",
                           field="trackingKey")  # fmt: skip
    if not values:
        return None
    value = values.pop()
    if not TRACKING_KEY.match(value):
        raise InvalidInput("trackingKey must be 1 to 100 printable ASCII characters without spaces",
                           field="trackingKey")  # fmt: skip
    return value


def check_channel_type(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not CHANNEL_TYPE.match(value):
        raise InvalidInput("channel_type must be 1 to 30 characters of A-Z, a-z, 0-9, '_' and '-'",
                           field="channel_type")  # fmt: skip
    return value


async def create_sheet(
    session: AsyncSession,
    member: Member,
    *,
    cart_item_nos: Sequence[int] | None = None,
    items: Sequence[tuple[int, int]] | None = None,
    tracking_key: str | None = None,
    channel_type: str | None = None,
) -> OrderSheet:
    """A new sheet from the member's cart lines ``cart_item_nos`` or from direct ``items`` (variant_no, quantity).

    Unknown cart items or variants (another mall's too) are a 404; an item that cannot be ordered now (sold out,
    not enough stock, not on sale) is a 409 that lists them all; nothing is stored then.
    """
    if (cart_item_nos is None) == (items is None):
        raise InvalidInput("Send either cart_item_nos or items (variant_no and quantity), not both",
                           field="cart_item_nos")  # fmt: skip
    entries: list[dict[str, Any]] = []
    if cart_item_nos is not None:
        nos = list(dict.fromkeys(cart_item_nos))
        if not 1 <= len(nos) <= MAX_ITEMS:
            raise InvalidInput(f"cart_item_nos takes 1 to {MAX_ITEMS} cart items", field="cart_item_nos")
        lines = await cart.list_lines(session, cart.Owner(member=member), nos)
        facts = {line.sellable.variant_no: line.sellable for line in lines}
        entries = [{"product_no": ln.item.product_no, "variant_no": ln.item.variant_no,
                    "quantity": ln.item.quantity, "cart_item_no": ln.item.cart_item_no} for ln in lines]  # fmt: skip
    else:
        assert items is not None
        if not 1 <= len(items) <= MAX_ITEMS:
            raise InvalidInput(f"items takes 1 to {MAX_ITEMS} items", field="items")
        variant_nos = [v for v, _ in items]
        if len(set(variant_nos)) != len(variant_nos):
            raise InvalidInput("Each variant_no appears once in items; add the quantities up", field="items")
        for _, quantity in items:
            cart._check_quantity(quantity)  # noqa: SLF001 (one rule for cart and sheet quantities)
        facts = await cart.sellables(session, variant_nos)
        missing = [v for v in variant_nos if v not in facts or not facts[v].displayed]
        if missing:
            raise NotFound(f"No product option {', '.join(map(str, missing))} in this shop",
                           more_info={"variant_nos": missing})  # fmt: skip
        entries = [{"product_no": facts[v].product_no, "variant_no": v, "quantity": q, "cart_item_no": None}
                   for v, q in items]  # fmt: skip
    problems = [
        {"variant_no": e["variant_no"], "reason": reason, "message": _line_message(facts[e["variant_no"]], reason)}
        for e in entries
        if (reason := facts[e["variant_no"]].problem(e["quantity"])) is not None
    ]
    if problems:
        raise Conflict("Some items cannot be ordered now: " + "; ".join(p["message"] for p in problems),
                       more_info={"items": problems})  # fmt: skip
    sheet = OrderSheet(order_sheet_no=new_sheet_no(), member_no=member.member_no, items=entries,
                       tracking_key=tracking_key, channel_type=channel_type, choices={}, priced={},
                       status=OPEN, expires_at=utcnow() + EXPIRES)  # fmt: skip
    session.add(sheet)
    await session.flush()
    return sheet


async def get_sheet(session: AsyncSession, member_no: int, order_sheet_no: str) -> OrderSheet:
    """The member's sheet; 404 when there is none of that number, or it is another member's."""
    sheet = await session.scalar(
        select(OrderSheet).where(OrderSheet.order_sheet_no == order_sheet_no, OrderSheet.member_no == member_no)
    )
    if sheet is None:
        raise sheet_not_found(order_sheet_no)
    return sheet


def sheet_not_found(order_sheet_no: str) -> NotFound:
    return NotFound(f"No order sheet {order_sheet_no!r} of yours", more_info={"order_sheet_no": order_sheet_no})


def is_expired(sheet: OrderSheet) -> bool:
    return sheet.expires_at <= utcnow()


# ---- choices and quotes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """What the buyer chose at ``calculate``: stored on the sheet as JSON (``as_json``)."""

    product_coupons: tuple[tuple[int, int], ...] = ()  # (variant_no, issued_coupon_no)
    cart_coupon_no: int | None = None
    shipping_coupon_no: int | None = None
    mileage: Decimal = ZERO
    shipping_address: dict[str, str] | None = None  # receiver_name, receiver_phone, zip_code, address1, address2
    address_no: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "product_coupons": [{"variant_no": v, "issued_coupon_no": c} for v, c in self.product_coupons],
            "cart_coupon_no": self.cart_coupon_no,
            "shipping_coupon_no": self.shipping_coupon_no,
            "mileage": str(self.mileage),
            "shipping_address": self.shipping_address,
            "address_no": self.address_no,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Choices:
        raw = raw or {}
        return cls(
            product_coupons=tuple((int(p["variant_no"]), int(p["issued_coupon_no"]))
                                  for p in raw.get("product_coupons") or ()),
            cart_coupon_no=raw.get("cart_coupon_no"),
            shipping_coupon_no=raw.get("shipping_coupon_no"),
            mileage=Decimal(raw.get("mileage") or "0"),
            shipping_address=raw.get("shipping_address"),
            address_no=raw.get("address_no"),
        )  # fmt: skip

    def coupon_nos(self) -> list[int]:
        nos = [c for _, c in self.product_coupons]
        return nos + [n for n in (self.cart_coupon_no, self.shipping_coupon_no) if n is not None]


@dataclass(frozen=True)
class QuoteLine:
    """A sheet item as of now. Unit prices are None for an item whose product or variant is gone."""

    product_no: int
    variant_no: int  # also the line's key in ``Quote.priced``
    product_name: str
    option_text: str
    option_values: tuple[tuple[str, str], ...]
    quantity: int
    shipping_group: str
    cart_item_no: int | None
    sale_price: Decimal | None
    immediate_discount: Decimal | None
    option_price: Decimal | None
    still_valid: bool
    reason: str | None  # a code of ``cart.REASONS``
    reason_message: str | None


class QuoteCoupon(NamedTuple):
    issued_coupon_no: int
    kind: str  # PRODUCT, CART, SHIPPING
    line_key: int | None  # the variant_no of a product coupon's line
    discount: Decimal


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


@dataclass
class Quote:
    sheet: OrderSheet
    priced: pricing.Priced | None  # None when no item can be priced (every one is gone)
    lines: list[QuoteLine]
    coupons: list[QuoteCoupon]
    mileage: Decimal
    address: dict[str, Any] | None  # receiver_name, receiver_phone, zip_code, address1, address2, address_no, remote
    amount_to_pay: Decimal
    invalid_reasons: list[str]
    choices: Choices = field(default_factory=Choices)
    problems: list[Problem] = field(default_factory=list)  # the choices that failed (calculate refuses them)
    shipping: shipping.MallShipping = shipping.DEFAULT
    group_name: str | None = None
    group_discount_rate: Decimal | None = None
    price_lines: list[pricing.Line] = field(default_factory=list)  # the lines priced (the items that still exist)

    @property
    def orderable(self) -> bool:
        return not self.invalid_reasons


def _line_message(s: cart.Sellable | None, reason: str, name: str = "") -> str:
    label = f"{s.product_name} ({s.option_text or 'no options'})" if s is not None else name
    return f"{label}: {cart.REASONS[reason]}"


async def quote(session: AsyncSession, member: Member, sheet: OrderSheet, choices: Choices | None = None, *,
                list_coupons: bool = True) -> Quote:  # fmt: skip
    """Price the sheet as of now under ``choices`` (default: the sheet's last ones). Never raises for stale data:
    what keeps the sheet from being ordered is in ``invalid_reasons``. ``list_coupons`` False: the caller will not
    list the coupons usable on the sheet (payment), so the items' categories (which only coupons target) are read
    only when a coupon is chosen."""
    choices = Choices.from_json(sheet.choices) if choices is None else choices
    problems: list[Problem] = []
    categories = list_coupons or bool(choices.coupon_nos())
    facts = await cart.sellables(session, (e["variant_no"] for e in sheet.items), categories=categories)
    lines: list[QuoteLine] = []
    price_lines: list[pricing.Line] = []
    for entry in sheet.items:
        variant_no, quantity = entry["variant_no"], entry["quantity"]
        s = facts.get(variant_no)
        reason = cart.DELETED if s is None else s.problem(quantity)
        lines.append(QuoteLine(
            product_no=entry["product_no"], variant_no=variant_no,
            product_name=s.product_name if s else "", option_text=s.option_text if s else "",
            option_values=s.option_values if s else (), quantity=quantity, shipping_group="default",
            cart_item_no=entry.get("cart_item_no"), sale_price=s.sale_price if s else None,
            immediate_discount=s.immediate_discount if s else None, option_price=s.option_price if s else None,
            still_valid=reason is None, reason=reason,
            reason_message=cart.REASONS[reason] if reason else None,
        ))  # fmt: skip
        if s is not None and reason not in (cart.PRICE_NOT_WHOLE,):
            price_lines.append(s.line(variant_no, quantity))

    group, discount = await cart.group_discount(session, member)
    rules = await _coupon_rules(session, member, choices, {ln.variant_no for ln in price_lines}, problems)
    address = await _address(session, member, choices, problems)
    policy = await shipping.get_policy(session)
    if address is not None:
        address["remote"] = policy.is_remote(address.get("zip_code"))
    mileage = await _mileage(session, member, choices, problems)

    priced = None
    if price_lines:
        product_rules = {v: rules[c] for v, c in choices.product_coupons if c in rules}
        cart_rule = rules.get(choices.cart_coupon_no) if choices.cart_coupon_no is not None else None
        ship_rule = rules.get(choices.shipping_coupon_no) if choices.shipping_coupon_no is not None else None

        def run(miles: Decimal) -> pricing.Priced:
            return pricing.price(price_lines, shipping=policy.rule(), group=discount, product_coupons=product_rules,
                                 cart_coupon=cart_rule, shipping_coupon=ship_rule,
                                 remote_area=bool(address and address["remote"]), mileage=miles)  # fmt: skip

        try:
            priced = run(mileage)
        except pricing.PricingError as exc:
            problems.append(Problem("mileage", f"Cannot use {mileage} mileage: {exc}"))
            mileage, priced = ZERO, run(ZERO)
        for key, why in priced.rejected_coupons.items():
            problems.append(Problem("coupons", f"Coupon {key} does not apply: {REJECTIONS[why]}"))
    elif mileage:
        problems.append(Problem("mileage", "No item on the sheet can be priced, so no mileage can be used"))
        mileage = ZERO

    coupons: list[QuoteCoupon] = []
    if priced is not None:
        for p in priced.lines:
            if p.product_coupon_key is not None:
                coupons.append(QuoteCoupon(int(p.product_coupon_key), "PRODUCT", int(p.key), p.product_coupon_discount))
        if priced.cart_coupon_discount and choices.cart_coupon_no is not None:
            coupons.append(QuoteCoupon(choices.cart_coupon_no, "CART", None, priced.cart_coupon_discount))
        if priced.shipping_coupon_discount and choices.shipping_coupon_no is not None:
            coupons.append(QuoteCoupon(choices.shipping_coupon_no, "SHIPPING", None, priced.shipping_coupon_discount))

    invalid = [_line_message(facts.get(ln.variant_no), ln.reason, f"Variant {ln.variant_no}")
               for ln in lines if ln.reason is not None]  # fmt: skip
    invalid += [p.message for p in problems]
    if address is None and not any(p.field in ("address_no", "shipping_address") for p in problems):
        invalid.append("No shipping address: calculate with shipping_address or address_no, or save a default one")
    if sheet.status != OPEN:
        invalid.append(f"The order sheet was ordered already (order {sheet.order_id})")
    elif is_expired(sheet):
        invalid.append("The order sheet expired; make a new one")
    return Quote(sheet=sheet, priced=priced, lines=lines, coupons=coupons, mileage=mileage, address=address,
                 amount_to_pay=priced.amount_to_pay if priced is not None else ZERO, invalid_reasons=invalid,
                 choices=choices, problems=problems, shipping=policy,
                 group_name=group.name if group is not None else None,
                 group_discount_rate=group.discount_rate if group is not None else None,
                 price_lines=price_lines)  # fmt: skip


async def _coupon_rules(
    session: AsyncSession, member: Member, choices: Choices, variant_nos: set[int], problems: list[Problem]
) -> dict[int, pricing.CouponRule]:
    """The chosen coupons as pricing rules, keyed by issued coupon number; what is wrong goes to ``problems``."""
    nos = choices.coupon_nos()
    if not nos:
        return {}
    if len(set(nos)) != len(nos):
        problems.append(Problem("coupons", "A coupon can be used once on a sheet; one is chosen twice"))
        return {}
    lines_with_coupon = [v for v, _ in choices.product_coupons]
    if len(set(lines_with_coupon)) != len(lines_with_coupon):
        problems.append(Problem("product_coupons", "One product coupon per item: an item has two"))
        return {}
    if stray := [v for v in lines_with_coupon if v not in variant_nos]:
        problems.append(Problem("product_coupons", f"Variant {stray[0]} is not an item of this sheet"))
        return {}
    from openmall.promotions import service as promotions  # import here: promotions may price order sheets

    try:
        found = await promotions.coupons_for_use(session, member.member_no, nos)
    except ApiError as exc:
        problems.append(Problem(str(exc.more_info.get("field") or "coupons"), exc.message))
        return {}
    rules = {issued.issued_coupon_no: promotions.to_rule(issued, coupon) for issued, coupon in found}
    wanted = {c: "PRODUCT" for _, c in choices.product_coupons}
    if choices.cart_coupon_no is not None:
        wanted[choices.cart_coupon_no] = "CART"
    if choices.shipping_coupon_no is not None:
        wanted[choices.shipping_coupon_no] = "SHIPPING"
    fields = {"PRODUCT": "product_coupons", "CART": "cart_coupon_no", "SHIPPING": "shipping_coupon_no"}
    for no, kind in wanted.items():
        rule = rules.get(no)
        if rule is None:
            problems.append(Problem(fields[kind], f"Coupon {no} is not one of your usable coupons"))
            return {}
        if rule.kind != kind:
            problems.append(Problem(fields[kind], f"Coupon {no} is a {rule.kind.lower()} coupon, "
                                                  f"not a {kind.lower()} coupon"))  # fmt: skip
            return {}
    return rules


def _address_of(row: Address) -> dict[str, Any]:
    return {"address_no": row.address_no, "receiver_name": row.receiver_name, "receiver_phone": row.receiver_phone,
            "zip_code": row.zip_code, "address1": row.address1, "address2": row.address2}  # fmt: skip


async def default_address(session: AsyncSession, member_no: int) -> dict[str, Any] | None:
    row = await customers.default_address(session, member_no)
    return _address_of(row) if row is not None else None


async def _address(
    session: AsyncSession, member: Member, choices: Choices, problems: list[Problem]
) -> dict[str, Any] | None:
    if choices.shipping_address is not None:
        return {"address_no": None, **choices.shipping_address}
    if choices.address_no is not None:
        row = await customers.find_address(session, member.member_no, choices.address_no)
        if row is None:
            problems.append(Problem("address_no", f"No address {choices.address_no} of yours"))
            return None
        return _address_of(row)
    return await default_address(session, member.member_no)


async def mileage_balance(session: AsyncSession, member_no: int) -> Decimal:
    from openmall.customers import mileage

    return await mileage.balance(session, member_no)


async def _mileage(session: AsyncSession, member: Member, choices: Choices, problems: list[Problem]) -> Decimal:
    asked = choices.mileage
    if not asked:
        return ZERO
    if asked < 0 or asked != asked.to_integral_value():
        problems.append(Problem("mileage", f"mileage is a whole, non-negative amount; got {asked}"))
        return ZERO
    owned = await mileage_balance(session, member.member_no)
    if asked > owned:
        problems.append(Problem("mileage", f"You have {owned} mileage; {asked} cannot be used"))
        return ZERO
    return asked


async def calculate(session: AsyncSession, member: Member, sheet: OrderSheet, choices: Choices) -> Quote:
    """Price the sheet under new ``choices`` and store them with the result. A choice that fails is a 422 naming
    its field (``more_info.problems`` lists every one) and nothing is stored; an ordered or expired sheet is a 409."""
    if sheet.status != OPEN:
        raise Conflict(f"Order sheet {sheet.order_sheet_no} was ordered already (order {sheet.order_id})",
                       more_info={"order_sheet_no": sheet.order_sheet_no, "order_id": sheet.order_id})  # fmt: skip
    if is_expired(sheet):
        raise Conflict(f"Order sheet {sheet.order_sheet_no} expired; make a new one",
                       more_info={"order_sheet_no": sheet.order_sheet_no})  # fmt: skip
    result = await quote(session, member, sheet, choices)
    if result.problems:
        first = result.problems[0]
        raise InvalidInput(first.message, field=first.field,
                           problems=[{"field": p.field, "message": p.message} for p in result.problems])  # fmt: skip
    sheet.choices = choices.as_json()
    sheet.priced = priced_json(result)
    sheet.amount_to_pay = result.amount_to_pay if result.priced is not None else None
    await session.flush()
    return result


# ---- the breakdown as data ---------------------------------------------------------------------------------


def priced_json(q: Quote) -> dict[str, Any]:
    """The breakdown as stored on the sheet: the calculation as ``pricing.to_json`` stores it, and what the
    buyer chose with it."""
    p = q.priced
    if p is None:
        return {}
    return {
        **pricing.to_json(p),
        "remote_area": bool(q.address and q.address.get("remote")),
        "coupons": [{"issued_coupon_no": c.issued_coupon_no, "kind": c.kind, "variant_no": c.line_key,
                     "discount": str(c.discount.quantize(Decimal("0.01")))} for c in q.coupons],
        "group_discount_rate": str(q.group_discount_rate.quantize(Decimal("0.01")))
        if q.group_discount_rate is not None else None,
    }  # fmt: skip


# ---- the sheet as the Shop API shows it ---------------------------------------------------------------------


async def usable_coupons(
    session: AsyncSession, member: Member, lines: Sequence[pricing.Line]
) -> dict[str, list[UsableCouponOut]]:
    """The member's coupons usable now, by kind, each with the sheet items it can apply to."""
    from openmall.promotions import service as promotions

    out: dict[str, list[UsableCouponOut]] = {"product": [], "cart": [], "shipping": []}
    for issued, coupon in await promotions.usable_coupons(session, member.member_no):
        rule = promotions.to_rule(issued, coupon)
        out[coupon.kind.lower()].append(UsableCouponOut(
            issued_coupon_no=issued.issued_coupon_no, coupon_no=coupon.coupon_no, name=coupon.name, kind=coupon.kind,
            discount_type=coupon.discount_type, discount_amount=coupon.discount_amount,
            discount_rate=coupon.discount_rate, max_discount=coupon.max_discount,
            min_order_amount=coupon.min_order_amount, ends_at=coupon.ends_at,
            applicable_variant_nos=[line.variant_no for line in lines if rule.matches(line)],
        ))  # fmt: skip
    return out


def _amounts(p: pricing.PricedLine | None, line: QuoteLine) -> dict[str, Any]:
    if p is None:
        return dict.fromkeys(("sale_amount", "immediate_discount_amount", "option_amount", "additional_discount",
                              "product_coupon_discount", "product_coupon_no", "basis_amount", "cart_coupon_share",
                              "paid_amount"))  # fmt: skip
    return {"sale_amount": p.sale_amount, "immediate_discount_amount": p.immediate_discount,
            "option_amount": p.option_amount, "additional_discount": p.additional_discount,
            "product_coupon_discount": p.product_coupon_discount,
            "product_coupon_no": int(p.product_coupon_key) if p.product_coupon_key is not None else None,
            "basis_amount": p.basis_amount, "cart_coupon_share": p.cart_coupon_share,
            "paid_amount": p.paid_amount}  # fmt: skip


def _price(q: Quote) -> PriceOut | None:
    p = q.priced
    if p is None:
        return None

    def total(name: str) -> Decimal:
        return sum((getattr(x, name) for x in p.lines), ZERO)

    remote = bool(q.address and q.address.get("remote"))
    return PriceOut(
        sale_amount=total("sale_amount"), immediate_discount=total("immediate_discount"),
        option_amount=total("option_amount"), additional_discount=total("additional_discount"),
        product_coupon_discount=total("product_coupon_discount"), product_amount=p.product_amount,
        cart_coupon_discount=p.cart_coupon_discount,
        shipping=ShippingOut(base_fee=q.shipping.base_fee, free_over=q.shipping.free_over,
                             remote_surcharge=q.shipping.remote_surcharge, remote=remote, shipping_fee=p.shipping_fee),
        shipping_fee=p.shipping_fee, shipping_coupon_discount=p.shipping_coupon_discount, mileage=p.mileage,
        amount_to_pay=p.amount_to_pay,
    )  # fmt: skip


async def view(session: AsyncSession, member: Member, q: Quote) -> OrderSheetOut:
    """The sheet with its items by shipping group, validity, price, usable coupons, mileage and addresses."""
    sheet = q.sheet
    by_key = {int(p.key): p for p in q.priced.lines} if q.priced is not None else {}
    groups: dict[str, list[SheetItemOut]] = {}
    for line in q.lines:
        groups.setdefault(line.shipping_group, []).append(SheetItemOut(
            variant_no=line.variant_no, product_no=line.product_no, product_name=line.product_name,
            option_text=line.option_text, option_values=[OptionValueOut(name=n, value=v) for n, v in
                                                         line.option_values],
            quantity=line.quantity, cart_item_no=line.cart_item_no, still_valid=line.still_valid, reason=line.reason,
            reason_message=line.reason_message, sale_price=line.sale_price,
            immediate_discount=line.immediate_discount, option_price=line.option_price,
            **_amounts(by_key.get(line.variant_no), line),
        ))  # fmt: skip
    fees = q.priced.shipping_fees if q.priced is not None else {}
    balance = await mileage_balance(session, member.member_no)
    default = await default_address(session, member.member_no)
    choices = q.choices
    return OrderSheetOut(
        order_sheet_no=sheet.order_sheet_no, status=sheet.status, order_id=sheet.order_id,
        tracking_key=sheet.tracking_key, channel_type=sheet.channel_type, created_at=sheet.created_at,
        expires_at=sheet.expires_at, expired=is_expired(sheet), orderable=q.orderable,
        invalid_reasons=q.invalid_reasons,
        shipping_groups=[ShippingGroupOut(shipping_group=g, shipping_fee=fees.get(g), items=items)
                         for g, items in groups.items()],
        price=_price(q),
        coupons=[AppliedCouponOut(issued_coupon_no=c.issued_coupon_no, kind=c.kind, variant_no=c.line_key,
                                  discount=c.discount) for c in q.coupons],
        usable_coupons=UsableCouponsOut(**await usable_coupons(session, member, q.price_lines)),
        member_group=MemberGroupOut(name=q.group_name, discount_rate=q.group_discount_rate or ZERO)
        if q.group_name is not None else None,
        mileage=MileageOut(balance=balance, used=q.mileage),
        address=AddressOut(**q.address) if q.address is not None else None,
        default_address=AddressOut(**default) if default is not None else None,
        choices=ChoicesOut(
            product_coupons=[ProductCouponIn(variant_no=v, issued_coupon_no=c) for v, c in choices.product_coupons],
            cart_coupon_no=choices.cart_coupon_no, shipping_coupon_no=choices.shipping_coupon_no,
            mileage=choices.mileage, address_no=choices.address_no,
            shipping_address=AddressIn(**choices.shipping_address) if choices.shipping_address else None,
        ),
    )  # fmt: skip
