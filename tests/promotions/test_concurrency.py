"""Counters under concurrent requests, on PostgreSQL: a copy is used once, a limit is never passed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from openmall.kernel.db import session_scope
from openmall.kernel.errors import Conflict
from openmall.promotions import service
from openmall.promotions.models import Coupon, IssuedCoupon
from tests.conftest import STOREFRONT, host
from tests.promotions.conftest import SHOP, Promo, add_member, create


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("concurrency runs on PostgreSQL (SQLite has one writer at a time)")


async def test_one_copy_used_once_by_concurrent_orders(app, promo: Promo) -> None:
    ann, _ = await add_member(app, "ann")
    coupon = await create(promo)
    issued = await promo.write.post(f"/api/v2/admin/coupons/{coupon['coupon_no']}/issue",
                                    json={"request": {"member_nos": [ann]}})  # fmt: skip
    no = issued.json()["issue"]["issued"][0]["issued_coupon_no"]

    async def order(i: int) -> str:
        try:
            async with session_scope(app.state.sessions, "demo") as s:
                await service.use(s, no, f"20260101-{i:07d}")
            return "used"
        except Conflict:
            return "conflict"

    results = await asyncio.gather(*(order(i) for i in range(20)))
    assert sorted(results) == ["conflict"] * 19 + ["used"]
    async with session_scope(app.state.sessions, "demo") as s:
        copy = await s.get(IssuedCoupon, no)
        assert copy.used_at is not None and copy.used_order_id is not None


async def test_concurrent_downloads_stop_at_the_limit(app, promo: Promo) -> None:
    coupon = await create(promo, issue_type="DOWNLOAD", max_issue_count=10)
    tokens = [(await add_member(app, f"m{i}"))[1] for i in range(30)]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def download(token: str) -> int:
        headers = {"X-Client-Id": STOREFRONT, "Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers) as c:
            return (await c.post(f"{SHOP}/coupons/{coupon['coupon_no']}/download")).status_code

    statuses = await asyncio.gather(*(download(t) for t in tokens))
    assert sorted(statuses) == [201] * 10 + [409] * 20
    async with session_scope(app.state.sessions, "demo") as s:
        count = await s.scalar(select(func.count()).select_from(IssuedCoupon).where(
            IssuedCoupon.coupon_no == coupon["coupon_no"]))  # fmt: skip
        row = await s.get(Coupon, coupon["coupon_no"])
    assert count == 10 and row.issued_count == 10


async def test_one_member_downloading_twice_at_once_gets_one_copy(app, promo: Promo) -> None:
    coupon = await create(promo, issue_type="DOWNLOAD")
    _, token = await add_member(app, "ann")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"X-Client-Id": STOREFRONT, "Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers) as c:
        responses = await asyncio.gather(*(c.post(f"{SHOP}/coupons/{coupon['coupon_no']}/download") for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert all("already" in r.json()["error"]["message"] for r in responses if r.status_code == 409)
    async with session_scope(app.state.sessions, "demo") as s:
        assert (await s.get(Coupon, coupon["coupon_no"])).issued_count == 1
