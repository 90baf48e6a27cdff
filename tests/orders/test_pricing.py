"""orders.pricing: worked examples with real numbers, then properties over random order sheets (Hypothesis)."""

from __future__ import annotations

import json
from dataclasses import fields
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openmall.orders.pricing import (
    CouponRule,
    GroupDiscount,
    Line,
    MileagePolicy,
    Priced,
    PricingError,
    Rejection,
    ShippingPolicy,
    from_json,
    price,
    refund,
    to_json,
)

D = Decimal
WHITE, BLACK = ("Color", "White"), ("Color", "Black")
SHIPPING = ShippingPolicy(base_fee=D(3000), free_over=D(50000), remote_surcharge=D(5000))


def shirt(key: str, color: tuple[str, str], **kw: object) -> Line:
    args: dict = dict(product_no=2, variant_no=20 if color == WHITE else 21, quantity=1, sale_price=D(15000))
    return Line(key=key, option_values=frozenset({color}), **(args | kw))


JACKET = Line(
    key="jacket",
    product_no=1,
    variant_no=10,
    quantity=2,
    sale_price=D(29900),
    immediate_discount=D(2990),
    option_price=D(1500),
    category_nos=frozenset({7}),
)
TEN_PERCENT_UP_TO_2000 = CouponRule("P10", "PRODUCT", "PERCENT", D(10), max_discount=D(2000))


# --- worked examples ---------------------------------------------------------------------------------------------


def test_one_line_immediate_discount_option_group_discount_and_capped_coupon() -> None:
    priced = price(
        [JACKET], shipping=SHIPPING, group=GroupDiscount(D(3)), product_coupons={"jacket": TEN_PERCENT_UP_TO_2000}
    )
    (line,) = priced.lines
    assert line.sale_amount == D(59800)  # 29,900 × 2
    assert line.immediate_discount == D(5980)  # 2,990 × 2
    assert line.option_amount == D(3000)  # 1,500 × 2
    assert line.additional_discount == D(1704)  # 3% of 56,820 = 1,704.6, rounded down
    assert line.product_coupon_discount == D(2000)  # 10% of 55,116 = 5,511.6, capped at 2,000
    assert line.product_coupon_key == "P10"
    assert line.basis_amount == D(53116)
    assert priced.product_amount == D(53116)
    assert priced.shipping_fee == D(0)  # ≥ 50,000
    assert priced.amount_to_pay == D(53116)

    uncapped = CouponRule("P10", "PRODUCT", "PERCENT", D(10), max_discount=D(10000))
    priced = price([JACKET], shipping=SHIPPING, group=GroupDiscount(D(3)), product_coupons={"jacket": uncapped})
    assert priced.lines[0].product_coupon_discount == D(5511)  # rounded down, never up


def test_whole_order_worked_example() -> None:
    lines = [JACKET, shirt("white", WHITE), shirt("black", BLACK)]
    white_cart = CouponRule("C-white", "CART", "PERCENT", D(10), min_order_amount=D(30000),
                            target_option_values=frozenset({WHITE}))  # fmt: skip
    ship = CouponRule("S3000", "SHIPPING", "FIXED", D(3000))
    priced = price(
        lines,
        shipping=SHIPPING,
        group=GroupDiscount(D(3)),
        product_coupons={"jacket": TEN_PERCENT_UP_TO_2000},
        cart_coupon=white_cart,
        shipping_coupon=ship,
        remote_area=True,
        mileage=D(1000),
    )
    by_key = {p.key: p for p in priced.lines}
    assert [by_key[k].basis_amount for k in ("jacket", "white", "black")] == [D(53116), D(14550), D(14550)]
    assert priced.product_amount == D(82216)
    assert priced.cart_coupon_discount == D(1455)  # 10% of the white shirt only
    assert {k: p.cart_coupon_share for k, p in by_key.items()} == {"jacket": 0, "white": D(1455), "black": 0}
    assert priced.shipping_fees == {"default": D(5000)}  # base fee waived over 50,000, remote surcharge is not
    assert priced.shipping_coupon_discount == D(3000)
    assert priced.mileage == D(1000)
    assert priced.amount_to_pay == D(82216 - 1455 + 5000 - 3000 - 1000) == D(81761)
    assert priced.rejected_coupons == {}


def test_cart_coupon_min_order_amount() -> None:
    coupon = CouponRule("C", "CART", "FIXED", D(5000), min_order_amount=D(30000))
    under = price([shirt("w", WHITE, quantity=1)], shipping=SHIPPING, cart_coupon=coupon)
    assert under.cart_coupon_discount == 0 and under.rejected_coupons == {"C": Rejection.MIN_ORDER_AMOUNT_NOT_MET}
    assert under.amount_to_pay == D(15000 + 3000)
    exactly = price([shirt("w", WHITE, quantity=2)], shipping=SHIPPING, cart_coupon=coupon)
    assert exactly.cart_coupon_discount == D(5000) and exactly.rejected_coupons == {}
    assert exactly.amount_to_pay == D(30000 - 5000 + 3000)


def test_free_shipping_at_or_over_50000_per_group_before_the_cart_coupon() -> None:
    def fee(amount: int, **kw: object) -> Decimal:
        return price([Line("a", 1, 1, 1, D(amount))], shipping=SHIPPING, **kw).shipping_fee  # type: ignore[arg-type]

    assert fee(49999) == D(3000)
    assert fee(50000) == D(0)
    assert fee(50000, cart_coupon=CouponRule("C", "CART", "FIXED", D(10000))) == D(0)  # the threshold is pre-cart
    two_groups = [
        Line("a", 1, 1, 1, D(60000), shipping_group="us"),
        Line("b", 2, 2, 1, D(10000), shipping_group="partner"),
    ]
    priced = price(two_groups, shipping=SHIPPING)
    assert priced.shipping_fees == {"us": D(0), "partner": D(3000)} and priced.shipping_fee == D(3000)
    never_free = ShippingPolicy(base_fee=D(2500))
    assert price([Line("a", 1, 1, 1, D(900000))], shipping=never_free).shipping_fee == D(2500)


def test_remote_surcharge_is_added_per_group_and_never_waived() -> None:
    lines = [Line("a", 1, 1, 1, D(60000), shipping_group="us"), Line("b", 2, 2, 1, D(10000), shipping_group="partner")]
    priced = price(lines, shipping=SHIPPING, remote_area=True)
    assert priced.shipping_fees == {"us": D(5000), "partner": D(8000)} and priced.shipping_fee == D(13000)


def test_shipping_coupon_takes_at_most_the_shipping_fee() -> None:
    lines = [Line("a", 1, 1, 1, D(60000), shipping_group="us"), Line("b", 2, 2, 1, D(10000), shipping_group="partner")]
    coupon = CouponRule("S", "SHIPPING", "FIXED", D(10000))
    priced = price(lines, shipping=SHIPPING, shipping_coupon=coupon, remote_area=True)
    assert priced.shipping_coupon_discount == D(10000)
    assert sum(priced.shipping_coupon_shares.values()) == D(10000)
    assert priced.amount_to_pay == D(70000 + 13000 - 10000)
    free = price([Line("a", 1, 1, 1, D(60000))], shipping=SHIPPING, shipping_coupon=coupon)
    assert free.shipping_coupon_discount == 0 and free.rejected_coupons == {"S": Rejection.NOTHING_TO_DISCOUNT}


def test_mileage_is_used_last_and_never_silently_capped() -> None:
    line = Line("a", 1, 1, 1, D(20000))
    assert price([line], shipping=SHIPPING, mileage=D(23000)).amount_to_pay == 0  # 20,000 + 3,000 shipping
    with pytest.raises(PricingError, match="exceeds"):
        price([line], shipping=SHIPPING, mileage=D(23001))
    assert issubclass(PricingError, ValueError)
    rules = MileagePolicy(min_use=D(1000), max_use_percent=D(50))
    assert price([line], shipping=SHIPPING, mileage=D(10000), mileage_policy=rules).amount_to_pay == D(13000)
    assert price([line], shipping=SHIPPING, mileage=D(0), mileage_policy=rules).mileage == 0
    with pytest.raises(PricingError, match="minimum"):
        price([line], shipping=SHIPPING, mileage=D(999), mileage_policy=rules)
    with pytest.raises(PricingError, match="most usable"):
        price([line], shipping=SHIPPING, mileage=D(10001), mileage_policy=rules)


def test_white_items_only_coupon_matches_only_the_white_variant() -> None:
    white_only = CouponRule("W", "PRODUCT", "FIXED", D(1000), target_option_values=frozenset({WHITE}))
    lines = [shirt("white", WHITE), shirt("black", BLACK)]
    on_black = price(lines, shipping=SHIPPING, product_coupons={"black": white_only})
    assert on_black.rejected_coupons == {"W": Rejection.NO_MATCHING_ITEM}
    assert [p.product_coupon_discount for p in on_black.lines] == [0, 0]
    on_white = price(lines, shipping=SHIPPING, product_coupons={"white": white_only})
    assert [p.product_coupon_discount for p in on_white.lines] == [D(1000), 0] and on_white.rejected_coupons == {}
    # option values narrow the product/category targets: product 2 AND white
    narrowed = CouponRule("W2", "PRODUCT", "FIXED", D(1000), target_product_nos=frozenset({2}),
                          target_option_values=frozenset({WHITE}))  # fmt: skip
    assert narrowed.matches(lines[0]) and not narrowed.matches(lines[1])
    assert not narrowed.matches(Line("x", 3, 30, 1, D(1000), option_values=frozenset({WHITE})))
    by_category = CouponRule("K", "PRODUCT", "FIXED", D(1), target_product_nos=frozenset({9}),
                             target_category_nos=frozenset({7}))  # fmt: skip
    assert by_category.matches(JACKET)  # product OR category


def test_fixed_product_coupon_is_per_line_not_per_unit() -> None:
    coupon = CouponRule("F", "PRODUCT", "FIXED", D(1000))
    priced = price([Line("a", 1, 1, 3, D(5000))], shipping=SHIPPING, product_coupons={"a": coupon})
    assert priced.lines[0].product_coupon_discount == D(1000)
    tiny = price([Line("a", 1, 1, 1, D(300))], shipping=SHIPPING, product_coupons={"a": coupon})
    assert tiny.lines[0].product_coupon_discount == D(300) and tiny.lines[0].basis_amount == 0


def test_product_coupon_min_order_is_checked_against_the_line() -> None:
    coupon = CouponRule("M", "PRODUCT", "FIXED", D(1000), min_order_amount=D(10000))
    priced = price([Line("a", 1, 1, 1, D(9999)), Line("b", 1, 2, 1, D(10000))], shipping=SHIPPING,
                   product_coupons={"a": coupon})  # fmt: skip
    assert priced.rejected_coupons == {"M": Rejection.MIN_ORDER_AMOUNT_NOT_MET}
    assert priced.lines[0].product_coupon_key is None


def test_cart_coupon_shares_remainder_goes_to_the_largest_line() -> None:
    lines = [Line("s", 1, 1, 1, D(10000)), Line("m", 1, 2, 1, D(20000)), Line("l", 1, 3, 1, D(30000))]
    priced = price(lines, shipping=SHIPPING, cart_coupon=CouponRule("C", "CART", "FIXED", D(1000)))
    assert [p.cart_coupon_share for p in priced.lines] == [D(166), D(333), D(501)]
    # a share never exceeds its line: the remainder spills over when the largest line is full
    ones = [Line(k, 1, 1, 1, D(1)) for k in "abc"]
    priced = price(ones, shipping=SHIPPING, cart_coupon=CouponRule("C", "CART", "FIXED", D(2)))
    assert sorted(p.cart_coupon_share for p in priced.lines) == [0, 1, 1]


def test_partial_refund_keeps_shipping_and_splits_cash_before_mileage() -> None:
    lines = [Line("a", 1, 1, 3, D(10000), shipping_group="us"), Line("b", 2, 2, 1, D(5000), shipping_group="partner")]
    cart = CouponRule("C", "CART", "FIXED", D(3500))
    priced = price(lines, shipping=SHIPPING, cart_coupon=cart, mileage=D(4000))
    # shares: a 3,500 × 30,000 / 35,000 = 3,000; b 500. Shipping 3,000 per group (both under 50,000).
    assert [p.cart_coupon_share for p in priced.lines] == [D(3000), D(500)]
    assert priced.amount_to_pay == D(35000 - 3500 + 6000 - 4000) == D(33500)

    one = refund(priced, {"a": 1})  # 27,000 × 1/3; shipping stays: "a" still has units left
    assert (one.total, one.shipping_refund, one.cash, one.mileage) == (D(9000), 0, D(9000), 0)
    assert one.lines[0].cart_coupon_share == D(1000)
    group_b = refund(priced, {"b": 1})  # the whole "partner" group: its shipping comes back
    assert group_b.shipping_groups == frozenset({"partner"}) and group_b.total == D(4500 + 3000)
    everything = refund(priced, {"a": 3, "b": 1})
    assert everything.total == priced.amount_to_pay + priced.mileage
    assert (everything.cash, everything.mileage) == (D(33500), D(4000))


def test_refund_rounds_down_per_cumulative_quantity() -> None:
    priced = price([Line("a", 1, 1, 3, D(3333)), Line("b", 1, 2, 1, D(1))], shipping=SHIPPING,
                   cart_coupon=CouponRule("C", "CART", "FIXED", D(1)))  # fmt: skip
    paid = priced.lines[0].paid_amount
    assert paid == D(9998)  # 9,999 less its whole 1-won share of the cart coupon
    totals = [refund(priced, {"a": n}).total for n in (1, 2, 3)]
    assert totals == [D(3332), D(6665), D(9998)]  # the won rounded away comes back with the last unit


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Line("a", 1, 1, 1, D(1000), immediate_discount=D(100), option_price=D(-901))
    with pytest.raises(TypeError):
        Line("a", 1, 1, 1, 1000.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole won"):
        Line("a", 1, 1, 1, D("1000.5"))
    with pytest.raises(ValueError):
        Line("a", 1, 1, 0, D(1000))
    with pytest.raises(ValueError):
        CouponRule("P", "PRODUCT", "PERCENT", D(101))
    line = Line("a", 1, 1, 1, D(1000))
    with pytest.raises(ValueError, match="another kind"):
        price([line], shipping=SHIPPING, cart_coupon=TEN_PERCENT_UP_TO_2000)
    with pytest.raises(ValueError, match="not on the order"):
        price([line], shipping=SHIPPING, product_coupons={"zz": TEN_PERCENT_UP_TO_2000})
    with pytest.raises(ValueError, match="twice"):
        price([line, Line("b", 1, 2, 1, D(1))], shipping=SHIPPING,
              product_coupons={"a": TEN_PERCENT_UP_TO_2000, "b": TEN_PERCENT_UP_TO_2000})  # fmt: skip
    with pytest.raises(ValueError):
        price([line, line], shipping=SHIPPING)
    priced = price([line], shipping=SHIPPING)
    with pytest.raises(ValueError):
        refund(priced, {"a": 2})


def test_amounts_are_normalised_to_whole_won() -> None:
    line = Line("a", 1, 1, 1, D("1000.00"), option_price=D("-0"))
    assert str(line.sale_price) == "1000" and str(line.option_price) == "0"
    assert str(price([line], shipping=SHIPPING).amount_to_pay) == "4000"


# --- properties --------------------------------------------------------------------------------------------------

# Strategies are built once (building them per draw is what makes Hypothesis slow). Two coupons in three target
# everything, so that coupons apply often; option prices are often clamped to the edge (a line worth 0 won).
OPTION_VALUES = [WHITE, BLACK, ("Size", "M"), ("Size", "L")]
COUNT, QUANTITY, NUMBER, GROUP = st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.sampled_from("abc")
PRICE, OPTION, PERMILLE = st.integers(0, 200_000), st.integers(-50_000, 50_000), st.integers(0, 1000)
NUMBERS = st.frozensets(NUMBER, max_size=2)
OPTION_SETS = st.frozensets(st.sampled_from(OPTION_VALUES), max_size=2)
ONE_IN_THREE = st.sampled_from([True, False, False])
TARGETS = st.fixed_dictionaries(
    {
        "target_product_nos": NUMBERS,
        "target_category_nos": NUMBERS,
        "target_option_values": st.frozensets(st.sampled_from(OPTION_VALUES), max_size=1),
    }
)
FIXED_OR_PERCENT, FIXED_VALUE = st.sampled_from(["FIXED", "PERCENT"]), st.integers(0, 60_000)
MAX_DISCOUNT = st.none() | st.integers(0, 50_000).map(D)
MIN_ORDER = st.sampled_from([0, 0, 0, 10_000, 100_000, 500_000]).map(D)
SHIPPING_POLICIES = st.builds(
    ShippingPolicy,
    base_fee=st.sampled_from([0, 2500, 3000]).map(D),
    free_over=st.sampled_from([None, D(30000), D(50000)]),
    remote_surcharge=st.sampled_from([0, 3000, 5000]).map(D),
)
MILEAGE_PERMILLE = st.sampled_from([0, 1000]) | PERMILLE
GROUPS = st.none() | st.builds(GroupDiscount, PERMILLE.map(lambda r: D(r) / 10))


@st.composite
def lines_strategy(draw: st.DrawFn) -> list[Line]:
    lines = []
    for i in range(draw(COUNT)):
        sale = draw(PRICE)
        immediate = sale * draw(PERMILLE) // 1000
        option = max(draw(OPTION), immediate - sale)
        lines.append(
            Line(
                key=i,
                product_no=draw(NUMBER),
                variant_no=i,
                quantity=draw(QUANTITY),
                sale_price=D(sale),
                immediate_discount=D(immediate),
                option_price=D(option),
                category_nos=draw(NUMBERS),
                option_values=draw(OPTION_SETS),
                shipping_group=draw(GROUP),
            )
        )
    return lines


@st.composite
def coupons(draw: st.DrawFn, key: str, kind: str) -> CouponRule:
    discount_type = draw(FIXED_OR_PERCENT)
    return CouponRule(
        key=key,
        kind=kind,  # type: ignore[arg-type]
        discount_type=discount_type,
        value=D(draw(FIXED_VALUE)) if discount_type == "FIXED" else D(draw(PERMILLE)) / 10,
        max_discount=draw(MAX_DISCOUNT),
        min_order_amount=draw(MIN_ORDER),
        **(draw(TARGETS) if draw(ONE_IN_THREE) else {}),
    )


CART_COUPONS, SHIPPING_COUPONS = st.none() | coupons("C", "CART"), st.none() | coupons("S", "SHIPPING")
PRODUCT_COUPONS = {i: coupons(f"P{i}", "PRODUCT") for i in range(5)}


def _fields(obj: object) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[Line], dict]:
    lines = draw(lines_strategy())
    kwargs = dict(
        shipping=draw(SHIPPING_POLICIES),
        group=draw(GROUPS),
        product_coupons={line.key: draw(PRODUCT_COUPONS[line.key]) for line in lines if draw(st.booleans())},
        cart_coupon=draw(CART_COUPONS),
        shipping_coupon=draw(SHIPPING_COUPONS),
        remote_area=draw(st.booleans()),
    )
    return lines, kwargs


def _with_mileage(data: st.DataObject, lines: list[Line], kwargs: dict) -> Priced:
    payable = price(lines, **kwargs).amount_to_pay
    mileage = int(payable) * data.draw(MILEAGE_PERMILLE) // 1000  # none, all, or some of what is left to pay
    return price(lines, **kwargs, mileage=D(mileage))


def _money(priced: Priced) -> list[tuple[str, Decimal]]:
    out = [(name, v) for name, v in _fields(priced).items() if isinstance(v, Decimal)]
    out += [(f"shipping_fees[{g}]", v) for g, v in priced.shipping_fees.items()]
    out += [(f"shipping_coupon_shares[{g}]", v) for g, v in priced.shipping_coupon_shares.items()]
    for line in priced.lines:
        out += [(f"line {line.key}.{n}", v) for n, v in _fields(line).items() if isinstance(v, Decimal)]
    return out


@settings(max_examples=300, deadline=None)
@given(orders(), st.data())
def test_parts_add_up_nothing_negative_no_discount_above_its_price(order: tuple[list[Line], dict], data) -> None:
    lines, kwargs = order
    p = _with_mileage(data, lines, kwargs)

    for name, value in _money(p):
        assert value.as_tuple().exponent == 0, f"{name} = {value} is not whole won"
        assert value >= 0 or name.endswith(".option_amount"), f"{name} = {value} is negative"
    assert p.product_amount == sum(line.basis_amount for line in p.lines)
    assert p.amount_to_pay == (
        p.product_amount - p.cart_coupon_discount + p.shipping_fee - p.shipping_coupon_discount - p.mileage
    )
    assert p.shipping_fee == sum(p.shipping_fees.values())
    assert p.shipping_coupon_discount <= p.shipping_fee
    assert sum(p.shipping_coupon_shares.values()) == p.shipping_coupon_discount
    assert all(p.shipping_coupon_shares[g] <= fee for g, fee in p.shipping_fees.items())
    rate = kwargs["group"].rate_percent if kwargs["group"] else 0
    for line in p.lines:
        after_immediate_and_option = line.sale_amount - line.immediate_discount + line.option_amount
        assert 0 <= after_immediate_and_option * rate / 100 - line.additional_discount < 1  # rounded down, not up
        assert line.immediate_discount <= line.sale_amount
        assert line.additional_discount <= after_immediate_and_option
        assert line.product_coupon_discount <= after_immediate_and_option - line.additional_discount
        assert line.basis_amount == after_immediate_and_option - line.additional_discount - line.product_coupon_discount
        assert line.cart_coupon_share <= line.basis_amount
        assert (line.product_coupon_key is None) == (line.product_coupon_discount == 0)
    assert sum(line.cart_coupon_share for line in p.lines) == p.cart_coupon_discount
    assert p.cart_coupon_discount <= p.product_amount
    for coupon in [*kwargs["product_coupons"].values(), kwargs["cart_coupon"], kwargs["shipping_coupon"]]:
        if coupon is not None and coupon.max_discount is not None:
            assert all(v <= coupon.max_discount for v in _discounts_of(p, coupon.key))
    applied = {line.product_coupon_key for line in p.lines} - {None}
    applied |= {k for k, off in (("C", p.cart_coupon_discount), ("S", p.shipping_coupon_discount)) if off}
    assert not applied & set(p.rejected_coupons)
    used = {c.key for c in [*kwargs["product_coupons"].values(), kwargs["cart_coupon"], kwargs["shipping_coupon"]] if c}
    assert applied | set(p.rejected_coupons) == used  # every coupon asked for either applied or has a reason


def _discounts_of(p: Priced, key: str) -> list[Decimal]:
    if key == "C":
        return [p.cart_coupon_discount]
    if key == "S":
        return [p.shipping_coupon_discount]
    return [line.product_coupon_discount for line in p.lines if line.product_coupon_key == key]


@settings(max_examples=100, deadline=None)
@given(orders())
def test_more_mileage_than_is_left_to_pay_is_an_error(order: tuple[list[Line], dict]) -> None:
    lines, kwargs = order
    payable = price(lines, **kwargs).amount_to_pay
    with pytest.raises(PricingError):
        price(lines, **kwargs, mileage=payable + 1)


@settings(max_examples=150, deadline=None)
@given(orders(), st.data())
def test_a_stored_calculation_refunds_exactly_as_the_one_paid(order, data) -> None:
    """An order keeps its calculation as JSON (``to_json``); a claim months later rebuilds it (``from_json``)."""
    lines, kwargs = order
    paid = _with_mileage(data, lines, kwargs)
    stored = from_json(json.loads(json.dumps(to_json(paid))))
    assert _money(stored) == _money(paid)
    cancelled = {line.key: data.draw(st.integers(0, line.quantity)) for line in paid.lines}
    assert refund(stored, cancelled) == refund(paid, cancelled)


@settings(max_examples=300, deadline=None)
@given(orders(), st.data())
def test_refunds_never_exceed_what_was_paid_and_everything_returns_exactly_it(order, data) -> None:
    lines, kwargs = order
    p = _with_mileage(data, lines, kwargs)

    everything = refund(p, {line.key: line.quantity for line in p.lines})
    assert everything.total == p.amount_to_pay + p.mileage
    assert (everything.cash, everything.mileage) == (p.amount_to_pay, p.mileage)
    assert everything.shipping_groups == frozenset(p.shipping_fees)

    first = {line.key: data.draw(st.integers(0, line.quantity)) for line in p.lines}
    later = {
        key: data.draw(st.integers(qty, line.quantity)) for (key, qty), line in zip(first.items(), p.lines, strict=True)
    }
    small, big = refund(p, first), refund(p, later)
    for r in (small, big):
        assert r.total == r.cash + r.mileage == sum(x.amount for x in r.lines) + r.shipping_refund
        assert 0 <= r.cash <= p.amount_to_pay and 0 <= r.mileage <= p.mileage
        assert all(x.amount >= 0 and x.cart_coupon_share >= 0 for x in r.lines)
    lines_by_key = {line.key: line for line in p.lines}
    for x in big.lines:  # rounded down from the exact pro-rata amount
        line = lines_by_key[x.key]
        assert 0 <= line.paid_amount * x.quantity / line.quantity - x.amount < 1
    # cancelling more never refunds less: cumulative refunds give non-negative increments
    assert big.total >= small.total and big.cash >= small.cash and big.mileage >= small.mileage


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=6), st.integers(0, 20))
def test_cart_coupon_shares_never_exceed_a_line_even_on_tiny_amounts(prices: list[int], coupon: int) -> None:
    lines = [Line(i, 1, i, 1, D(amount)) for i, amount in enumerate(prices)]
    p = price(lines, shipping=SHIPPING, cart_coupon=CouponRule("C", "CART", "FIXED", D(coupon)))
    assert p.cart_coupon_discount == min(coupon, sum(prices))
    assert sum(line.cart_coupon_share for line in p.lines) == p.cart_coupon_discount
    assert all(0 <= line.cart_coupon_share <= line.basis_amount for line in p.lines)
