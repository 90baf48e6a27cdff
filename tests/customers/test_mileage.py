"""The mileage ledger: the rules through the service, the Shop and Admin API, and concurrent spends."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from openmall.customers import mileage
from openmall.customers.models import Member, MileageEntry
from openmall.kernel.db import session_scope
from openmall.kernel.errors import InvalidInput, NotFound
from tests.conftest import assert_error
from tests.customers.conftest import (
    ADMIN,
    CUSTOMER_SCOPES,
    SHOP,
    admin_token,
    events_of,
    install_admin,
    member_client,
)

pytestmark = pytest.mark.usefixtures("malls")


async def _member(app, mall_id: str = "demo", balance: str = "0") -> int:
    async with session_scope(app.state.sessions, mall_id) as s:
        member = Member(member_id=f"m{id(object())}", name="M", mileage_balance=Decimal(balance))
        s.add(member)
        await s.flush()
        return member.member_no


async def _state(app, member_no: int) -> tuple[Decimal, int]:
    async with session_scope(app.state.sessions, "demo") as s:
        bal = await s.scalar(select(Member.mileage_balance).where(Member.member_no == member_no))
        entries = await s.scalar(
            select(func.count()).select_from(MileageEntry).where(MileageEntry.member_no == member_no)
        )
        return bal, entries


async def test_ledger_rules(app):
    no = await _member(app)
    async with session_scope(app.state.sessions, "demo") as s:
        assert await mileage.earn(s, no, Decimal("5000"), order_id="20261124-0000001", reason="") == Decimal("5000.00")
        assert await mileage.spend(s, no, Decimal("3000"), order_id="20261124-0000002", reason="") == Decimal("2000")
        assert await mileage.restore(s, no, Decimal("1000"), order_id="20261124-0000002", reason="") == Decimal("3000")
        assert await mileage.adjust(s, no, Decimal("-500"), reason="correction") == Decimal("2500")
        assert await mileage.spend(s, no, Decimal("0"), order_id=None, reason="") == Decimal("2500")
        assert await mileage.balance(s, no) == Decimal("2500")
    async with session_scope(app.state.sessions, "demo") as s:
        rows = (await s.scalars(select(MileageEntry).order_by(MileageEntry.entry_no))).all()
        assert [(e.kind, e.amount, e.balance_after) for e in rows] == [
            ("EARN", Decimal("5000"), Decimal("5000")), ("SPEND", Decimal("-3000"), Decimal("2000")),
            ("RESTORE", Decimal("1000"), Decimal("3000")), ("ADJUST", Decimal("-500"), Decimal("2500"))]  # fmt: skip
    changed = await events_of(app, "mileage.changed")
    assert [e["balance"] for e in changed] == ["5000.00", "2000.00", "3000.00", "2500.00"]
    assert changed[1]["amount"] == "-3000.00" and changed[1]["order_id"] == "20261124-0000002"


async def test_never_below_zero_and_bad_amounts_change_nothing(app):
    no = await _member(app, balance="1000")
    for call, match in [
        (lambda s: mileage.spend(s, no, Decimal("1000.01"), order_id=None, reason=""), "Not enough mileage"),
        (lambda s: mileage.adjust(s, no, Decimal("-2000"), reason="too much"), "Not enough mileage"),
        (lambda s: mileage.adjust(s, no, Decimal("100"), reason=" "), "reason"),
        (lambda s: mileage.adjust(s, no, Decimal("0"), reason="zero"), "not be 0"),
        (lambda s: mileage.spend(s, no, Decimal("-5"), order_id=None, reason=""), "between 0"),
        (lambda s: mileage.earn(s, no, 1.5, order_id=None, reason=""), "float"),  # type: ignore[arg-type]
        (lambda s: mileage.earn(s, no, Decimal("0.001"), order_id=None, reason=""), "two decimal"),
    ]:
        with pytest.raises(InvalidInput, match=match) as caught:
            async with session_scope(app.state.sessions, "demo") as s:
                await call(s)
        if "Not enough" in match:
            assert caught.value.more_info["field"] == "mileage" and caught.value.status_code == 422
    with pytest.raises(NotFound):
        async with session_scope(app.state.sessions, "other") as s:  # another mall's member
            await mileage.spend(s, no, Decimal("1"), order_id=None, reason="")
    assert await _state(app, no) == (Decimal("1000"), 0)


async def test_concurrent_spends_cannot_overdraw(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrency is checked on PostgreSQL (set OPENMALL_TEST_DATABASE_URL)")
    no = await _member(app, balance="5000")

    async def spend() -> bool:
        try:
            async with session_scope(app.state.sessions, "demo") as s:
                await mileage.spend(s, no, Decimal("1000"), order_id=None, reason="race")
            return True
        except InvalidInput:
            return False

    results = await asyncio.gather(*(spend() for _ in range(20)))
    assert results.count(True) == 5
    assert await _state(app, no) == (Decimal("0"), 5)


async def test_shop_mileage_is_paged(app, client):
    member, auth = await member_client(client)
    async with session_scope(app.state.sessions, "demo") as s:
        for n in range(3):
            await mileage.earn(s, member["member_no"], Decimal(1000 + n), order_id=None, reason=f"n{n}")
    got = (await client.get(f"{SHOP}/profile/mileage", headers=auth, params={"limit": 2})).json()["mileage"]
    assert got["balance"] == "3003.00" and got["total"] == 3 and len(got["entries"]) == 2
    assert got["entries"][0]["reason"] == "n2" and got["entries"][0]["balance_after"] == "3003.00"
    assert got["entries"][0]["created_at"].endswith("+09:00")
    assert_error(await client.get(f"{SHOP}/profile/mileage", headers=auth, params={"limit": 501}), 422, "limit")
    assert_error(await client.get(f"{SHOP}/profile/mileage"), 401)


async def test_admin_adjust(app, client):
    member, _ = await member_client(client)
    no = member["member_no"]
    tool = await install_admin(app)
    write = await admin_token(app, tool, CUSTOMER_SCOPES)
    read_only = await admin_token(app, tool, ["mall.read_mileage", "mall.read_customer"])
    url = f"{ADMIN}/customers/{no}/mileage"

    up = await client.post(url, headers=write, json={"request": {"amount": "5000", "reason": "welcome gift"}})
    assert up.status_code == 201, up.text
    assert up.json()["mileage"]["balance"] == "5000.00" and up.json()["mileage"]["entries"][0]["kind"] == "ADJUST"
    down = await client.post(url, headers=write, json={"request": {"amount": "-1500.50", "reason": "correction"}})
    assert down.json()["mileage"]["balance"] == "3499.50"

    for body, status, word in [
        ({"request": {"amount": "-3499.51", "reason": "too much"}}, 422, "Not enough mileage"),
        ({"request": {"amount": 100.5, "reason": "float"}}, 422, "float"),
        ({"request": {"amount": "100"}}, 422, "reason"),
        ({"request": {"amount": "100", "reason": ""}}, 422, "reason"),
        ({"request": {"amount": "abc", "reason": "x"}}, 422, "amount"),
        ({"request": {"amount": "1.001", "reason": "x"}}, 422, "amount"),
        ({"request": {"amount": "0", "reason": "x"}}, 422, "not be 0"),
        ({"amount": "100", "reason": "unwrapped"}, 422, ""),
    ]:
        assert_error(await client.post(url, headers=write, json=body), status, word)
    assert_error(await client.post(url, headers=read_only, json={"request": {"amount": "1", "reason": "x"}}),
                 403, "mall.write_mileage")  # fmt: skip
    assert_error(await client.post(f"{ADMIN}/customers/999999/mileage", headers=write,
                                   json={"request": {"amount": "1", "reason": "x"}}), 404, "999999")  # fmt: skip
    got = (await client.get(url, headers=read_only)).json()["mileage"]
    assert got["balance"] == "3499.50" and got["total"] == 2
    assert await _state(app, no) == (Decimal("3499.50"), 2)


async def test_another_malls_member_is_not_found(app, client):
    no = await _member(app, "other", balance="100")
    tool = await install_admin(app)
    write = await admin_token(app, tool, CUSTOMER_SCOPES)
    assert_error(await client.get(f"{ADMIN}/customers/{no}/mileage", headers=write), 404)
    assert_error(await client.post(f"{ADMIN}/customers/{no}/mileage", headers=write,
                                   json={"request": {"amount": "-100", "reason": "x"}}), 404)  # fmt: skip
    async with session_scope(app.state.sessions, "other") as s:
        assert await mileage.balance(s, no) == Decimal("100")
