"""Prices an order sheet: line discounts, coupons, shipping, mileage, and partial refunds. Pure: no database, no HTTP.

Money is ``Decimal`` in whole won (KRW); floats are refused. **Rounding, the one rule:** every amount computed from a
percentage or a pro-rata split is rounded DOWN to whole won (``ROUNDING`` to ``WON``), so a discount never exceeds its
exact value and nobody is charged or refunded a fractional won. (A coupon spread over lines or shipping groups gives the
won its rounded-down parts leave over to the largest part, so the parts sum exactly to the coupon.)

Order of operations, per line (unit amounts times quantity):

1. sale amount = sale_price × qty; immediate discount = immediate_discount × qty; option amount = option_price × qty;
2. additional (member group) discount = rate % of (sale − immediate + option);
3. product coupon discount on what is left (sale − immediate + option − additional): FIXED is an amount off the
   *line total* (not per unit); PERCENT is a % of it; capped at ``max_discount`` and at what is left. It applies only
   if the line matches the coupon's targets and what is left is at least ``min_order_amount``;
4. **basis amount** = sale − immediate + option − additional − product coupon.

Then for the order: product amount = Σ basis; the cart coupon (min order checked against the product amount) takes
FIXED or PERCENT of the *matching* lines' basis sum, capped, and is spread over those lines as ``cart_coupon_share``;
shipping is charged per shipping group: ``base_fee`` unless that group's Σ basis (after product discounts, *before*
the cart coupon) is ≥ ``free_over``, plus ``remote_surcharge`` if the address is remote (never waived); the shipping
coupon takes at most the total shipping fee; mileage is used last and may not exceed what remains (else
``PricingError``: the caller decides, nothing is capped silently). amount to pay = product amount − cart coupon +
shipping fee − shipping coupon − mileage.

Coupons: a PRODUCT coupon's min order is checked against the amount it discounts (the line after the additional
discount); CART and SHIPPING coupons check the product amount and need at least one line matching their targets. A
coupon that does not apply (or would take 0 won) is left out and named in ``rejected_coupons`` with a ``Rejection``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any, Literal

WON = Decimal("1")  # amounts are whole won
ROUNDING = ROUND_DOWN  # the one rounding rule: computed amounts go down to whole won
ZERO = Decimal("0")


class PricingError(ValueError):
    """The order cannot be priced as asked (e.g. more mileage than there is left to pay)."""


class Rejection(StrEnum):
    """Why a coupon did not apply."""

    NO_MATCHING_ITEM = "NO_MATCHING_ITEM"  # no line (or not the chosen line) matches the coupon's targets
    MIN_ORDER_AMOUNT_NOT_MET = "MIN_ORDER_AMOUNT_NOT_MET"
    NOTHING_TO_DISCOUNT = "NOTHING_TO_DISCOUNT"  # the discount would be 0 won (nothing left to take it from)


def _whole_won(value: object, name: str, *, minimum: Decimal | None = ZERO) -> Decimal:
    """``value`` checked as a whole-won Decimal (≥ ``minimum``), with exponent 0 ("1000", not "1E+3" or "1000.00")."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, not {value!r}")
    if value != value.to_integral_value():
        raise ValueError(f"{name} must be whole won, not {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, not {value}")
    return value.quantize(WON) + ZERO  # + ZERO turns -0 into 0


def _won(obj: object, name: str, *, minimum: Decimal | None = ZERO) -> None:
    """Check the frozen field ``obj.name`` with ``_whole_won`` and store it normalised."""
    object.__setattr__(obj, name, _whole_won(getattr(obj, name), name, minimum=minimum))


def _rate(value: object, name: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, not {value!r}")
    if not ZERO <= value <= 100:
        raise ValueError(f"{name} must be a percentage in 0..100, not {value}")


def _percent(amount: Decimal, rate: Decimal) -> Decimal:
    return (amount * rate / 100).quantize(WON, rounding=ROUNDING) + ZERO


@dataclass(frozen=True)
class Line:
    """One variant on the order sheet. Unit amounts; ``quantity`` ≥ 1."""

    key: Hashable  # the caller's id for the line (cart item, variant number...)
    product_no: int
    variant_no: int
    quantity: int
    sale_price: Decimal
    immediate_discount: Decimal = ZERO  # unit amount off, 0..sale_price
    option_price: Decimal = ZERO  # unit, may be negative; sale − immediate + option must stay ≥ 0
    category_nos: frozenset[int] = frozenset()
    option_values: frozenset[tuple[str, str]] = frozenset()  # e.g. {("Color", "White")}
    shipping_group: Hashable = "default"  # lines of one group share one shipping fee

    def __post_init__(self) -> None:
        if type(self.quantity) is not int or self.quantity < 1:
            raise ValueError(f"quantity must be an int ≥ 1, not {self.quantity!r}")
        _won(self, "sale_price")
        _won(self, "immediate_discount")
        _won(self, "option_price", minimum=None)
        if self.immediate_discount > self.sale_price:
            raise ValueError("immediate_discount exceeds sale_price")
        if self.sale_price - self.immediate_discount + self.option_price < 0:
            raise ValueError("sale_price - immediate_discount + option_price is negative")


@dataclass(frozen=True)
class GroupDiscount:
    """The member group's additional discount, a percentage of each line after immediate discount and options."""

    rate_percent: Decimal

    def __post_init__(self) -> None:
        _rate(self.rate_percent, "rate_percent")


@dataclass(frozen=True)
class CouponRule:
    """A coupon as it prices. Empty targets match everything; a line matches if (its product is targeted OR one of
    its categories is) AND, when option values are given, it has at least one of them."""

    key: Hashable
    kind: Literal["PRODUCT", "CART", "SHIPPING"]
    discount_type: Literal["FIXED", "PERCENT"]
    value: Decimal  # won for FIXED, percent (0..100) for PERCENT
    max_discount: Decimal | None = None
    min_order_amount: Decimal = ZERO
    target_product_nos: frozenset[int] = frozenset()
    target_category_nos: frozenset[int] = frozenset()
    target_option_values: frozenset[tuple[str, str]] = frozenset()

    def __post_init__(self) -> None:
        if self.kind not in ("PRODUCT", "CART", "SHIPPING") or self.discount_type not in ("FIXED", "PERCENT"):
            raise ValueError(f"unknown coupon kind or discount type: {self.kind!r}, {self.discount_type!r}")
        if self.discount_type == "PERCENT":
            _rate(self.value, "value")
        else:
            _won(self, "value")
        _won(self, "min_order_amount")
        if self.max_discount is not None:
            _won(self, "max_discount")

    def matches(self, line: Line) -> bool:
        products, categories = self.target_product_nos, self.target_category_nos
        item = (not products and not categories) or line.product_no in products or bool(line.category_nos & categories)
        return item and (not self.target_option_values or bool(line.option_values & self.target_option_values))

    def discount(self, base: Decimal) -> Decimal:
        """What the coupon takes off ``base``: never more than ``max_discount`` nor ``base``."""
        amount = self.value if self.discount_type == "FIXED" else _percent(base, self.value)
        return min(amount, base, self.max_discount if self.max_discount is not None else amount)


@dataclass(frozen=True)
class ShippingPolicy:
    base_fee: Decimal
    free_over: Decimal | None = None  # a group's product amount at/above which the base fee is 0; None: never free
    remote_surcharge: Decimal = ZERO  # added for remote addresses, never waived

    def __post_init__(self) -> None:
        for name in ("base_fee", "remote_surcharge") + (("free_over",) if self.free_over is not None else ()):
            _won(self, name)


@dataclass(frozen=True)
class MileagePolicy:
    """Limits on using mileage: at least ``min_use`` when any is used; at most ``max_use_percent`` % (rounded down)
    of the product amount after the cart coupon."""

    min_use: Decimal = ZERO
    max_use_percent: Decimal | None = None

    def __post_init__(self) -> None:
        _won(self, "min_use")
        if self.max_use_percent is not None:
            _rate(self.max_use_percent, "max_use_percent")


@dataclass(frozen=True)
class PricedLine:
    key: Hashable
    shipping_group: Hashable
    quantity: int
    sale_amount: Decimal
    immediate_discount: Decimal
    option_amount: Decimal
    additional_discount: Decimal
    product_coupon_discount: Decimal
    product_coupon_key: Hashable | None  # the product coupon applied, if any
    basis_amount: Decimal  # sale − immediate + option − additional − product coupon
    cart_coupon_share: Decimal  # this line's part of the cart coupon (the parts sum to it); partial refunds use it

    @property
    def paid_amount(self) -> Decimal:
        """What the line costs after the cart coupon: basis − cart coupon share."""
        return self.basis_amount - self.cart_coupon_share


@dataclass(frozen=True)
class Priced:
    lines: tuple[PricedLine, ...]
    product_amount: Decimal  # Σ basis
    cart_coupon_discount: Decimal
    shipping_fee: Decimal  # Σ shipping_fees
    shipping_fees: dict[Hashable, Decimal]  # per shipping group
    shipping_coupon_discount: Decimal
    shipping_coupon_shares: dict[Hashable, Decimal]  # the shipping coupon spread over the groups (refunds use it)
    mileage: Decimal
    amount_to_pay: Decimal
    rejected_coupons: dict[Hashable, Rejection] = field(default_factory=dict)


def _allocate(total: Decimal, weights: Mapping[Hashable, Decimal]) -> dict[Hashable, Decimal]:
    """Split ``total`` (≤ Σ weights) pro rata, each share rounded down; the won left over go to the largest weight
    (first of equals), spilling to the next largest only where a share would exceed its weight. Shares sum to total."""
    whole = sum(weights.values(), ZERO)
    shares = {k: int(total) * int(w) // int(whole) if whole else 0 for k, w in weights.items()}
    rest = int(total) - sum(shares.values())
    for k in sorted(weights, key=lambda k: -weights[k]):
        give = min(rest, int(weights[k]) - shares[k])
        shares[k], rest = shares[k] + give, rest - give
    return {k: Decimal(v) for k, v in shares.items()}


def price(
    lines: Sequence[Line],
    *,
    shipping: ShippingPolicy,
    group: GroupDiscount | None = None,
    product_coupons: Mapping[Hashable, CouponRule] | None = None,
    cart_coupon: CouponRule | None = None,
    shipping_coupon: CouponRule | None = None,
    remote_area: bool = False,
    mileage: Decimal = ZERO,
    mileage_policy: MileagePolicy | None = None,
) -> Priced:
    """Price ``lines`` (see the module docstring for the order of operations). ``product_coupons`` maps a line key
    to the one product coupon used on that line. Raises ``ValueError`` for malformed input, ``PricingError`` when the
    mileage asked for cannot be used."""
    product_coupons = dict(product_coupons or {})
    if not lines or len({line.key for line in lines}) != len(lines):
        raise ValueError("an order needs at least one line, and line keys must be distinct")
    if unknown := set(product_coupons) - {line.key for line in lines}:
        raise ValueError(f"product coupons name lines not on the order: {unknown!r}")
    asked = [(c, "PRODUCT") for c in product_coupons.values()] + [(cart_coupon, "CART"), (shipping_coupon, "SHIPPING")]
    used = [(c, kind) for c, kind in asked if c is not None]
    if misused := [c.key for c, kind in used if c.kind != kind]:
        raise ValueError(f"coupons used as another kind of coupon: {misused!r}")
    if len({c.key for c, _ in used}) != len(used):
        raise ValueError("one coupon cannot be used twice")
    rejected: dict[Hashable, Rejection] = {}
    rate = group.rate_percent if group else ZERO

    priced: list[PricedLine] = []
    for line in lines:
        qty, coupon = line.quantity, product_coupons.get(line.key)
        sale, immediate, option = line.sale_price * qty, line.immediate_discount * qty, line.option_price * qty
        additional = _percent(sale - immediate + option, rate)
        left = sale - immediate + option - additional
        off = _apply(coupon, line_matches=coupon is not None and coupon.matches(line), amount=left, base=left,
                     rejected=rejected)  # fmt: skip
        applied = coupon.key if coupon is not None and off else None
        priced.append(PricedLine(line.key, line.shipping_group, qty, sale, immediate, option, additional, off,
                                 applied, basis_amount=left - off, cart_coupon_share=ZERO))  # fmt: skip
    product_amount = sum((p.basis_amount for p in priced), ZERO)

    matching = {p.key: p.basis_amount for p, line in zip(priced, lines, strict=True)
                if cart_coupon is not None and cart_coupon.matches(line)}  # fmt: skip
    cart_discount = _apply(cart_coupon, line_matches=bool(matching), amount=product_amount,
                           base=sum(matching.values(), ZERO), rejected=rejected)  # fmt: skip
    if cart_discount:
        shares = _allocate(cart_discount, matching)
        priced = [replace(p, cart_coupon_share=shares.get(p.key, ZERO)) for p in priced]

    group_amounts: dict[Hashable, Decimal] = {}
    for p in priced:
        group_amounts[p.shipping_group] = group_amounts.get(p.shipping_group, ZERO) + p.basis_amount
    surcharge = shipping.remote_surcharge if remote_area else ZERO
    free_over = shipping.free_over
    fees = {g: (ZERO if free_over is not None and a >= free_over else shipping.base_fee) + surcharge
            for g, a in group_amounts.items()}  # fmt: skip
    shipping_fee = sum(fees.values(), ZERO)

    ship_matches = shipping_coupon is not None and any(shipping_coupon.matches(line) for line in lines)
    ship_discount = _apply(shipping_coupon, line_matches=ship_matches, amount=product_amount, base=shipping_fee,
                           rejected=rejected)  # fmt: skip

    payable = product_amount - cart_discount + shipping_fee - ship_discount
    mileage = _whole_won(mileage, "mileage")
    if mileage > payable:
        raise PricingError(f"mileage {mileage} exceeds the amount left to pay, {payable}")
    if mileage and mileage_policy is not None:
        if mileage < mileage_policy.min_use:
            raise PricingError(f"mileage {mileage} is below the minimum use of {mileage_policy.min_use}")
        if mileage_policy.max_use_percent is not None:
            cap = _percent(product_amount - cart_discount, mileage_policy.max_use_percent)
            if mileage > cap:
                raise PricingError(f"mileage {mileage} exceeds the most usable on this order, {cap}")
    return Priced(tuple(priced), product_amount, cart_discount, shipping_fee, fees, ship_discount,
                  _allocate(ship_discount, fees), mileage, payable - mileage, rejected)  # fmt: skip


def _apply(coupon: CouponRule | None, *, line_matches: bool, amount: Decimal, base: Decimal,
           rejected: dict[Hashable, Rejection]) -> Decimal:  # fmt: skip
    """The coupon's discount on ``base`` if it applies (a line matches, ``amount`` ≥ its min order, the discount is
    not 0 won); otherwise 0, and the reason is recorded in ``rejected``."""
    if coupon is None:
        return ZERO
    discount = coupon.discount(base) if line_matches and amount >= coupon.min_order_amount else ZERO
    if not discount:
        rejected[coupon.key] = (
            Rejection.NO_MATCHING_ITEM if not line_matches
            else Rejection.MIN_ORDER_AMOUNT_NOT_MET if amount < coupon.min_order_amount
            else Rejection.NOTHING_TO_DISCOUNT
        )  # fmt: skip
    return discount


@dataclass(frozen=True)
class RefundLine:
    key: Hashable
    quantity: int  # cancelled
    amount: Decimal  # refunded: (basis − cart coupon share) × cancelled / quantity, rounded down
    cart_coupon_share: Decimal  # the cart coupon's part kept back: share × cancelled / quantity, rounded down


@dataclass(frozen=True)
class Refund:
    lines: tuple[RefundLine, ...]
    shipping_groups: frozenset[Hashable]  # groups whose shipping is refunded (every line fully cancelled)
    shipping_refund: Decimal  # their fees, less their part of the shipping coupon
    total: Decimal  # Σ line amounts + shipping_refund = cash + mileage
    cash: Decimal
    mileage: Decimal


def refund(priced: Priced, cancelled: Mapping[Hashable, int]) -> Refund:
    """What to give back when ``cancelled`` (line key → quantity) of ``priced`` is cancelled.

    Rules: a line refunds its basis less its cart coupon share, pro rata to the cancelled quantity and rounded down
    (the won rounded away come back with the line's last unit). Shipping is refunded only for a shipping group whose
    every line is cancelled in full, less that group's part of the shipping coupon; the buyer is never charged more
    shipping because what is left falls below ``free_over``. The total is paid back as cash first, up to the amount
    paid, and the rest as mileage restored — so cash ≤ amount_to_pay, mileage ≤ mileage used, and cancelling everything
    returns exactly amount_to_pay in cash and the mileage used.

    Quantities are cumulative: for a second cancellation on the same order, pass everything cancelled so far and
    subtract what was already refunded (the result only grows as more is cancelled).
    """
    by_key = {p.key: p for p in priced.lines}
    for key, qty in cancelled.items():
        if key not in by_key or type(qty) is not int or not 0 <= qty <= by_key[key].quantity:
            raise ValueError(f"cannot cancel {qty!r} of line {key!r}")
    refund_lines = tuple(
        RefundLine(key, qty, _pro_rata(line.paid_amount, qty, line.quantity),
                   _pro_rata(line.cart_coupon_share, qty, line.quantity))
        for key, qty in cancelled.items() if qty
        for line in (by_key[key],)
    )  # fmt: skip
    open_groups = {p.shipping_group for p in priced.lines if cancelled.get(p.key, 0) < p.quantity}
    groups = frozenset(priced.shipping_fees) - open_groups
    shipping = sum((priced.shipping_fees[g] - priced.shipping_coupon_shares.get(g, ZERO) for g in groups), ZERO)
    total = sum((r.amount for r in refund_lines), ZERO) + shipping
    cash = min(total, priced.amount_to_pay)
    return Refund(refund_lines, groups, shipping, total, cash, total - cash)


def _pro_rata(amount: Decimal, part: int, whole: int) -> Decimal:
    return Decimal(int(amount) * part // whole)


# ---- stored ---------------------------------------------------------------------------------------------------


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def to_json(priced: Priced) -> dict[str, Any]:
    """The calculation as stored (on an order sheet as last shown; on an order as paid, which refunds rebuild
    with ``from_json``): money as decimal strings; a line's ``key`` is what the caller keyed it by (an order's
    and a sheet's lines: the variant number)."""
    return {
        "lines": [{"key": int(p.key), "shipping_group": str(p.shipping_group), "quantity": p.quantity,
                   "sale_amount": _text(p.sale_amount), "immediate_discount": _text(p.immediate_discount),
                   "option_amount": _text(p.option_amount), "additional_discount": _text(p.additional_discount),
                   "product_coupon_discount": _text(p.product_coupon_discount),
                   "product_coupon_key": p.product_coupon_key, "basis_amount": _text(p.basis_amount),
                   "cart_coupon_share": _text(p.cart_coupon_share)} for p in priced.lines],
        "product_amount": _text(priced.product_amount),
        "cart_coupon_discount": _text(priced.cart_coupon_discount),
        "shipping_fee": _text(priced.shipping_fee),
        "shipping_fees": {str(g): _text(v) for g, v in priced.shipping_fees.items()},
        "shipping_coupon_discount": _text(priced.shipping_coupon_discount),
        "shipping_coupon_shares": {str(g): _text(v) for g, v in priced.shipping_coupon_shares.items()},
        "mileage": _text(priced.mileage),
        "amount_to_pay": _text(priced.amount_to_pay),
    }  # fmt: skip


def from_json(raw: Mapping[str, Any]) -> Priced:
    """``to_json``'s calculation back (an order's, for its refunds)."""

    def won(value: str) -> Decimal:
        return Decimal(value).quantize(WON)

    lines = tuple(
        PricedLine(key=int(x["key"]), shipping_group=x["shipping_group"], quantity=int(x["quantity"]),
                   sale_amount=won(x["sale_amount"]), immediate_discount=won(x["immediate_discount"]),
                   option_amount=won(x["option_amount"]), additional_discount=won(x["additional_discount"]),
                   product_coupon_discount=won(x["product_coupon_discount"]),
                   product_coupon_key=x.get("product_coupon_key"), basis_amount=won(x["basis_amount"]),
                   cart_coupon_share=won(x["cart_coupon_share"]))
        for x in raw["lines"]
    )  # fmt: skip
    return Priced(
        lines=lines, product_amount=won(raw["product_amount"]), cart_coupon_discount=won(raw["cart_coupon_discount"]),
        shipping_fee=won(raw["shipping_fee"]), shipping_fees={g: won(v) for g, v in raw["shipping_fees"].items()},
        shipping_coupon_discount=won(raw["shipping_coupon_discount"]),
        shipping_coupon_shares={g: won(v) for g, v in raw["shipping_coupon_shares"].items()},
        mileage=won(raw["mileage"]), amount_to_pay=won(raw["amount_to_pay"]),
    )  # fmt: skip
