"""The customers Admin API: search with scopes, detail, groups, moving members between groups."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error
from tests.customers.conftest import ADMIN, CUSTOMER_SCOPES, admin_token, install_admin, sign_up

pytestmark = pytest.mark.usefixtures("malls")


@pytest.fixture
async def admin(app):
    tool = await install_admin(app)
    return {
        "write": await admin_token(app, tool, CUSTOMER_SCOPES),
        "read": await admin_token(app, tool, ["mall.read_customer", "mall.read_personal"]),  # names in full
        "none": await admin_token(app, tool, ["mall.read_mileage"]),
    }


async def test_search_and_detail(app, client, other_client, admin):
    jane = await sign_up(client, "jane")
    await sign_up(client, "minho", name="Minho Lee", email="Minho@Example.com")
    await sign_up(other_client, "stranger")
    url = f"{ADMIN}/customers"
    everyone = (await client.get(url, headers=admin["read"])).json()["customers"]
    assert [c["member_id"] for c in everyone] == ["minho", "jane"]  # newest first, this mall only
    assert everyone[1]["email"] == "jane@example.com" and everyone[1]["mileage_balance"] == "0.00"
    for params, ids in [
        ({"member_id": "jane"}, ["jane"]),
        ({"member_id": "jane,minho"}, ["minho", "jane"]),
        ({"name": "Lee"}, ["minho"]),
        ({"email": "minho@example.com"}, ["minho"]),
        ({"status": "WITHDRAWN"}, []),
        ({"limit": 1, "offset": 1}, ["jane"]),
    ]:
        got = (await client.get(url, headers=admin["read"], params=params)).json()["customers"]
        assert [c["member_id"] for c in got] == ids, params
    assert (await client.get(f"{url}/count", headers=admin["read"], params={"name": "Kim"})).json() == {"count": 1}
    one = (await client.get(f"{url}/{jane['member_no']}", headers=admin["read"])).json()["customer"]
    assert one["member_no"] == jane["member_no"] and one["status"] == "ACTIVE"
    assert (await client.get(f"{url}/{jane['member_no']}", headers=admin["read"], params={"fields": "member_no,name"})
            ).json() == {"customer": {"member_no": jane["member_no"], "name": "Jane Kim"}}  # fmt: skip

    assert_error(await client.get(url, headers=admin["none"]), 403, "mall.read_customer")
    assert_error(await client.get(url), 401)
    assert_error(await client.get(url, headers=admin["read"], params={"status": "GONE"}), 422, "status")
    assert_error(await client.get(url, headers=admin["read"], params={"group_no": "x"}), 422, "group_no")
    assert_error(await client.get(url, headers=admin["read"], params={"limit": 0}), 422, "limit")
    assert_error(await client.get(f"{url}/999999", headers=admin["read"]), 404, "999999")
    assert_error(await client.get(f"{url}/abc", headers=admin["read"]), 422)


async def test_groups(app, client, admin):
    url = f"{ADMIN}/customers/groups"
    made = await client.post(
        url,
        headers=admin["write"],
        json={"request": {"name": "Silver", "discount_rate": "3.00", "mileage_rate": "1", "is_default": True}},
    )
    assert made.status_code == 201, made.text
    silver = made.json()["group"]
    assert silver["discount_rate"] == "3.00" and silver["mileage_rate"] == "1.00" and silver["is_default"]
    gold = (
        await client.post(
            url, headers=admin["write"], json={"request": {"name": "Gold", "discount_rate": "5", "mileage_rate": "2.5"}}
        )
    ).json()["group"]

    jane = await sign_up(client, "jane")  # joins the default group
    assert jane["group"]["group_no"] == silver["group_no"]

    changed = await client.put(f"{url}/{gold['group_no']}", headers=admin["write"],
                               json={"request": {"is_default": True, "discount_rate": "7.5"}})  # fmt: skip
    assert changed.json()["group"]["discount_rate"] == "7.50"
    groups = (await client.get(url, headers=admin["read"])).json()["groups"]
    assert [g["name"] for g in groups if g["is_default"]] == ["Gold"]

    moved = await client.put(f"{ADMIN}/customers/{jane['member_no']}/group", headers=admin["write"],
                             json={"request": {"group_no": gold["group_no"]}})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["customer"]["group_no"] == gold["group_no"]
    assert moved.json()["customer"]["group_name"] == "Gold"
    searched = await client.get(f"{ADMIN}/customers", headers=admin["read"], params={"group_no": gold["group_no"]})
    assert [c["member_id"] for c in searched.json()["customers"]] == ["jane"]

    for body, word in [
        ({"request": {"name": "Bad", "discount_rate": 3.5}}, "float"),
        ({"request": {"name": "Bad", "discount_rate": "101"}}, "discount_rate"),
        ({"request": {"name": "Bad", "mileage_rate": "-1"}}, "mileage_rate"),
        ({"request": {"name": ""}}, "name"),
        ({"request": {}}, "name"),
    ]:
        assert_error(await client.post(url, headers=admin["write"], json=body), 422, word)
    assert_error(await client.post(url, headers=admin["write"], json={"request": {"name": "Gold"}}), 409, "Gold")
    assert_error(await client.post(url, headers=admin["read"], json={"request": {"name": "X"}}), 403,
                 "mall.write_customer")  # fmt: skip
    assert_error(await client.put(f"{url}/999999", headers=admin["write"], json={"request": {"name": "X"}}), 404)
    assert_error(await client.put(f"{ADMIN}/customers/{jane['member_no']}/group", headers=admin["write"],
                                  json={"request": {"group_no": 999999}}), 404, "group")  # fmt: skip
    assert_error(await client.put(f"{ADMIN}/customers/{jane['member_no']}/group", headers=admin["write"],
                                  json={"request": {"group_no": "gold"}}), 422)  # fmt: skip
    assert len((await client.get(url, headers=admin["read"])).json()["groups"]) == 2
    detail = (await client.get(f"{ADMIN}/customers/{jane['member_no']}", headers=admin["read"])).json()["customer"]
    assert detail["group_no"] == gold["group_no"]


async def test_another_malls_customer_is_not_found(app, client, other_client, admin):
    stranger = await sign_up(other_client, "stranger")
    assert_error(await client.get(f"{ADMIN}/customers/{stranger['member_no']}", headers=admin["read"]), 404)
    assert_error(await client.put(f"{ADMIN}/customers/{stranger['member_no']}/group", headers=admin["write"],
                                  json={"request": {"group_no": None}}), 404)  # fmt: skip
