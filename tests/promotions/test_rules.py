"""The coupon rules other domains call: usable coupons, choosing coupons for an order, pricing rules, use, restore."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from openmall.kernel import clock
from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.events import REGISTRY
from openmall.kernel.events.models import Event
from openmall.orders import pricing
from openmall.promotions import service
from openmall.promotions.models import IssuedCoupon
from openmall.promotions.schemas import CouponIn, OptionValue
from tests.conftest import Shop
from tests.promotions.conftest import add_member


def terms(**over) -> CouponIn:
    values = {"name": "Welcome", "kind": "CART", "discount_type": "FIXED", "discount_amount": Decimal("3000"),
              "ends_at": utcnow() + timedelta(days=30)}  # fmt: skip
    values.update(over)
    return CouponIn(**values)


async def give(app, member_no: int, **over) -> int:
    """A coupon issued to the member; answers the copy's issued_coupon_no."""
    async with session_scope(app.state.sessions, "demo") as s:
        coupon = await service.create_coupon(s, terms(**over))
        done = await service.issue(s, coupon.coupon_no, [member_no])
        return done.copies[0].issued_coupon_no


@pytest.fixture
async def members(app, shop: Shop) -> tuple[int, int]:
    return (await add_member(app, "ann"))[0], (await add_member(app, "bob"))[0]


async def test_usable_coupons_and_coupons_for_use(app, members: tuple[int, int]) -> None:
    ann, bob = members
    good = await give(app, ann, name="good")
    used = await give(app, ann, name="used")
    stopped = await give(app, ann, name="stopped")
    ending = await give(app, ann, name="ending", ends_at=utcnow() + timedelta(minutes=30))
    later = await give(app, ann, name="later", starts_at=utcnow() + timedelta(days=1))
    bobs = await give(app, bob, name="bob's")
    async with session_scope(app.state.sessions, "demo") as s:
        await service.use(s, used, "20260101-0000001")
        copy = await s.get(IssuedCoupon, stopped)
        await service.update_coupon(s, copy.coupon_no, service.CouponUpdate(status="STOPPED"))

    async with session_scope(app.state.sessions, "demo") as s:
        assert [c.issued_coupon_no for c, _ in await service.usable_coupons(s, ann)] == [ending, good]
        pairs = await service.coupons_for_use(s, ann, [good, ending])
        assert [(c.issued_coupon_no, k.name) for c, k in pairs] == [(good, "good"), (ending, "ending")]
        assert await service.coupons_for_use(s, ann, []) == []
        for no, reason in ((bobs, "NOT_FOUND"), (999999, "NOT_FOUND"), (used, "USED"), (stopped, "STOPPED"),
                           (later, "NOT_STARTED")):  # fmt: skip
            with pytest.raises(InvalidInput) as refused:
                await service.coupons_for_use(s, ann, [good, no])
            assert "not one of your usable coupons" in refused.value.message
            assert refused.value.more_info == {"field": "coupons", "issued_coupon_no": no, "reason": reason}
        with pytest.raises(InvalidInput) as twice:
            await service.coupons_for_use(s, ann, [good, good])
        assert twice.value.more_info["field"] == "coupons"
        # another member's copy reads exactly like one that does not exist
        with pytest.raises(InvalidInput) as foreign:
            await service.coupons_for_use(s, ann, [bobs])
        with pytest.raises(InvalidInput) as missing:
            await service.coupons_for_use(s, ann, [999999])
        assert foreign.value.message.replace(str(bobs), "N") == missing.value.message.replace("999999", "N")

    with clock.travel(timedelta(hours=1)):
        async with session_scope(app.state.sessions, "demo") as s:
            assert [c.issued_coupon_no for c, _ in await service.usable_coupons(s, ann)] == [good]
            with pytest.raises(InvalidInput) as expired:
                await service.coupons_for_use(s, ann, [ending])
            assert expired.value.more_info["reason"] == "EXPIRED" and "expired" in expired.value.message
    with clock.travel(timedelta(days=2)):
        async with session_scope(app.state.sessions, "demo") as s:
            assert [c.issued_coupon_no for c, _ in await service.usable_coupons(s, ann)] == [good, later]


async def test_to_rule_prices_as_the_coupon_says(app, members: tuple[int, int], shop: Shop) -> None:
    ann, _ = members
    white = await give(app, ann, name="white", kind="PRODUCT", discount_type="PERCENT", discount_amount=None,
                       discount_rate=Decimal("10"), max_discount=Decimal("1500"), min_order_amount=Decimal("10000"),
                       target_category_nos=[shop.tshirts],
                       target_option_values=[OptionValue(name="Color", value="white")])  # fmt: skip
    cart = await give(app, ann, name="cart", discount_amount=Decimal("3000"), target_product_nos=[shop.jeans])
    ship = await give(app, ann, name="ship", kind="SHIPPING", discount_amount=Decimal("2500"))
    async with session_scope(app.state.sessions, "demo") as s:
        rules = {
            c.issued_coupon_no: service.to_rule(c, k)
            for c, k in await service.coupons_for_use(s, ann, [white, cart, ship])
        }
    w = rules[white]
    assert (w.key, w.kind, w.discount_type, w.value, w.max_discount, w.min_order_amount) == (
        white, "PRODUCT", "PERCENT", Decimal("10"), Decimal("1500"), Decimal("10000"))  # fmt: skip
    assert w.target_category_nos == {shop.tshirts} and w.target_option_values == {("Color", "white")}
    assert (rules[cart].value, rules[cart].max_discount, rules[cart].target_product_nos) == (Decimal("3000"), None,
                                                                                             {shop.jeans})  # fmt: skip

    tee = pricing.Line("tee", shop.white_tee, 1, 2, Decimal("19800"), category_nos=frozenset({shop.tshirts}),
                       option_values=frozenset({("Color", "white"), ("Size", "M")}))  # fmt: skip
    jeans = pricing.Line("jeans", shop.jeans, 2, 1, Decimal("59000"), option_values=frozenset({("Color", "navy")}))
    priced = pricing.price([tee, jeans], shipping=pricing.ShippingPolicy(Decimal("3000")), product_coupons={"tee": w},
                           cart_coupon=rules[cart], shipping_coupon=rules[ship])  # fmt: skip
    assert priced.lines[0].product_coupon_discount == Decimal("1500")  # 10 % of 39600, capped at 1500
    assert priced.cart_coupon_discount == Decimal("3000")
    assert priced.shipping_coupon_discount == Decimal("2500") and not priced.rejected_coupons


async def test_use_once_and_restore(app, members: tuple[int, int]) -> None:
    ann, _ = members
    no = await give(app, ann)
    async with session_scope(app.state.sessions, "demo") as s:
        copy = await service.use(s, no, "20260101-0000001")
        assert copy.used_order_id == "20260101-0000001" and copy.used_at is not None
    async with session_scope(app.state.sessions, "demo") as s:
        with pytest.raises(Conflict) as second:
            await service.use(s, no, "20260101-0000002")
        assert second.value.status_code == 409 and second.value.more_info["reason"] == "USED"
    async with session_scope(app.state.sessions, "demo") as s:
        with pytest.raises(NotFound):
            await service.use(s, 999999, "20260101-0000002")
        assert await service.restore(s, no, order_id="20260101-0000002") is False  # not that order's
        assert (await s.get(IssuedCoupon, no)).used_order_id == "20260101-0000001"
        assert await service.restore(s, no, order_id="20260101-0000001") is True
        assert await service.restore(s, no) is False  # nothing left to restore
        assert await service.restore(s, 999999) is False
    async with session_scope(app.state.sessions, "demo") as s:
        assert [c.issued_coupon_no for c, _ in await service.usable_coupons(s, ann)] == [no]
        await service.use(s, no, "20260101-0000003")  # usable again
        kinds = [
            (e.type, e.data.get("order_id"))
            for e in await s.scalars(select(Event).where(Event.type.like("coupon.%")).order_by(Event.event_no))
        ]
    assert kinds == [("coupon.issued", None), ("coupon.used", "20260101-0000001"),
                     ("coupon.restored", "20260101-0000001"), ("coupon.used", "20260101-0000003")]  # fmt: skip


def test_events_are_registered_with_the_promotion_read_scope() -> None:
    for name in ("coupon.issued", "coupon.used", "coupon.restored"):
        assert REGISTRY[name].scope == "mall.read_promotion"


async def test_service_rules_hold_for_every_caller(app, members: tuple[int, int]) -> None:
    async with session_scope(app.state.sessions, "demo") as s:
        bad = terms().model_copy(update={"discount_amount": Decimal("-5")})
        with pytest.raises(InvalidInput):
            await service.create_coupon(s, bad)
        bad = terms(discount_type="PERCENT", discount_amount=None).model_copy(update={"discount_rate": Decimal("150")})
        with pytest.raises(InvalidInput) as rate:
            await service.create_coupon(s, bad)
        assert rate.value.more_info["field"] == "discount_rate"
