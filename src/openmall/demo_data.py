"""The demo mall: a believable clothing shop, made through the same services the API uses.

Deterministic (seeded), so that docs and tests can name what it holds. ``products`` can be raised to
hundreds of thousands for benchmarks; rows go in with bulk inserts, a chunk at a time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.catalog import service as catalog
from openmall.catalog.models import Brand, Category, Product
from openmall.catalog.schemas import CategoryIn, OptionIn, ProductIn
from openmall.oauth import service as oauth
from openmall.oauth.models import App, Developer, Operator

DEMO_MALL = "demo"
DEMO_MALL_NAME = "openmall Demo Apparel"
DEMO_OPERATOR = ("admin", "demo-admin-1234")  # printed by `openmall serve`; a demo, not a secret
DEMO_DEVELOPER = ("developer@example.com", "demo-developer-1234")
DEMO_STOREFRONT = "demo-storefront"  # the client id of the demo mall's storefront app (client ids are public)
DEMO_BACKOFFICE = "demo-backoffice"  # the demo mall's own back-office app: `openmall app token demo-backoffice`
BACKOFFICE_SCOPES = [
    f"mall.{kind}_{group}"
    for group in ("order", "customer", "mileage", "promotion", "product", "shipping", "application")
    for kind in ("read", "write")
] + ["mall.read_personal"]  # the merchant's own tool sees customers' names (without it they come masked)
CHUNK = 1000

# top-level category -> sub-categories
CATEGORIES: dict[str, list[str]] = {
    "Tops": ["T-shirts", "Shirts & Blouses", "Knitwear"],
    "Bottoms": ["Denim", "Slacks", "Skirts"],
    "Outerwear": ["Jackets", "Coats"],
    "Dresses": [],
    "Accessories": ["Bags", "Caps & Hats", "Socks"],
}
BRANDS = ["Haneul Basics", "Seoul Denim Co.", "Moonlight Atelier", "Jeju Knit", "Hangang Outdoor"]
COLORS = ["white", "ivory", "black", "navy", "beige", "grey", "khaki", "sky blue", "pink", "charcoal"]
TOP_SIZES = ["S", "M", "L", "XL"]
WAIST_SIZES = ["26", "28", "30", "32", "34"]


@dataclass(frozen=True)
class Item:
    noun: str
    category: str
    low: int  # price range in thousands of won
    high: int
    sizes: list[str] | None
    brand: int


ITEMS = [
    Item("Cotton T-shirt", "T-shirts", 12, 29, TOP_SIZES, 0),
    Item("Pocket Tee", "T-shirts", 14, 25, TOP_SIZES, 0),
    Item("Long Sleeve Tee", "T-shirts", 16, 33, TOP_SIZES, 0),
    Item("Oxford Shirt", "Shirts & Blouses", 29, 59, TOP_SIZES, 2),
    Item("Linen Shirt", "Shirts & Blouses", 35, 69, TOP_SIZES, 2),
    Item("Ruffle Blouse", "Shirts & Blouses", 32, 62, ["S", "M", "L"], 2),
    Item("Cable Knit Sweater", "Knitwear", 45, 99, TOP_SIZES, 3),
    Item("Cashmere Cardigan", "Knitwear", 89, 189, ["S", "M", "L"], 3),
    Item("Straight Jeans", "Denim", 39, 89, WAIST_SIZES, 1),
    Item("Wide Denim Pants", "Denim", 45, 95, WAIST_SIZES, 1),
    Item("Wool Slacks", "Slacks", 49, 99, WAIST_SIZES, 2),
    Item("Pleated Midi Skirt", "Skirts", 35, 79, ["S", "M", "L"], 2),
    Item("Denim Jacket", "Jackets", 59, 129, TOP_SIZES, 1),
    Item("Windbreaker", "Jackets", 49, 119, TOP_SIZES, 4),
    Item("Wool Coat", "Coats", 149, 329, TOP_SIZES, 2),
    Item("Padded Parka", "Coats", 129, 259, TOP_SIZES, 4),
    Item("Slip Dress", "Dresses", 45, 99, ["S", "M", "L"], 2),
    Item("Shirt Dress", "Dresses", 49, 109, ["S", "M", "L"], 2),
    Item("Canvas Tote Bag", "Bags", 19, 45, None, 0),
    Item("Leather Crossbody Bag", "Bags", 79, 189, None, 2),
    Item("Ball Cap", "Caps & Hats", 19, 39, None, 4),
    Item("Bucket Hat", "Caps & Hats", 22, 42, None, 4),
    Item("Crew Socks 3-Pack", "Socks", 8, 15, ["S", "M", "L"], 0),
]
ADJECTIVES = [
    "Classic",
    "Relaxed",
    "Everyday",
    "Essential",
    "Soft",
    "Vintage",
    "Premium",
    "Light",
    "Cozy",
    "Modern",
    "Washed",
    "Urban",
    "Weekend",
    "Signature",
    "Airy",
    "Minimal",
]


def _products(
    n: int, rng: random.Random, category_nos: dict[str, int], brand_nos: list[int], code_prefix: str
) -> Iterator[ProductIn]:
    for i in range(n):
        item = ITEMS[i % len(ITEMS)]
        round_no = i // len(ITEMS)
        if i % 7 == 3:  # every seventh product is a white-only item, for white-item sales
            colors = ["white"]
            name = f"White {item.noun}"
        else:
            colors = rng.sample(COLORS, rng.randint(2, 4))
            if i % 5 == 0 and "white" not in colors:
                colors[0] = "white"
            name = f"{ADJECTIVES[(i * 7 + round_no) % len(ADJECTIVES)]} {item.noun}"
        if round_no >= len(ADJECTIVES):
            name += f" No. {round_no + 1}"
        price = Decimal(rng.randint(item.low, item.high) * 1000 - 200)
        discounted = rng.random() < 0.35
        options = [OptionIn(name="Color", values=colors)]
        if item.sizes:
            options.append(OptionIn(name="Size", values=item.sizes))
        combos = [{"Color": c} for c in colors]
        if item.sizes:
            combos = [{"Color": c, "Size": s} for c in colors for s in item.sizes]
        all_sold_out = i % 19 == 5
        variants = []
        for combo in combos:
            v: dict[str, object] = {
                "options": combo,
                "quantity": 0 if all_sold_out or rng.random() < 0.12 else rng.randint(1, 80),
            }
            if combo.get("Size") in ("XL", "34"):
                v["additional_amount"] = "2000"
            variants.append(v)
        yield ProductIn(
            product_code=f"{code_prefix}{i + 1:06d}",
            name=name,
            summary=f"{name} in {', '.join(colors)}",
            description=f"{name} from our {item.category.lower()} line. Machine wash cold, dry flat.",
            price=price,
            retail_price=(price * Decimal("1.3")).quantize(Decimal("100")) if discounted else price,
            categories=[category_nos[item.category]],
            brand_no=brand_nos[item.brand],
            options=options,
            variants=variants,
            display=i % 23 != 11,  # a few hidden products, as a real back office has
        )


async def _category_nos(session: AsyncSession) -> dict[str, int]:
    existing = {(c.parent_category_no, c.name): c.category_no for c in await session.scalars(select(Category))}
    out: dict[str, int] = {}
    for order, (top, subs) in enumerate(CATEGORIES.items()):
        top_no = existing.get((None, top))
        if top_no is None:
            top_no = (await catalog.create_category(session, CategoryIn(name=top, display_order=order))).category_no
        out[top] = top_no
        for sub_order, sub in enumerate(subs):
            sub_no = existing.get((top_no, sub))
            if sub_no is None:
                sub_no = (
                    await catalog.create_category(
                        session, CategoryIn(name=sub, parent_category_no=top_no, display_order=sub_order)
                    )
                ).category_no
            out[sub] = sub_no
    return out


async def _brand_nos(session: AsyncSession) -> list[int]:
    existing = {b.name: b.brand_no for b in await session.scalars(select(Brand))}
    return [existing.get(name) or (await catalog.create_brand(session, name)).brand_no for name in BRANDS]


async def load_catalog(
    session: AsyncSession,
    products: int,
    *,
    seed: int = 2026,
    progress: Callable[[int], None] | None = None,
    commit_chunks: bool = False,
) -> int:
    """Create the demo categories and brands (if missing) and ``products`` products."""
    rng = random.Random(seed)
    category_nos = await _category_nos(session)
    brand_nos = await _brand_nos(session)
    prefix = await _free_prefix(session, "D", rng)
    made = 0
    batch: list[ProductIn] = []
    for data in _products(products, rng, category_nos, brand_nos, prefix):
        batch.append(data)
        if len(batch) == CHUNK:
            made += len(await catalog.create_products(session, batch))
            batch.clear()
            if commit_chunks:
                await session.commit()
            if progress:
                progress(CHUNK)
    if batch:
        made += len(await catalog.create_products(session, batch))
        if progress:
            progress(len(batch))
    await catalog.refresh_statistics(session)
    return made


async def _free_prefix(session: AsyncSession, prefix: str, rng: random.Random) -> str:
    """A product-code prefix not yet used in this mall, so that demo data can be loaded twice."""
    while await session.scalar(select(Product.product_no).where(Product.product_code == f"{prefix}000001")):
        prefix = f"D{rng.randint(0, 0xFFFF):04X}"
    return prefix


async def load_operator(session: AsyncSession) -> None:
    """The demo mall's operator account, unless it exists."""
    login_id, password = DEMO_OPERATOR
    if await session.scalar(select(Operator.operator_no).where(Operator.login_id == login_id)) is None:
        await oauth.create_operator(session, login_id, "Demo Operator", password)


async def load_storefront(session: AsyncSession, key: bytes) -> None:
    """The demo developer and the demo mall's storefront app (published, installed, no Admin scopes)."""
    email, password = DEMO_DEVELOPER
    developer = await session.scalar(select(Developer).where(Developer.email == email))
    if developer is None:
        developer = await oauth.create_developer(session, email, "Demo Developer", password)
    app = await session.scalar(select(App).where(App.client_id == DEMO_STOREFRONT))
    if app is None:
        made = await oauth.create_app(
            session, key, developer, name="Demo storefront", description="The demo mall's headless storefront.",
            app_url="http://localhost:3000/", redirect_uris=["http://localhost:3000/callback"],
            scopes=["mall.read_product", "mall.read_category"],
        )  # fmt: skip
        made.app.client_id = DEMO_STOREFRONT
        await session.flush()
        app = await oauth.approve_app(session, DEMO_STOREFRONT)  # reviewed: a rename waits for the next review
    mall_id = session.info["mall_id"]
    if await oauth.get_install(session, app) is None:
        await oauth.install_app(session, app, mall_id, None, [])
    backoffice = await session.scalar(select(App).where(App.client_id == DEMO_BACKOFFICE))
    if backoffice is None:
        made = await oauth.create_app(
            session, key, developer, name="Demo back office", description="The demo mall's own scripts.",
            app_url="http://localhost:3001/", redirect_uris=["http://localhost:3001/callback"],
            scopes=BACKOFFICE_SCOPES,
        )  # fmt: skip
        made.app.client_id = DEMO_BACKOFFICE
        await session.flush()
        backoffice = await oauth.approve_app(session, DEMO_BACKOFFICE)
    if await oauth.get_install(session, backoffice) is None:
        await oauth.install_app(session, backoffice, mall_id, None, BACKOFFICE_SCOPES)


DEMO_BUYER = ("demo-buyer", "demo-buyer-1234")  # a member of the demo mall, for the Shop API tour


async def load_shopping(session: AsyncSession) -> None:
    """A default member group (3 % off, 1 % mileage), a buyer with 5,000 mileage and an address, a
    downloadable 10 % cart coupon and a 15 % coupon on white items issued to the buyer, and the account bank
    transfers go to; unless there."""
    from datetime import timedelta

    from openmall.customers import mileage
    from openmall.customers import service as customers
    from openmall.customers.models import Member
    from openmall.customers.schemas import AddressIn, GroupIn, SignUpIn
    from openmall.kernel.db import utcnow
    from openmall.orders import bank_accounts
    from openmall.promotions import service as promotions
    from openmall.promotions.schemas import CouponIn

    if await bank_accounts.get_account(session) is None:
        await bank_accounts.put_account(session, bank="Hana Bank", account_number="123-456789-01",
                                        holder=DEMO_MALL_NAME)  # fmt: skip
    member_id, password = DEMO_BUYER
    if await session.scalar(select(Member.member_no).where(Member.member_id == member_id)) is not None:
        return
    if not await customers.list_groups(session):
        await customers.create_group(session, GroupIn(name="Silver", discount_rate=Decimal("3"),
                                                      mileage_rate=Decimal("1"), is_default=True))  # fmt: skip
    buyer = await customers.sign_up(session, SignUpIn(member_id=member_id, password=password, name="Kim Minji",
                                                      email="buyer@example.com", mobile="010-1234-5678"))  # fmt: skip
    await customers.add_address(session, buyer.member_no, AddressIn(
        label="Home", receiver_name="Kim Minji", receiver_phone="010-1234-5678", zip_code="04524",
        address1="110 Sejong-daero, Jung-gu, Seoul", address2="3F",
    ))  # fmt: skip
    await mileage.adjust(session, buyer.member_no, Decimal("5000"), reason="Welcome mileage")
    ends = utcnow() + timedelta(days=365)
    await promotions.create_coupon(session, CouponIn(
        name="10% off your order", kind="CART", discount_type="PERCENT", discount_rate=Decimal("10"),
        max_discount=Decimal("5000"), min_order_amount=Decimal("30000"), issue_type="DOWNLOAD", ends_at=ends,
    ))  # fmt: skip
    white = await promotions.create_coupon(session, CouponIn(
        name="White items 15% off", kind="PRODUCT", discount_type="PERCENT", discount_rate=Decimal("15"),
        max_discount=Decimal("10000"), target_option_values=[{"name": "Color", "value": "white"}], ends_at=ends,
    ))  # fmt: skip
    await promotions.issue(session, white.coupon_no, [buyer.member_no])
