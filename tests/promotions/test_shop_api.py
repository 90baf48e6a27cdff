"""Coupons in the Shop API: what can be downloaded, downloading once, and the member's own coupons."""

from __future__ import annotations

from datetime import timedelta

from openmall.kernel import clock
from openmall.kernel.db import utcnow
from tests.conftest import Shop, assert_error
from tests.promotions.conftest import ADMIN, SHOP, Promo, Shopper, coupon_body, create, snapshot


async def test_download_once(promo: Promo, shoppers: list[Shopper], client, app) -> None:
    made = await create(promo, name="Spring 10%", kind="PRODUCT", discount_type="PERCENT", discount_amount=None,
                        discount_rate="10", max_discount="5000", issue_type="DOWNLOAD", max_issue_count=5)  # fmt: skip
    await create(promo, name="For VIPs only")  # ISSUED by the shop: not in the list, not downloadable
    no = made["coupon_no"]
    ann = shoppers[0]

    listed = (await client.get(f"{SHOP}/coupons")).json()["coupons"]  # a guest sees them too
    assert [(c["coupon_no"], c["downloaded"], c["remaining"]) for c in listed] == [(no, False, 5)]
    assert listed[0]["discount_rate"] == "10.00" and listed[0]["max_discount"] == "5000.00"

    response = await ann.client.post(f"{SHOP}/coupons/{no}/download")
    assert response.status_code == 201, response.text
    mine = response.json()["coupon"]
    assert mine["coupon_no"] == no and mine["usable"] is True and mine["unusable_reason"] is None
    assert mine["issued_coupon_no"] > 0 and mine["used_at"] is None

    before = await snapshot(app)
    err = assert_error(await ann.client.post(f"{SHOP}/coupons/{no}/download"), 409, "already")
    assert err["more_info"]["reason"] == "ALREADY_DOWNLOADED"
    assert err["more_info"]["issued_coupon_no"] == mine["issued_coupon_no"]
    assert await snapshot(app) == before

    seen = (await ann.client.get(f"{SHOP}/coupons")).json()["coupons"]
    assert [(c["downloaded"], c["remaining"]) for c in seen] == [(True, 4)]
    assert (await shoppers[1].client.get(f"{SHOP}/coupons")).json()["coupons"][0]["downloaded"] is False

    assert_error(await client.post(f"{SHOP}/coupons/{no}/download"), 401, "Log in")  # a guest
    issued_only = (await promo.read.get(f"{ADMIN}/coupons", params={"issue_type": "ISSUED"})).json()["coupons"]
    err = assert_error(await ann.client.post(f"{SHOP}/coupons/{issued_only[0]['coupon_no']}/download"), 404)
    assert_error(await ann.client.post(f"{SHOP}/coupons/999999/download"), 404, "No downloadable coupon")
    assert_error(await ann.client.post(f"{SHOP}/coupons/abc/download"), 422)
    elsewhere = await promo.other.post(f"{ADMIN}/coupons", json=coupon_body(issue_type="DOWNLOAD"))
    assert elsewhere.status_code == 201, elsewhere.text  # another mall's coupon: not there for this mall's members
    assert_error(await ann.client.post(f"{SHOP}/coupons/{elsewhere.json()['coupon']['coupon_no']}/download"), 404)
    assert (await promo.read.get(f"{ADMIN}/coupons/{no}")).json()["coupon"]["issued_count"] == 1


async def test_max_issue_count(promo: Promo, shoppers: list[Shopper], app) -> None:
    made = await create(promo, issue_type="DOWNLOAD", max_issue_count=2)
    no = made["coupon_no"]
    for s in shoppers[:2]:
        assert (await s.client.post(f"{SHOP}/coupons/{no}/download")).status_code == 201
    before = await snapshot(app)
    err = assert_error(await shoppers[2].client.post(f"{SHOP}/coupons/{no}/download"), 409, "all been downloaded")
    assert err["more_info"]["reason"] == "SOLD_OUT"
    assert await snapshot(app) == before
    assert (await shoppers[2].client.get(f"{SHOP}/coupons")).json() == {"coupons": []}  # sold out: not listed


async def test_stopped_expired_and_future_coupons_are_not_downloadable(
    promo: Promo, shoppers: list[Shopper], app
) -> None:
    ann = shoppers[0]
    stopped = await create(promo, issue_type="DOWNLOAD", status="STOPPED")
    later = await create(promo, issue_type="DOWNLOAD", starts_at=(utcnow() + timedelta(days=1)).isoformat())
    ending = await create(promo, issue_type="DOWNLOAD", ends_at=(utcnow() + timedelta(minutes=30)).isoformat())
    assert [c["coupon_no"] for c in (await ann.client.get(f"{SHOP}/coupons")).json()["coupons"]] == [
        ending["coupon_no"]
    ]
    before = await snapshot(app)
    for made, reason in ((stopped, "STOPPED"), (later, "NOT_STARTED")):
        err = assert_error(await ann.client.post(f"{SHOP}/coupons/{made['coupon_no']}/download"), 409)
        assert err["more_info"]["reason"] == reason
    with clock.travel(timedelta(hours=1)):
        err = assert_error(await ann.client.post(f"{SHOP}/coupons/{ending['coupon_no']}/download"), 409, "ended")
        assert err["more_info"]["reason"] == "EXPIRED"
        assert (await ann.client.get(f"{SHOP}/coupons")).json() == {"coupons": []}
    assert await snapshot(app) == before


async def test_my_coupons(promo: Promo, shoppers: list[Shopper], shop: Shop) -> None:
    ann, bob = shoppers[0], shoppers[1]
    white = await create(promo, name="White items 20%", kind="PRODUCT", discount_type="PERCENT", discount_amount=None,
                         discount_rate="20", target_category_nos=[shop.tshirts],
                         target_option_values=[{"name": "Color", "value": "white"}])  # fmt: skip
    ship = await create(promo, name="Free shipping", kind="SHIPPING", discount_amount="3000", min_order_amount="30000",
                        ends_at=(utcnow() + timedelta(minutes=30)).isoformat())  # fmt: skip
    stopped = await create(promo, name="Stopped")
    for made in (white, ship, stopped):
        issued = await promo.write.post(f"{ADMIN}/coupons/{made['coupon_no']}/issue",
                                        json={"request": {"member_nos": [ann.member_no]}})  # fmt: skip
        assert issued.status_code == 201, issued.text
    await promo.write.put(f"{ADMIN}/coupons/{stopped['coupon_no']}", json={"request": {"status": "STOPPED"}})

    mine = (await ann.client.get(f"{SHOP}/profile/coupons")).json()["coupons"]
    assert [c["name"] for c in mine] == ["Stopped", "Free shipping", "White items 20%"]  # newest first
    by_name = {c["name"]: c for c in mine}
    w = by_name["White items 20%"]
    assert (w["kind"], w["discount_type"], w["discount_rate"], w["discount_amount"]) == ("PRODUCT", "PERCENT",
                                                                                        "20.00", None)  # fmt: skip
    assert w["target_category_nos"] == [shop.tshirts]
    assert w["target_option_values"] == [{"name": "Color", "value": "white"}]
    assert by_name["Free shipping"]["min_order_amount"] == "30000.00"
    assert (by_name["Stopped"]["usable"], by_name["Stopped"]["unusable_reason"]) == (False, "STOPPED")

    usable = (await ann.client.get(f"{SHOP}/profile/coupons", params={"usable": "true"})).json()["coupons"]
    assert [c["name"] for c in usable] == ["Free shipping", "White items 20%"]  # soonest ending first
    not_usable = (await ann.client.get(f"{SHOP}/profile/coupons", params={"usable": "false"})).json()["coupons"]
    assert [c["name"] for c in not_usable] == ["Stopped"]
    with clock.travel(timedelta(hours=1)):
        later = (await ann.client.get(f"{SHOP}/profile/coupons", params={"usable": "true"})).json()["coupons"]
        assert [c["name"] for c in later] == ["White items 20%"]
        expired = (await ann.client.get(f"{SHOP}/profile/coupons", params={"usable": "F"})).json()["coupons"]
        assert {c["name"]: c["unusable_reason"] for c in expired} == {"Stopped": "STOPPED", "Free shipping": "EXPIRED"}

    assert (await bob.client.get(f"{SHOP}/profile/coupons")).json() == {"coupons": []}  # never another member's
    assert_error(await ann.client.get(f"{SHOP}/profile/coupons", params={"usable": "maybe"}), 422, "usable")


async def test_member_calls_need_a_live_member_token(client, promo: Promo) -> None:
    assert_error(await client.get(f"{SHOP}/profile/coupons"), 401, "Log in")
    bad = await client.get(f"{SHOP}/profile/coupons", headers={"Authorization": "Bearer om_ma_nope"})
    assert_error(bad, 401)
    assert_error(await client.get(f"{SHOP}/coupons", headers={"Authorization": "Bearer om_ma_nope"}), 401)
