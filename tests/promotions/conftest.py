"""Coupons' fixtures: an app holding the promotion scopes (and a read-only token), and members with tokens."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from openmall.customers.auth import issue_tokens
from openmall.customers.models import Member
from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.secrets import digest, new_secret
from openmall.oauth import service as oauth
from openmall.oauth.models import Developer, Install, Operator, Token
from openmall.promotions.models import Coupon, IssuedCoupon
from tests.conftest import STOREFRONT, Shop, host

ADMIN = "/api/v2/admin"
SHOP = "/api/v2/shop"
SCOPES = ["mall.read_promotion", "mall.write_promotion"]


@dataclass
class Promo:
    """Admin API clients of one installed app (``write``: both scopes; ``read``: read only; ``other``: a token
    of the same app on mall ``other``), and the app."""

    write: httpx.AsyncClient
    read: httpx.AsyncClient
    other: httpx.AsyncClient
    transport: httpx.ASGITransport


async def _tokens(app, mall_id: str, *scope_sets: list[str]) -> list[str]:
    """Install an app on the mall and issue one access token per scope set, as the OAuth flow would have.
    Its developer and operator are rows with unusable password hashes: nobody logs in, and hashing is slow."""
    tag = secrets.token_hex(4)
    tokens = []
    async with session_scope(app.state.sessions, mall_id) as s:
        developer = Developer(email=f"dev-{tag}@example.com", name="Dev", password_hash="!")
        operator = Operator(login_id=f"owner{tag}", name="Owner", password_hash="!")
        s.add_all([developer, operator])
        await s.flush()
        made = await oauth.create_app(
            s, app.state.key, developer, name=f"Coupon tool {tag}", app_url="https://tool.example.com/launch",
            redirect_uris=["https://tool.example.com/callback"], scopes=SCOPES, test_malls=[mall_id],
        )  # fmt: skip
        s.add(Install(app_no=made.app.app_no, scopes=SCOPES, operator_no=operator.operator_no))
        for scopes in scope_sets:
            token, now = new_secret("om_at_"), utcnow()
            s.add(Token(grant_id=secrets.token_hex(16), app_no=made.app.app_no, operator_no=operator.operator_no,
                        scopes=sorted(scopes), access_digest=digest(app.state.key, token),
                        refresh_digest=digest(app.state.key, new_secret("om_rt_")), issued_at=now,
                        access_expires_at=now + timedelta(hours=2),
                        refresh_expires_at=now + timedelta(days=14)))  # fmt: skip
            tokens.append(token)
    return tokens


@pytest.fixture
async def promo(app, shop: Shop) -> AsyncIterator[Promo]:
    write, read = await _tokens(app, "demo", SCOPES, ["mall.read_promotion"])
    (other,) = await _tokens(app, "other", SCOPES)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def make(token: str, mall_id: str = "demo") -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(transport=transport, base_url=host(mall_id), headers=headers)

    async with make(write) as w, make(read) as r, make(other, "other") as o:
        yield Promo(w, r, o, transport)


@dataclass
class Shopper:
    member_no: int
    token: str
    client: httpx.AsyncClient


async def add_member(app, name: str, mall_id: str = "demo") -> tuple[int, str]:
    """A member (through the ORM) and a live access token."""
    async with session_scope(app.state.sessions, mall_id) as s:
        member = Member(member_id=f"{name}-{secrets.token_hex(3)}", name=name, email=f"{name}@example.com")
        s.add(member)
        await s.flush()
        tokens = await issue_tokens(s, app.state.key, member, False)
        return member.member_no, tokens.access_token


@pytest.fixture
async def shoppers(app, promo: Promo) -> AsyncIterator[list[Shopper]]:
    """Three members of mall demo, each with a Shop API client that sends their token."""
    made = [await add_member(app, name) for name in ("ann", "bob", "cho")]
    clients = [
        httpx.AsyncClient(transport=promo.transport, base_url=host("demo"),
                          headers={"X-Client-Id": STOREFRONT, "Authorization": f"Bearer {token}"})
        for _, token in made
    ]  # fmt: skip
    try:
        yield [Shopper(no, token, c) for (no, token), c in zip(made, clients, strict=True)]
    finally:
        for c in clients:
            await c.aclose()


def coupon_body(**over) -> dict:
    ends = (utcnow() + timedelta(days=30)).isoformat()
    body = {"name": "Welcome 3000", "kind": "CART", "discount_type": "FIXED", "discount_amount": "3000",
            "ends_at": ends}  # fmt: skip
    body.update(over)
    return {"request": body}


async def create(promo: Promo, **over) -> dict:
    response = await promo.write.post(f"{ADMIN}/coupons", json=coupon_body(**over))
    assert response.status_code == 201, response.text
    return response.json()["coupon"]


async def snapshot(app, mall_id: str = "demo") -> dict:
    """What a refused call must leave as it was."""
    async with session_scope(app.state.sessions, mall_id) as s:
        coupons = (await s.execute(select(Coupon).order_by(Coupon.coupon_no))).scalars().all()
        copies = (await s.execute(select(IssuedCoupon).order_by(IssuedCoupon.issued_coupon_no))).scalars().all()
        return {
            "coupons": [{k: v for k, v in vars(c).items() if not k.startswith("_")} for c in coupons],
            "copies": [{k: v for k, v in vars(c).items() if not k.startswith("_")} for c in copies],
        }
