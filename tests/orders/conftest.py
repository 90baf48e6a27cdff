"""Fixtures of the ordering tests: the catalog of ``tests/conftest.py`` with its variants named, members with
tokens (made through the ORM), coupons, addresses, a shipping policy, and Shop API clients of members and guests.

    async def test_x(shop, member_client):
        jane = await shop.member("jane", group_rate="10", mileage="5000")
        client = await member_client(jane)
        await client.post("/api/v2/shop/cart", json={"variant_no": shop.white_s, "quantity": 1})
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from openmall.catalog.models import Product, Variant
from openmall.customers.auth import issue_tokens
from openmall.customers.models import Address, Member, MemberGroup
from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.secrets import digest, new_secret
from openmall.oauth import service as oauth
from openmall.oauth.models import Install, Token
from openmall.orders import bank_accounts
from openmall.orders.models import CartItem, OrderSheet
from openmall.promotions.models import Coupon, IssuedCoupon
from tests.conftest import STOREFRONT, Shop, host

SHOP = "/api/v2/shop"
ADMIN = "/api/v2/admin"
CART = f"{SHOP}/cart"
SHEETS = f"{SHOP}/order-sheets"


@dataclass
class Buyer:
    """A member with a live access token."""

    member_no: int
    member_id: str
    token: str
    mall_id: str = "demo"

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Client-Id": STOREFRONT, "Authorization": f"Bearer {self.token}"}


@dataclass
class OrderShop:
    """The catalog of ``tests.conftest.shop`` (``catalog``) with its variants by name, and helpers that write
    straight to the database (members, groups, mileage, addresses, coupons, stock).

    Variants (mall demo): white tee ``white_s``/``white_m`` 19,800 stock 5 each; navy tee ``navy_s``/``navy_m``
    25,000 sold out; jeans 59,000: ``jeans_navy_28`` stock 3, ``jeans_navy_30`` 0, ``jeans_black_28`` 1,
    ``jeans_black_30`` 7 (+2,000.50, a fraction: not orderable); ``hidden_variant`` (product not displayed),
    ``not_selling_variant`` (product not on sale); ``other_mall_variant`` (mall other, stock 2)."""

    app: Any
    catalog: Shop
    variants: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["variants"][name]
        except KeyError:
            raise AttributeError(name) from None

    # ---- members -------------------------------------------------------------------------------------------

    async def member(
        self,
        member_id: str | None = None,
        *,
        group_rate: str | Decimal | None = None,
        mileage: str | Decimal = "0",
        mall_id: str = "demo",
    ) -> Buyer:
        """A member (optionally in a new group with ``group_rate`` % off, and with a mileage balance) and a token."""
        member_id = member_id or f"m{secrets.token_hex(4)}"
        async with session_scope(self.app.state.sessions, mall_id) as s:
            group_no = None
            if group_rate is not None:
                group = MemberGroup(name=f"G{secrets.token_hex(3)}", discount_rate=Decimal(group_rate),
                                    mileage_rate=Decimal("1"))  # fmt: skip
                s.add(group)
                await s.flush()
                group_no = group.group_no
            member = Member(member_id=member_id, name=member_id.title(), email=f"{member_id}@example.com",
                            group_no=group_no, mileage_balance=Decimal(mileage))  # fmt: skip
            s.add(member)
            await s.flush()
            tokens = await issue_tokens(s, self.app.state.key, member, False)
            return Buyer(member.member_no, member_id, tokens.access_token, mall_id)

    async def mileage_of(self, buyer: Buyer) -> Decimal:
        async with session_scope(self.app.state.sessions, buyer.mall_id) as s:
            return await s.scalar(select(Member.mileage_balance).where(Member.member_no == buyer.member_no))

    async def address(self, buyer: Buyer, zip_code: str = "04524", *, default: bool = True) -> int:
        async with session_scope(self.app.state.sessions, buyer.mall_id) as s:
            row = Address(member_no=buyer.member_no, receiver_name="Jane Kim", receiver_phone="010-1234-5678",
                          zip_code=zip_code, address1="1 Sejong-daero", address2="", is_default=default)  # fmt: skip
            s.add(row)
            await s.flush()
            return row.address_no

    # ---- coupons -------------------------------------------------------------------------------------------

    async def coupon(
        self,
        buyer: Buyer,
        kind: str = "CART",
        discount_type: str = "FIXED",
        value: str = "3000",
        *,
        max_discount: str | None = None,
        min_order_amount: str = "0",
        target_product_nos: list[int] | None = None,
        target_category_nos: list[int] | None = None,
        target_option_values: list[dict[str, str]] | None = None,
        ends_in: timedelta = timedelta(days=30),
    ) -> int:
        """A coupon issued to ``buyer``: its issued_coupon_no."""
        percent = discount_type == "PERCENT"
        async with session_scope(self.app.state.sessions, buyer.mall_id) as s:
            coupon = Coupon(
                name=f"{kind.title()} {value}{'%' if percent else ''}", kind=kind, discount_type=discount_type,
                discount_amount=Decimal("0") if percent else Decimal(value),
                discount_rate=Decimal(value) if percent else Decimal("0"),
                max_discount=Decimal(max_discount) if max_discount else None,
                min_order_amount=Decimal(min_order_amount), target_product_nos=target_product_nos or [],
                target_category_nos=target_category_nos or [], target_option_values=target_option_values or [],
                starts_at=utcnow() - timedelta(minutes=1), ends_at=utcnow() + ends_in, issued_count=1,
            )  # fmt: skip
            s.add(coupon)
            await s.flush()
            issued = IssuedCoupon(coupon_no=coupon.coupon_no, member_no=buyer.member_no)
            s.add(issued)
            await s.flush()
            return issued.issued_coupon_no

    # ---- catalog -------------------------------------------------------------------------------------------

    async def set_variant(self, variant_no: int, mall_id: str = "demo", **values: Any) -> None:
        """Change a variant's columns (quantity, selling, display, additional_amount)."""
        async with session_scope(self.app.state.sessions, mall_id) as s:
            await s.execute(update(Variant).where(Variant.variant_no == variant_no).values(**values))

    async def set_stock(self, variant_no: int, quantity: int, mall_id: str = "demo") -> None:
        await self.set_variant(variant_no, mall_id, quantity=quantity)

    async def set_product(self, product_no: int, mall_id: str = "demo", **values: Any) -> None:
        async with session_scope(self.app.state.sessions, mall_id) as s:
            await s.execute(update(Product).where(Product.product_no == product_no).values(**values))

    async def stock(self, variant_no: int, mall_id: str = "demo") -> int:
        async with session_scope(self.app.state.sessions, mall_id) as s:
            return await s.scalar(select(Variant.quantity).where(Variant.variant_no == variant_no))

    # ---- what a refused call must leave as it was ----------------------------------------------------------

    async def cart_rows(self, mall_id: str = "demo") -> list[tuple]:
        async with session_scope(self.app.state.sessions, mall_id) as s:
            rows = await s.execute(select(CartItem.cart_item_no, CartItem.member_no, CartItem.guest_key,
                                          CartItem.variant_no, CartItem.quantity, CartItem.selected)
                                   .order_by(CartItem.cart_item_no))  # fmt: skip
            return [tuple(r) for r in rows.all()]

    async def sheet_row(self, order_sheet_no: str, mall_id: str = "demo") -> dict[str, Any]:
        async with session_scope(self.app.state.sessions, mall_id) as s:
            sheet = await s.scalar(select(OrderSheet).where(OrderSheet.order_sheet_no == order_sheet_no))
            assert sheet is not None
            return {"items": sheet.items, "choices": sheet.choices, "priced": sheet.priced,
                    "amount_to_pay": sheet.amount_to_pay, "status": sheet.status,
                    "tracking_key": sheet.tracking_key, "channel_type": sheet.channel_type}  # fmt: skip

    async def expire_sheet(self, order_sheet_no: str, mall_id: str = "demo") -> None:
        async with session_scope(self.app.state.sessions, mall_id) as s:
            await s.execute(update(OrderSheet).where(OrderSheet.order_sheet_no == order_sheet_no)
                            .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip

    async def admin_headers(self, scopes: list[str], mall_id: str = "demo") -> dict[str, str]:
        """An Admin API bearer token holding ``scopes``, of an app installed on the mall."""
        tag = secrets.token_hex(4)
        async with session_scope(self.app.state.sessions, mall_id) as s:
            developer = await oauth.create_developer(s, f"dev-{tag}@example.com", "Dev", "correct horse battery")
            made = await oauth.create_app(
                s, self.app.state.key, developer, name=f"Order tool {tag}", app_url="https://tool.example.com/",
                redirect_uris=["https://tool.example.com/cb"], scopes=scopes, test_malls=[mall_id],
            )  # fmt: skip
            operator = await oauth.create_operator(s, f"owner{tag}", "Owner", "correct horse battery")
            s.add(Install(app_no=made.app.app_no, scopes=scopes, operator_no=operator.operator_no))
            token, now = new_secret("om_at_"), utcnow()
            s.add(Token(grant_id=secrets.token_hex(16), app_no=made.app.app_no, operator_no=operator.operator_no,
                        scopes=sorted(scopes), access_digest=digest(self.app.state.key, token),
                        refresh_digest=digest(self.app.state.key, new_secret("om_rt_")), issued_at=now,
                        access_expires_at=now + timedelta(hours=2),
                        refresh_expires_at=now + timedelta(days=14)))  # fmt: skip
        return {"Authorization": f"Bearer {token}"}


async def _variants(app, mall_id: str, product_no: int) -> list[Variant]:
    async with session_scope(app.state.sessions, mall_id) as s:
        return list((await s.scalars(select(Variant).where(Variant.product_no == product_no)
                                      .order_by(Variant.variant_no))).all())  # fmt: skip


def _by_options(variants: list[Variant]) -> dict[tuple[str, ...], int]:
    return {tuple(o["value"] for o in v.option_values): v.variant_no for v in variants}


BANK = {"bank": "Hana Bank", "account": "123-456789-01", "holder": "Demo Apparel Co."}


@pytest.fixture
async def shop(app, shop: Shop) -> OrderShop:  # extends tests.conftest.shop
    white = _by_options(await _variants(app, "demo", shop.white_tee))
    navy = _by_options(await _variants(app, "demo", shop.navy_tee))
    jeans = _by_options(await _variants(app, "demo", shop.jeans))
    hidden = await _variants(app, "demo", shop.hidden)
    not_selling = await _variants(app, "demo", shop.not_selling)
    other = await _variants(app, "other", shop.other_mall_product)
    async with session_scope(app.state.sessions, "demo") as s:  # give the two single-variant products stock
        await s.execute(update(Variant).where(Variant.variant_no.in_([hidden[0].variant_no,
                                                                      not_selling[0].variant_no]))
                        .values(quantity=10))  # fmt: skip
        # the demo mall takes bank transfers (the "other" mall does not)
        await bank_accounts.put_account(s, bank=BANK["bank"], account_number=BANK["account"], holder=BANK["holder"])
    variants = {
        "white_s": white[("white", "S")], "white_m": white[("white", "M")],
        "navy_s": navy[("navy", "S")], "navy_m": navy[("navy", "M")],
        "jeans_navy_28": jeans[("navy", "28")], "jeans_navy_30": jeans[("navy", "30")],
        "jeans_black_28": jeans[("black", "28")], "jeans_black_30": jeans[("black", "30")],
        "hidden_variant": hidden[0].variant_no, "not_selling_variant": not_selling[0].variant_no,
        "other_mall_variant": other[0].variant_no,
    }  # fmt: skip
    return OrderShop(app, shop, variants)


MemberClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def member_client(app, shop: OrderShop) -> AsyncIterator[MemberClient]:
    """``await member_client(buyer_or_member_id=None, **member_kw)``: a Shop API client (X-Client-Id and the
    member's Bearer token) on the member's mall; a member id or None makes the member first (``shop.member``).
    The client's ``buyer`` attribute is the member."""
    clients: list[httpx.AsyncClient] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def make(buyer: Buyer | str | None = None, **member_kw: Any) -> httpx.AsyncClient:
        if not isinstance(buyer, Buyer):
            buyer = await shop.member(buyer, **member_kw)
        client = httpx.AsyncClient(transport=transport, base_url=host(buyer.mall_id), headers=buyer.headers)
        client.buyer = buyer  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


@pytest.fixture
async def guest_client(app, shop: OrderShop) -> AsyncIterator[httpx.AsyncClient]:
    """A storefront client of a guest: X-Client-Id and a random X-Guest-Key (``client.headers``)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"X-Client-Id": STOREFRONT, "X-Guest-Key": secrets.token_hex(16)}
    async with httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers) as c:
        yield c
