"""Member auth against attacks (issue 12 §3): a refresh is not a fresh login, a replayed refresh token ends
its family, a wrong password and an unknown id answer alike, and look-alike member ids are one id."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from openmall.customers.models import Member
from openmall.kernel.clock import travel
from openmall.kernel.db import session_scope
from openmall.kernel.passwords import hash_password
from tests.conftest import assert_error
from tests.customers.conftest import PASSWORD, SHOP, bearer, login, sign_up

pytestmark = pytest.mark.usefixtures("malls")


async def refresh(client, refresh_token: str):
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await client.post(f"{SHOP}/oauth/token", json=body)


async def withdraw(client, access_token: str, **body: str):
    return await client.request("DELETE", f"{SHOP}/profile", headers=bearer(access_token), json=body or None)


# ---- withdrawal needs a fresh login, not a fresh refresh ---------------------------------------------------


async def test_a_refreshed_token_is_not_a_fresh_login(client):
    await sign_up(client, "jane")
    tokens = await login(client, "jane")
    with travel(timedelta(minutes=11)):
        renewed = await refresh(client, tokens["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        # whoever holds the refresh token cannot erase the account without the password
        assert_error(await withdraw(client, renewed.json()["access_token"]), 403, "password", "refresh")
        twice = await refresh(client, renewed.json()["refresh_token"])  # nor after refreshing again
        assert_error(await withdraw(client, twice.json()["access_token"]), 403, "password")
        done = await withdraw(client, twice.json()["access_token"], password=PASSWORD)
        assert done.status_code == 200, done.text


async def test_a_refresh_keeps_the_time_of_its_login(client):
    await sign_up(client, "jane")
    tokens = await login(client, "jane")
    with travel(timedelta(minutes=5)):  # logged in 5 minutes ago: still recent after the refresh
        renewed = (await refresh(client, tokens["refresh_token"])).json()
        done = await withdraw(client, renewed["access_token"])
        assert done.status_code == 200, done.text


# ---- a replayed refresh token revokes the whole family ----------------------------------------------------


async def test_a_replayed_refresh_token_revokes_every_token_issued_from_it(client):
    await sign_up(client, "jane")
    stolen = await login(client, "jane")
    elsewhere = await login(client, "jane")  # another login (another device): another family
    first = (await refresh(client, stolen["refresh_token"])).json()
    second = (await refresh(client, first["refresh_token"])).json()
    assert (await client.get(f"{SHOP}/profile", headers=bearer(second["access_token"]))).status_code == 200

    assert_error(await refresh(client, stolen["refresh_token"]), 401, "refresh token")  # the copy comes back
    # the pair issued from it stops working, access and refresh, whoever holds it
    assert_error(await client.get(f"{SHOP}/profile", headers=bearer(second["access_token"])), 401)
    assert_error(await refresh(client, second["refresh_token"]), 401, "refresh token")
    # the member's other login is not of that family
    assert (await client.get(f"{SHOP}/profile", headers=bearer(elsewhere["access_token"]))).status_code == 200
    assert (await refresh(client, elsewhere["refresh_token"])).status_code == 200


async def test_a_logged_out_refresh_token_is_refused_without_revoking_the_rest(client):
    await sign_up(client, "jane")
    tokens = await login(client, "jane")
    other = await login(client, "jane")
    assert (await client.delete(f"{SHOP}/oauth/token", headers=bearer(tokens["access_token"]))).status_code == 204
    assert_error(await refresh(client, tokens["refresh_token"]), 401, "refresh token")
    assert_error(await refresh(client, "om_mr_never-issued"), 401, "refresh token")
    assert (await client.get(f"{SHOP}/profile", headers=bearer(other["access_token"]))).status_code == 200


# ---- a wrong password and an unknown id answer alike --------------------------------------------------------


async def test_a_known_id_and_an_unknown_id_answer_alike(client):
    await sign_up(client, "jane")
    body = {"password": "wrong password"}
    known = await client.post(f"{SHOP}/oauth/token", json={"member_id": "jane", **body})
    unknown = await client.post(f"{SHOP}/oauth/token", json={"member_id": "nobody", **body})
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()
    assert known.json()["error"]["more_info"] == {"field": "password"}
    assert_error(known, 401, "Wrong member id or password", "locked")  # says the rule, not how many are left
    again = await client.post(f"{SHOP}/oauth/token", json={"member_id": "jane", **body})
    assert again.json() == unknown.json()  # the same on the next try: no count shows


async def test_an_unknown_id_locks_as_a_known_one_does(client):
    """Ten failures lock a member id; they lock an id nobody has the same way, or the lock would tell."""
    await sign_up(client, "jane")
    body = {"password": "wrong password"}
    answers = {}
    for member_id in ("jane", "nobody"):
        for _ in range(9):
            assert_error(await client.post(f"{SHOP}/oauth/token", json={"member_id": member_id, **body}), 401)
        answers[member_id] = await client.post(f"{SHOP}/oauth/token", json={"member_id": member_id, **body})
    known, unknown = answers["jane"], answers["nobody"]
    assert known.status_code == unknown.status_code == 429
    def shape(response) -> tuple[str, list[str]]:  # the words, without the lock's times (a second apart)
        err = assert_error(response, 429, "locked")
        return re.sub(r"\d+", "N", err["message"]), sorted(err["more_info"])

    assert shape(known) == shape(unknown)
    assert abs(int(known.headers["Retry-After"]) - int(unknown.headers["Retry-After"])) <= 2
    # still locked, typed in another case or width, and the lock ends alike
    assert_error(await client.post(f"{SHOP}/oauth/token", json={"member_id": "NOBODY", **body}), 429, "locked")
    with travel(timedelta(minutes=31)):
        assert_error(await client.post(f"{SHOP}/oauth/token", json={"member_id": "nobody", **body}), 401)
        await login(client, "jane")


# ---- look-alike member ids and emails ----------------------------------------------------------------------


async def test_member_ids_differ_by_more_than_case_and_width(client):
    first = await sign_up(client, "Case123", email="Case123@Example.com")
    assert first["member_id"] == "case123" and first["email"] == "case123@example.com"
    for look_alike in ("case123", "CASE123", "ｃａｓｅ１２３"):  # the last one full-width
        body = {"member_id": look_alike, "password": PASSWORD, "name": "Other", "email": "o@example.com"}
        err = assert_error(await client.post(f"{SHOP}/members", json=body), 409, "already taken")
        assert err["more_info"]["field"] == "member_id"
    for typed in ("CASE123", "Case123", "ｃａｓｅ１２３", " case123 "):
        assert (await login(client, typed))["member_no"] == first["member_no"]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u3164", "\u00ad"])
async def test_invisible_characters_are_refused(client, invisible):
    await sign_up(client, "jane")
    body = {"member_id": f"ja{invisible}ne", "password": PASSWORD, "name": "Jane", "email": "j@example.com"}
    err = assert_error(await client.post(f"{SHOP}/members", json=body), 422, "invisible")
    assert err["more_info"]["field"] == "member_id" and "Value error" not in err["message"]  # our words only
    body = {"member_id": "other", "password": PASSWORD, "name": "Jane", "email": f"jane{invisible}@example.com"}
    assert assert_error(await client.post(f"{SHOP}/members", json=body), 422, "invisible")["more_info"]["field"] == (
        "email"
    )
    login_body = {"member_id": f"ja{invisible}ne", "password": PASSWORD}
    assert_error(await client.post(f"{SHOP}/oauth/token", json=login_body), 422, "invisible")


async def test_a_short_member_id_is_refused_in_words_about_characters(client):
    body = {"member_id": "ANN", "password": PASSWORD, "name": "Ann", "email": "ann@example.com"}
    err = assert_error(await client.post(f"{SHOP}/members", json=body), 422, "at least 4 characters")
    assert err["more_info"]["field"] == "member_id"


async def test_a_member_email_is_kept_in_its_normal_form(client):
    member = await sign_up(client, "jane", email="Ｊａｎｅ@Example.COM")
    assert member["email"] == "jane@example.com"
    tokens = await login(client, "jane")
    changed = await client.put(f"{SHOP}/profile", headers=bearer(tokens["access_token"]),
                               json={"email": "ＪＡＮＥ.KIM@example.com"})  # fmt: skip
    assert changed.json()["profile"]["email"] == "jane.kim@example.com"


async def test_ids_that_clashed_before_normalising_both_still_log_in(app, client):
    """Migration 0013 keeps both of two ids that differ only in case: each logs in by its exact id."""
    async with session_scope(app.state.sessions, "demo") as s:
        s.add(Member(member_id="case123", password_hash=await hash_password("first password")))
        s.add(Member(member_id="Case123", password_hash=await hash_password("second password")))
    first = await login(client, "CASE123", "first password")
    second = await login(client, "Case123", "second password")
    assert first["member_no"] != second["member_no"]
    async with session_scope(app.state.sessions, "demo") as s:
        kept = await s.scalar(select(Member.member_id).where(Member.member_no == second["member_no"]))
        assert kept == "Case123"
