"""The coupons' Admin API as an app uses it: scopes, CRUD, validation, issuing to members."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.events.models import Event
from tests.conftest import Shop, assert_error
from tests.promotions.conftest import ADMIN, Promo, add_member, coupon_body, create, snapshot


async def test_create_read_list_update(promo: Promo, shop: Shop) -> None:
    made = await create(promo, name="White Day 10%", kind="PRODUCT", discount_type="PERCENT", discount_amount=None,
                        discount_rate="10", max_discount="5000", min_order_amount="10000",
                        target_category_nos=[shop.tshirts], target_product_nos=[shop.jeans],
                        target_option_values=[{"name": "Color", "value": "white"}], issue_type="DOWNLOAD",
                        max_issue_count=100)  # fmt: skip
    assert made["discount_rate"] == "10.00" and made["max_discount"] == "5000.00"
    assert made["discount_amount"] is None and made["min_order_amount"] == "10000.00"
    assert made["target_option_values"] == [{"name": "Color", "value": "white"}]
    assert made["issued_count"] == 0 and made["used_count"] == 0 and made["status"] == "ACTIVE"
    assert made["starts_at"].endswith("+09:00")  # the mall's zone
    no = made["coupon_no"]

    assert (await promo.read.get(f"{ADMIN}/coupons/{no}")).json()["coupon"] == made
    await create(promo, name="Free shipping", kind="SHIPPING", discount_amount="3000")
    listed = (await promo.read.get(f"{ADMIN}/coupons")).json()["coupons"]
    assert [c["name"] for c in listed] == ["Free shipping", "White Day 10%"]  # newest first
    only = (await promo.read.get(f"{ADMIN}/coupons", params={"kind": "PRODUCT,CART"})).json()["coupons"]
    assert [c["coupon_no"] for c in only] == [no]
    assert len((await promo.read.get(f"{ADMIN}/coupons", params={"limit": 1})).json()["coupons"]) == 1
    assert (await promo.read.get(f"{ADMIN}/coupons", params={"status": "STOPPED"})).json()["coupons"] == []
    fields = (await promo.read.get(f"{ADMIN}/coupons", params={"fields": "coupon_no,name"})).json()["coupons"]
    assert set(fields[0]) == {"coupon_no", "name"}

    changed = await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"name": "White Day", "status": "STOPPED",
                                                                              "max_discount": None}})  # fmt: skip
    assert changed.status_code == 200, changed.text
    got = changed.json()["coupon"]
    assert (got["name"], got["status"], got["max_discount"], got["discount_rate"]) == ("White Day", "STOPPED", None,
                                                                                     "10.00")  # fmt: skip
    # switching the discount type clears the other type's fields
    fixed = await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"discount_type": "FIXED",
                                                                            "discount_amount": "2000"}})  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["coupon"]["discount_amount"], fixed.json()["coupon"]["discount_rate"]) == ("2000.00", None)


async def test_scopes(promo: Promo, app) -> None:
    made = await create(promo)
    before = await snapshot(app)
    no = made["coupon_no"]
    for call in (promo.read.post(f"{ADMIN}/coupons", json=coupon_body()),
                 promo.read.put(f"{ADMIN}/coupons/{no}", json={"request": {"name": "x"}}),
                 promo.read.delete(f"{ADMIN}/coupons/{no}"),
                 promo.read.post(f"{ADMIN}/coupons/{no}/issue", json={"request": {"member_nos": [1]}})):  # fmt: skip
        err = assert_error(await call, 403, "mall.write_promotion")
        assert err["more_info"]["required_scope"] == "mall.write_promotion"
    assert await snapshot(app) == before
    assert (await promo.read.get(f"{ADMIN}/coupons")).status_code == 200
    async with __import__("httpx").AsyncClient(transport=promo.transport, base_url="http://demo.openmall.test") as anon:
        assert_error(await anon.get(f"{ADMIN}/coupons"), 401)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"discount_amount": "-1000"}, "discount_amount"),
        ({"discount_amount": 1000.5}, "discount_amount"),
        ({"discount_amount": 3000.0}, "discount_amount"),
        ({"discount_amount": "0"}, "discount_amount"),
        ({"discount_amount": "1000.50"}, "discount_amount"),
        ({"discount_amount": None}, "discount_amount"),
        ({"kind": "ORDER"}, "kind"),
        ({"discount_type": "BOGO"}, "discount_type"),
        ({"discount_type": "PERCENT", "discount_amount": None, "discount_rate": "101"}, "discount_rate"),
        ({"discount_type": "PERCENT", "discount_amount": None, "discount_rate": "0"}, "discount_rate"),
        ({"discount_type": "PERCENT", "discount_amount": None, "discount_rate": 10.5}, "discount_rate"),
        ({"discount_type": "PERCENT", "discount_rate": "10"}, "discount_amount"),
        ({"max_discount": "1000"}, "max_discount"),
        ({"min_order_amount": "-1"}, "min_order_amount"),
        ({"starts_at": "2030-01-02T00:00:00+09:00", "ends_at": "2030-01-01T00:00:00+09:00"}, "ends_at"),
        ({"ends_at": "2030-01-01T00:00:00"}, "ends_at"),  # no offset
        ({"ends_at": "2001-01-01T00:00:00+09:00"}, "ends_at"),
        ({"target_product_nos": [987654]}, "target_product_nos"),
        ({"target_category_nos": [987654]}, "target_category_nos"),
        ({"target_option_values": [{"name": "Color"}]}, "target_option_values.0.value"),
        ({"max_issue_count": 0}, "max_issue_count"),
        ({"issue_type": "EMAIL"}, "issue_type"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_input_changes_nothing(promo: Promo, app, over: dict, field: str) -> None:
    before = await snapshot(app)
    body = coupon_body(**over)
    body["request"] = {k: v for k, v in body["request"].items() if v is not None}
    err = assert_error(await promo.write.post(f"{ADMIN}/coupons", json=body), 422)
    assert field in err["more_info"]["field"], err
    assert await snapshot(app) == before


async def test_another_malls_targets_and_coupons(promo: Promo, app, shop: Shop) -> None:
    err = assert_error(await promo.write.post(f"{ADMIN}/coupons", json=coupon_body(
        target_product_nos=[shop.other_mall_product])), 422, "no such products")  # fmt: skip
    assert err["more_info"]["unknown"] == [shop.other_mall_product]
    mine = await create(promo)
    before = await snapshot(app)
    no = mine["coupon_no"]
    assert_error(await promo.other.get(f"{ADMIN}/coupons/{no}"), 404, f"No coupon {no}")
    assert_error(await promo.other.put(f"{ADMIN}/coupons/{no}", json={"request": {"name": "mine now"}}), 404)
    assert_error(await promo.other.delete(f"{ADMIN}/coupons/{no}"), 404)
    assert_error(await promo.other.post(f"{ADMIN}/coupons/{no}/issue", json={"request": {"member_nos": [1]}}), 404)
    assert_error(await promo.other.get(f"{ADMIN}/coupons/{no}/issued"), 404)
    assert (await promo.other.get(f"{ADMIN}/coupons")).json() == {"coupons": []}
    assert await snapshot(app) == before


async def test_update_rules(promo: Promo, app) -> None:
    made = await create(promo, max_issue_count=5)
    no = made["coupon_no"]
    member_nos = [(await add_member(app, f"m{i}"))[0] for i in range(3)]
    assert (
        await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json={"request": {"member_nos": member_nos}})
    ).status_code == 201
    before = await snapshot(app)
    err = assert_error(await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"max_issue_count": 2}}), 409)
    assert err["more_info"]["issued_count"] == 3
    assert_error(
        await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"name": None}}), 422, "not set to null"
    )
    assert_error(await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"discount_rate": "10"}}), 422)
    assert_error(await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"ends_at": made["starts_at"]}}), 422,
                 "after starts_at")  # fmt: skip
    assert await snapshot(app) == before
    ok = await promo.write.put(f"{ADMIN}/coupons/{no}", json={"request": {"max_issue_count": 3}})
    assert ok.status_code == 200 and ok.json()["coupon"]["issued_count"] == 3


async def test_delete_never_issued_deletes_issued_stops(promo: Promo, app) -> None:
    fresh = await create(promo)
    gone = await promo.write.delete(f"{ADMIN}/coupons/{fresh['coupon_no']}")
    assert gone.json() == {"coupon": {"coupon_no": fresh["coupon_no"], "result": "DELETED"}}
    assert_error(await promo.read.get(f"{ADMIN}/coupons/{fresh['coupon_no']}"), 404)

    given = await create(promo)
    member_no, _ = await add_member(app, "dan")
    await promo.write.post(f"{ADMIN}/coupons/{given['coupon_no']}/issue", json={"request": {"member_nos": [member_no]}})
    stopped = await promo.write.delete(f"{ADMIN}/coupons/{given['coupon_no']}")
    assert stopped.json()["coupon"]["result"] == "STOPPED"
    got = (await promo.read.get(f"{ADMIN}/coupons/{given['coupon_no']}")).json()["coupon"]
    assert got["status"] == "STOPPED" and got["issued_count"] == 1
    assert len((await promo.read.get(f"{ADMIN}/coupons/{given['coupon_no']}/issued")).json()["issued_coupons"]) == 1


async def test_issue_to_members(promo: Promo, app) -> None:
    made = await create(promo, max_issue_count=3)
    no = made["coupon_no"]
    ann, _ = await add_member(app, "ann")
    bob, _ = await add_member(app, "bob")
    stranger, _ = await add_member(app, "eve", "other")

    response = await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json={"request": {"member_nos": [ann, ann]}})
    assert response.status_code == 201, response.text
    out = response.json()["issue"]
    assert [c["member_no"] for c in out["issued"]] == [ann] and out["already_issued"] == []
    assert out["issued"][0]["used_at"] is None and out["issued"][0]["issued_at"].endswith("+09:00")

    again = (await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json={"request": {"member_nos": [ann, bob]}})).json()
    assert [c["member_no"] for c in again["issue"]["issued"]] == [bob] and again["issue"]["already_issued"] == [ann]

    before = await snapshot(app)
    body = {"request": {"member_nos": [stranger, 999999]}}
    err = assert_error(await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json=body), 422, "no such members")
    assert err["more_info"]["unknown"] == [stranger, 999999]
    carl, _ = await add_member(app, "carl")
    dave, _ = await add_member(app, "dave")
    body = {"request": {"member_nos": [carl, dave]}}
    err = assert_error(await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json=body), 409, "1 more")
    assert err["more_info"]["remaining"] == 1
    for bad in ({"member_nos": []}, {"member_nos": ["x"]}, {"member_nos": [1.0]}, {}):
        assert_error(await promo.write.post(f"{ADMIN}/coupons/{no}/issue", json={"request": bad}), 422)
    assert await snapshot(app, "demo") == before

    issued = (await promo.read.get(f"{ADMIN}/coupons/{no}/issued")).json()["issued_coupons"]
    assert [c["member_no"] for c in issued] == [bob, ann]
    assert (await promo.read.get(f"{ADMIN}/coupons/{no}/issued", params={"used": "T"})).json() == {"issued_coupons": []}
    assert (await promo.read.get(f"{ADMIN}/coupons/{no}")).json()["coupon"]["issued_count"] == 2

    async with session_scope(app.state.sessions, "demo") as s:
        events = (await s.scalars(select(Event).where(Event.type == "coupon.issued").order_by(Event.event_no))).all()
    assert [e.data["member_no"] for e in events] == [ann, bob]
    assert events[0].data["via"] == "ADMIN" and events[0].data["coupon_no"] == no


async def test_issue_refused_when_stopped_or_ended(promo: Promo, app) -> None:
    from openmall.kernel import clock

    ann, _ = await add_member(app, "ann")
    stopped = await create(promo, status="STOPPED")
    assert_error(await promo.write.post(f"{ADMIN}/coupons/{stopped['coupon_no']}/issue",
                                        json={"request": {"member_nos": [ann]}}), 409, "STOPPED")  # fmt: skip
    ending = await create(promo, ends_at=(utcnow() + timedelta(minutes=30)).isoformat())
    with clock.travel(timedelta(hours=1)):  # the app's token lives 2 hours
        assert_error(await promo.write.post(f"{ADMIN}/coupons/{ending['coupon_no']}/issue",
                                            json={"request": {"member_nos": [ann]}}), 409, "ended")  # fmt: skip
    assert (await promo.read.get(f"{ADMIN}/coupons/{ending['coupon_no']}/issued")).json() == {"issued_coupons": []}


async def test_list_filters_refuse_unknown_values(promo: Promo) -> None:
    assert_error(await promo.read.get(f"{ADMIN}/coupons", params={"kind": "ORDER"}), 422, "kind must be one of")
    assert_error(await promo.read.get(f"{ADMIN}/coupons", params={"status": "ACTIVE,"}), 422)
    assert_error(await promo.read.get(f"{ADMIN}/coupons", params={"limit": "501"}), 422)
