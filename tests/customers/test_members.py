"""Members over HTTP: sign-up, logins (password, refresh, OpenID), lockout, profile, addresses, withdrawal."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from openmall.customers import service
from openmall.customers.models import Address, Member, MemberGroup, MemberIdentity
from openmall.kernel.clock import travel
from openmall.kernel.db import session_scope
from tests.conftest import assert_error
from tests.customers.conftest import PASSWORD, SHOP, bearer, events_of, login, member_client, sign_up

pytestmark = pytest.mark.usefixtures("malls")


async def test_sign_up_login_profile_logout(app, client):
    async with session_scope(app.state.sessions, "demo") as s:
        s.add(MemberGroup(name="Welcome", discount_rate=1, mileage_rate=2, is_default=True))
    member = await sign_up(client, "jane")
    assert member["member_id"] == "jane" and member["group"]["name"] == "Welcome"
    assert member["group"]["discount_rate"] == "1.00" and member["mileage_balance"] == "0.00"
    assert "password" not in str(member) or member["has_password"] is True

    tokens = await login(client, "jane")
    assert tokens["access_token"].startswith("om_ma_") and tokens["refresh_token"].startswith("om_mr_")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 12 * 3600 and tokens["keep_login"] is False
    assert tokens["access_token_expires_at"].endswith("+09:00")
    auth = bearer(tokens["access_token"])

    profile = (await client.get(f"{SHOP}/profile", headers=auth)).json()["profile"]
    assert profile["member_no"] == member["member_no"] and profile["email"] == "jane@example.com"
    assert profile["last_login_at"] is not None
    assert (await events_of(app, "member.registered"))[0]["member_id"] == "jane"

    assert (await client.delete(f"{SHOP}/oauth/token", headers=auth)).status_code == 204
    assert_error(await client.get(f"{SHOP}/profile", headers=auth), 401, "Log in")
    assert_error(await client.get(f"{SHOP}/profile"), 401)


async def test_duplicate_member_id_and_bad_sign_up(app, client):
    await sign_up(client, "jane")
    body = {"member_id": "jane", "password": PASSWORD, "name": "Other", "email": "o@example.com"}
    err = assert_error(await client.post(f"{SHOP}/members", json=body), 409, "taken")
    assert err["more_info"]["field"] == "member_id"
    for body, field in [
        ({"password": PASSWORD, "name": "A", "email": "a@example.com"}, "member_id"),
        ({"member_id": "anna", "password": "short", "name": "A", "email": "a@example.com"}, "password"),
        ({"member_id": "anna", "password": PASSWORD, "name": "A", "email": "not-an-email"}, "email"),
        ({"member_id": "an na", "password": PASSWORD, "name": "A", "email": "a@example.com"}, "member_id"),
        ({"member_id": 12345, "password": PASSWORD, "name": "A", "email": "a@example.com"}, "member_id"),
        ({"member_id": "anna", "password": PASSWORD, "name": "A", "email": "a@example.com", "admin": True}, "admin"),
    ]:
        err = assert_error(await client.post(f"{SHOP}/members", json=body), 422)
        assert err["more_info"]["field"] == field, err
    async with session_scope(app.state.sessions, "demo") as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 1


async def test_keep_login_gives_90_days_and_refresh_rotates(client):
    await sign_up(client, "jane")
    tokens = await login(client, "jane", keep_login=True)
    assert tokens["keep_login"] is True and tokens["expires_in"] == 90 * 86400
    expires = datetime.fromisoformat(tokens["access_token_expires_at"])
    assert timedelta(days=89) < expires - datetime.now(expires.tzinfo) <= timedelta(days=90)

    refreshed = await client.post(f"{SHOP}/oauth/token", json={"grant_type": "refresh_token",
                                                               "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["keep_login"] is True
    assert (await client.get(f"{SHOP}/profile", headers=bearer(new["access_token"]))).status_code == 200
    # the old pair stops working; the old refresh token is used once
    assert_error(await client.get(f"{SHOP}/profile", headers=bearer(tokens["access_token"])), 401)
    again = await client.post(f"{SHOP}/oauth/token", json={"grant_type": "refresh_token",
                                                           "refresh_token": tokens["refresh_token"]})  # fmt: skip
    assert_error(again, 401, "refresh token")
    assert_error(await client.post(f"{SHOP}/oauth/token", json={"grant_type": "refresh_token"}), 422, "refresh_token")


async def test_twelve_hour_token_expires(client):
    _, auth = await member_client(client)
    with travel(timedelta(hours=12, seconds=1)):
        assert_error(await client.get(f"{SHOP}/profile", headers=auth), 401)


async def test_ten_failures_lock_the_member_id(app, client):
    await sign_up(client, "jane")
    for _ in range(1, 10):
        assert_error(await login_raw(client, "jane", "wrong password"), 401, "Wrong member id or password")
    tenth = await login_raw(client, "jane", "wrong password")
    err = assert_error(tenth, 429, "locked", "until")
    assert tenth.headers["Retry-After"] and err["more_info"]["locked_until"].endswith("+09:00")
    # the right password is refused during the lock
    err = assert_error(await login_raw(client, "jane", PASSWORD), 429, "locked")
    assert 29 * 60 <= err["more_info"]["retry_after"] <= 30 * 60 + 1
    # unknown ids answer as a wrong password, not as locked
    assert_error(await login_raw(client, "nobody", PASSWORD), 401, "Wrong member id or password")
    with travel(timedelta(minutes=31)):
        await login(client, "jane")  # the lock is over; a success resets the count
        async with session_scope(app.state.sessions, "demo") as s:
            member = await s.scalar(select(Member).where(Member.member_id == "jane"))
            assert member.failed_logins == 0 and member.locked_until is None


async def test_a_success_resets_the_count(client):
    await sign_up(client, "jane")
    for _ in range(9):
        assert_error(await login_raw(client, "jane", "nope nope"), 401)
    await login(client, "jane")
    for _ in range(9):  # the count starts anew: nine more failures do not lock
        assert_error(await login_raw(client, "jane", "nope nope"), 401)
    assert_error(await login_raw(client, "jane", "nope nope"), 429, "locked")


async def login_raw(client, member_id, password, **kw):
    return await client.post(f"{SHOP}/oauth/token", json={"member_id": member_id, "password": password, **kw})


async def test_tracking_key_lands_in_the_login_event(app, client):
    member = await sign_up(client, "jane")
    await login_raw(client, "jane", PASSWORD)
    response = await client.post(f"{SHOP}/oauth/token", params={"trackingKey": "kakao-1124"},
                                 json={"member_id": "jane", "password": PASSWORD})  # fmt: skip
    assert response.status_code == 200
    logged = await events_of(app, "member.logged_in")
    assert [e["tracking_key"] for e in logged] == [None, "kakao-1124"]
    assert logged[1]["member_no"] == member["member_no"] and logged[1]["provider"] == "password"
    assert logged[1]["member_id"] == "jane" and logged[1]["logged_in_at"].endswith("+09:00")
    bad = await client.post(f"{SHOP}/oauth/token", params={"trackingKey": "x" * 101},
                            json={"member_id": "jane", "password": PASSWORD})  # fmt: skip
    assert_error(bad, 422, "trackingKey")
    assert len(await events_of(app, "member.logged_in")) == 2


async def test_openid_dev_provider_creates_then_reuses(app, client, monkeypatch):
    body = {"provider": "dev", "provider_token": "dev:u123:kim@example.com:Kim"}
    monkeypatch.delenv("OPENMALL_OPENID_DEV", raising=False)
    assert_error(await client.post(f"{SHOP}/oauth/openid", json=body), 422, "OPENMALL_OPENID_DEV")
    monkeypatch.setenv("OPENMALL_OPENID_DEV", "1")
    first = await client.post(f"{SHOP}/oauth/openid", params={"trackingKey": "tk-9"}, json=body)
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True
    second = (await client.post(f"{SHOP}/oauth/openid", json=body)).json()
    assert second["created"] is False and second["member_no"] == first.json()["member_no"]
    profile = (await client.get(f"{SHOP}/profile", headers=bearer(second["access_token"]))).json()["profile"]
    assert profile["email"] == "kim@example.com" and profile["name"] == "Kim" and profile["has_password"] is False
    logged = await events_of(app, "member.logged_in")
    assert [(e["provider"], e["tracking_key"]) for e in logged] == [("dev", "tk-9"), ("dev", None)]
    assert (await events_of(app, "member.registered"))[0]["provider"] == "dev"

    assert_error(await client.post(f"{SHOP}/oauth/openid", json={"provider": "myspace", "provider_token": "x"}),
                 422, "Unknown OpenID provider 'myspace'")  # fmt: skip
    assert_error(await client.post(f"{SHOP}/oauth/openid", json={"provider": "dev", "provider_token": "garbage"}),
                 401, "dev:<subject>:<email>")  # fmt: skip
    async with session_scope(app.state.sessions, "demo") as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 1
        assert await s.scalar(select(func.count()).select_from(MemberIdentity)) == 1


async def test_profile_update_and_password_change(app, client):
    await sign_up(client, "jane")
    one = bearer((await login(client, "jane"))["access_token"])
    two = bearer((await login(client, "jane"))["access_token"])
    changed = await client.put(f"{SHOP}/profile", headers=one, json={"name": "Jane Park", "mobile": None})
    assert changed.status_code == 200, changed.text
    assert changed.json()["profile"]["name"] == "Jane Park" and changed.json()["profile"]["mobile"] is None

    assert_error(await client.put(f"{SHOP}/profile", headers=one, json={"new_password": "another pass 2"}),
                 422, "current_password")  # fmt: skip
    wrong = await client.put(
        f"{SHOP}/profile",
        headers=one,
        json={"current_password": "wrong one", "new_password": "another pass 2", "name": "X"},
    )
    assert_error(wrong, 422, "wrong")
    assert (await client.get(f"{SHOP}/profile", headers=one)).json()["profile"]["name"] == "Jane Park"
    assert_error(await client.put(f"{SHOP}/profile", headers=one, json={"email": None}), 422, "null")
    assert_error(await client.put(f"{SHOP}/profile", headers=one, json={"name": 5}), 422)

    ok = await client.put(f"{SHOP}/profile", headers=one,
                          json={"current_password": PASSWORD, "new_password": "another pass 2"})  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert (await client.get(f"{SHOP}/profile", headers=one)).status_code == 200  # this token stays
    assert_error(await client.get(f"{SHOP}/profile", headers=two), 401)  # the others are revoked
    assert_error(await login_raw(client, "jane", PASSWORD), 401)
    await login(client, "jane", "another pass 2")


async def test_addresses_keep_one_default(app, client):
    _, auth = await member_client(client)
    base = {"receiver_name": "Jane", "receiver_phone": "010-1234-5678", "zip_code": "04524", "address1": "Seoul"}
    first = (await client.post(f"{SHOP}/profile/addresses", headers=auth, json=base)).json()["address"]
    assert first["is_default"] is True
    second = (await client.post(f"{SHOP}/profile/addresses", headers=auth,
                                json={**base, "label": "office", "is_default": True})).json()["address"]  # fmt: skip
    third = (await client.post(f"{SHOP}/profile/addresses", headers=auth, json=base)).json()["address"]
    assert second["is_default"] and not third["is_default"]
    listed = (await client.get(f"{SHOP}/profile/addresses", headers=auth)).json()["addresses"]
    assert [a["address_no"] for a in listed if a["is_default"]] == [second["address_no"]]
    assert listed[0]["address_no"] == second["address_no"]

    moved = await client.put(f"{SHOP}/profile/addresses/{third['address_no']}", headers=auth,
                             json={"is_default": True, "address2": "3F"})  # fmt: skip
    assert moved.json()["address"]["is_default"] and moved.json()["address"]["address2"] == "3F"
    listed = (await client.get(f"{SHOP}/profile/addresses", headers=auth)).json()["addresses"]
    assert [a["address_no"] for a in listed if a["is_default"]] == [third["address_no"]]
    assert_error(await client.put(f"{SHOP}/profile/addresses/{third['address_no']}", headers=auth,
                                  json={"is_default": False}), 422, "default")  # fmt: skip

    assert (await client.delete(f"{SHOP}/profile/addresses/{third['address_no']}", headers=auth)).status_code == 200
    listed = (await client.get(f"{SHOP}/profile/addresses", headers=auth)).json()["addresses"]
    assert [a["address_no"] for a in listed if a["is_default"]] == [first["address_no"]]

    # another member's address is not found; bad input changes nothing
    _, other = await member_client(client, "minho")
    assert_error(await client.put(f"{SHOP}/profile/addresses/{first['address_no']}", headers=other,
                                  json={"label": "mine"}), 404, "not one of your addresses")  # fmt: skip
    assert_error(await client.delete(f"{SHOP}/profile/addresses/{first['address_no']}", headers=other), 404)
    assert_error(await client.post(f"{SHOP}/profile/addresses", headers=auth, json={**base, "zip_code": ""}), 422)
    assert_error(await client.post(f"{SHOP}/profile/addresses", headers=auth, json={"receiver_name": "x"}), 422)
    assert_error(await client.put(f"{SHOP}/profile/addresses/abc", headers=auth, json={}), 422)
    assert len((await client.get(f"{SHOP}/profile/addresses", headers=auth)).json()["addresses"]) == 2


async def test_withdrawal_erases_personal_data(app, client, monkeypatch):
    member, auth = await member_client(client)
    await client.post(
        f"{SHOP}/profile/addresses",
        headers=auth,
        json={"receiver_name": "Jane", "receiver_phone": "010-1234-5678", "zip_code": "04524", "address1": "Seoul"},
    )
    with travel(timedelta(minutes=11)):  # not a recent login: the password is needed
        assert_error(await client.request("DELETE", f"{SHOP}/profile", headers=auth), 403, "password")
        assert_error(await client.request("DELETE", f"{SHOP}/profile", headers=auth, json={"password": "wrong pw"}),
                     422, "wrong")  # fmt: skip
        done = await client.request("DELETE", f"{SHOP}/profile", headers=auth, json={"password": PASSWORD})
    assert done.status_code == 200, done.text
    assert done.json() == {"member": {"member_no": member["member_no"], "status": "WITHDRAWN"}}
    assert_error(await client.get(f"{SHOP}/profile", headers=auth), 401)
    assert_error(await login_raw(client, "jane", PASSWORD), 401)
    async with session_scope(app.state.sessions, "demo") as s:
        row = await s.scalar(select(Member).where(Member.member_no == member["member_no"]))
        assert (row.member_id, row.name, row.email, row.mobile, row.password_hash) == (None, "", None, None, None)
        assert row.status == "WITHDRAWN" and row.withdrawn_at is not None
        assert await s.scalar(select(func.count()).select_from(Address)) == 0
    assert (await events_of(app, "member.withdrawn"))[0]["member_no"] == member["member_no"]
    await sign_up(client, "jane")  # the id is free again


async def test_openid_member_withdraws_after_a_recent_login(app, client, monkeypatch):
    monkeypatch.setenv("OPENMALL_OPENID_DEV", "1")
    body = {"provider": "dev", "provider_token": "dev:s9:lee@example.com"}
    tokens = (await client.post(f"{SHOP}/oauth/openid", json=body)).json()
    done = await client.request("DELETE", f"{SHOP}/profile", headers=bearer(tokens["access_token"]))
    assert done.status_code == 200, done.text
    again = (await client.post(f"{SHOP}/oauth/openid", json=body)).json()
    assert again["created"] is True and again["member_no"] != tokens["member_no"]


async def test_members_of_another_mall_are_apart(app, client, other_client):
    _, auth = await member_client(client)
    assert_error(await other_client.get(f"{SHOP}/profile", headers=auth), 401)
    assert_error(await login_raw(other_client, "jane", PASSWORD), 401)
    await sign_up(other_client, "jane")  # the same id in another mall


async def test_service_reads(app, client):
    member = await sign_up(client, "jane")
    async with session_scope(app.state.sessions, "demo") as s:
        found = await service.get_member(s, member["member_no"])
        assert found is not None and await service.member_group(s, found) is None
    async with session_scope(app.state.sessions, "other") as s:
        assert await service.get_member(s, member["member_no"]) is None


async def test_refresh_tokens_live_12_hours_or_90_days_with_keep_login(client):
    from openmall.kernel import clock

    await sign_up(client, "jane")
    short, kept = await login(client, "jane"), await login(client, "jane", keep_login=True)
    for tokens, days in ((short, 0.5), (kept, 90)):
        expires = datetime.fromisoformat(tokens["refresh_token_expires_at"])
        assert abs((expires - datetime.now(expires.tzinfo)) - timedelta(days=days)) < timedelta(minutes=1)
    with clock.travel(timedelta(hours=12, minutes=1)):
        late = await client.post(f"{SHOP}/oauth/token", json={"grant_type": "refresh_token",
                                                              "refresh_token": short["refresh_token"]})  # fmt: skip
        assert late.status_code in (400, 401), late.text
        kept_new = await client.post(f"{SHOP}/oauth/token", json={"grant_type": "refresh_token",
                                                                  "refresh_token": kept["refresh_token"]})  # fmt: skip
        assert kept_new.status_code == 200, kept_new.text
