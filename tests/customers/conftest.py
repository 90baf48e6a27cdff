"""Helpers of the customers tests: malls with the test storefront, members signed up over HTTP,
Admin API clients holding the customer and mileage scopes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.events.models import Event
from openmall.kernel.secrets import digest, new_secret
from openmall.oauth import service as oauth
from openmall.oauth.models import Install, Token
from tests.conftest import STOREFRONT, add_mall, host

SHOP = "/api/v2/shop"
ADMIN = "/api/v2/admin"
CUSTOMER_SCOPES = ["mall.read_customer", "mall.write_customer", "mall.read_mileage", "mall.write_mileage"]
PASSWORD = "correct horse 1"


@pytest.fixture
async def malls(app) -> None:
    await add_mall(app, "demo", "Demo Apparel")
    await add_mall(app, "other", "Other Shop", timezone="America/New_York", currency="USD")


@pytest.fixture
async def other_client(app, malls) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("other"), headers={"X-Client-Id": STOREFRONT}) as c:
        yield c


async def sign_up(client: httpx.AsyncClient, member_id: str = "jane", **over: object) -> dict:
    body = {"member_id": member_id, "password": PASSWORD, "name": "Jane Kim", "email": f"{member_id}@example.com",
            "mobile": "010-1234-5678", **over}  # fmt: skip
    response = await client.post(f"{SHOP}/members", json=body)
    assert response.status_code == 201, response.text
    return response.json()["member"]


async def login(client: httpx.AsyncClient, member_id: str = "jane", password: str = PASSWORD, **kw: object) -> dict:
    response = await client.post(f"{SHOP}/oauth/token", json={"member_id": member_id, "password": password, **kw})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def member_client(client: httpx.AsyncClient, member_id: str = "jane") -> tuple[dict, dict[str, str]]:
    """Signs up and logs in: (member, auth headers)."""
    member = await sign_up(client, member_id)
    tokens = await login(client, member_id)
    return member, bearer(tokens["access_token"])


async def events_of(app, type_: str, mall_id: str = "demo") -> list[dict]:
    async with session_scope(app.state.sessions, mall_id) as s:
        rows = await s.scalars(select(Event).where(Event.type == type_).order_by(Event.event_no))
        return [e.data for e in rows.all()]


@dataclass
class AdminApp:
    app_no: int
    operator_no: int
    mall_id: str


async def install_admin(app, mall_id: str = "demo") -> AdminApp:
    tag = secrets.token_hex(4)
    async with session_scope(app.state.sessions, mall_id) as s:
        developer = await oauth.create_developer(s, f"dev-{tag}@example.com", "Dev", "correct horse battery")
        made = await oauth.create_app(
            s, app.state.key, developer, name=f"CRM {tag}", app_url="https://crm.example.com/launch",
            redirect_uris=["https://crm.example.com/callback"], scopes=CUSTOMER_SCOPES, test_malls=[mall_id],
        )  # fmt: skip
        operator = await oauth.create_operator(s, f"owner{tag}", "Owner", "correct horse battery")
        s.add(Install(app_no=made.app.app_no, scopes=CUSTOMER_SCOPES, operator_no=operator.operator_no))
        return AdminApp(made.app.app_no, operator.operator_no, mall_id)


async def admin_token(app, tool: AdminApp, scopes: list[str]) -> dict[str, str]:
    token, now = new_secret("om_at_"), utcnow()
    async with session_scope(app.state.sessions, tool.mall_id) as s:
        s.add(Token(grant_id=secrets.token_hex(16), app_no=tool.app_no, operator_no=tool.operator_no,
                    scopes=sorted(scopes), access_digest=digest(app.state.key, token),
                    refresh_digest=digest(app.state.key, new_secret("om_rt_")), issued_at=now,
                    access_expires_at=now + timedelta(hours=2),
                    refresh_expires_at=now + timedelta(days=14)))  # fmt: skip
    return bearer(token)
