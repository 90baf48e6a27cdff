"""The catalog's Admin API as an app uses it: a bearer token with scopes, writes the storefront sees at once."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from openmall.catalog.models import Brand, Category, Product, ProductCategory, Variant
from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.secrets import digest, new_secret
from openmall.oauth import service as oauth
from openmall.oauth.models import Install, Token
from tests.conftest import Shop, assert_error, host

ADMIN = "/api/v2/admin"
ALL_SCOPES = [
    "mall.write_product",
    "mall.read_product",
    "mall.write_category",
    "mall.read_category",
]


@dataclass
class Admin:
    """Clients of one installed app: ``write`` holds every catalog scope, ``read`` only the read ones."""

    write: httpx.AsyncClient
    read: httpx.AsyncClient
    shop: httpx.AsyncClient  # the Shop API, as a storefront with this app's client id
    client_id: str


@dataclass
class Tool:
    """An app installed on a mall by one of its operators."""

    app_no: int
    client_id: str
    operator_no: int
    mall_id: str


async def install_tool(app, mall_id: str = "demo") -> Tool:
    tag = secrets.token_hex(4)
    async with session_scope(app.state.sessions, mall_id) as s:
        developer = await oauth.create_developer(s, f"dev-{tag}@example.com", "Dev", "correct horse battery")
        made = await oauth.create_app(
            s, app.state.key, developer, name=f"Catalog tool {tag}", app_url="https://tool.example.com/launch",
            redirect_uris=["https://tool.example.com/callback"], scopes=ALL_SCOPES, test_malls=[mall_id],
        )  # fmt: skip
        operator = await oauth.create_operator(s, f"owner{tag}", "Owner", "correct horse battery")
        s.add(Install(app_no=made.app.app_no, scopes=ALL_SCOPES, operator_no=operator.operator_no))
        return Tool(made.app.app_no, made.app.client_id, operator.operator_no, mall_id)


async def issue_token(app, tool: Tool, scopes: list[str]) -> str:
    """An access token straight in the database, as the OAuth flow would have issued it."""
    token, now = new_secret("om_at_"), utcnow()
    async with session_scope(app.state.sessions, tool.mall_id) as s:
        s.add(
            Token(
                grant_id=secrets.token_hex(16),
                app_no=tool.app_no,
                operator_no=tool.operator_no,
                scopes=sorted(scopes),
                access_digest=digest(app.state.key, token),
                refresh_digest=digest(app.state.key, new_secret("om_rt_")),
                issued_at=now,
                access_expires_at=now + timedelta(hours=2),
                refresh_expires_at=now + timedelta(days=14),
            )
        )
    return token


@pytest.fixture
async def admin(app, shop) -> Admin:
    tool = await install_tool(app)
    token = await issue_token(app, tool, ALL_SCOPES)
    read_token = await issue_token(app, tool, [s for s in ALL_SCOPES if ".read_" in s])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def make(headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url=host("demo"), headers=headers)

    async with (
        make({"Authorization": f"Bearer {token}"}) as write,
        make({"Authorization": f"Bearer {read_token}"}) as read,
        make({"X-Client-Id": tool.client_id}) as storefront,
    ):
        yield Admin(write, read, storefront, tool.client_id)


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def snapshot(app) -> dict:
    """What a refused write must leave as it was."""
    async with session_scope(app.state.sessions, "demo") as s:
        products = (await s.execute(select(Product.product_no, Product.name, Product.price, Product.display,
                                           Product.product_code, Product.brand_no, Product.options))).all()  # fmt: skip
        variants = (await s.execute(select(Variant.variant_no, Variant.quantity, Variant.option_values,
                                           Variant.variant_code, Variant.additional_amount))).all()  # fmt: skip
        links = (await s.execute(select(ProductCategory.product_no, ProductCategory.category_no))).all()
        categories = (await s.execute(select(Category.category_no, Category.parent_category_no, Category.name))).all()
        brands = (await s.execute(select(Brand.brand_no, Brand.name))).all()
    return {
        "products": sorted(map(tuple, products), key=str),
        "variants": sorted(map(tuple, variants), key=str),
        "links": sorted(map(tuple, links)),
        "categories": sorted(map(tuple, categories), key=str),
        "brands": sorted(map(tuple, brands)),
    }


NEW_PRODUCT = {
    "name": "Linen Shirt",
    "product_code": "SHIRT-LINEN",
    "price": "39000.00",
    "retail_price": "45000",
    "summary": "Cool in summer",
    "options": [{"name": "Color", "values": ["white", "sand"]}, {"name": "Size", "values": ["M", "L"]}],
    "default_quantity": 3,
}


# ---- the door ------------------------------------------------------------------------------------------


async def test_a_token_is_needed_and_a_read_scope_cannot_write(app, admin: Admin, shop: Shop):
    anonymous = await admin.shop.get(f"{ADMIN}/products")
    assert_error(anonymous, 401, "access token")
    before = await snapshot(app)
    err = assert_error(
        await admin.read.put(f"{ADMIN}/products/{shop.jeans}", json={"request": {"price": "1000"}}),
        403,
        "mall.write_product",
    )
    assert err["more_info"]["required_scope"] == "mall.write_product"
    assert_error(await admin.read.post(f"{ADMIN}/products", json={"request": NEW_PRODUCT}), 403, "mall.write_product")
    assert_error(await admin.read.post(f"{ADMIN}/brands", json={"request": {"name": "X"}}), 403, "mall.write_product")
    assert_error(await admin.read.delete(f"{ADMIN}/categories/{shop.tops}"), 403, "mall.write_category")
    assert await snapshot(app) == before
    assert ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}"))["product"]["price"] == "59000.00"


async def test_a_token_of_another_mall_is_refused(app, admin: Admin, shop: Shop):
    token = await issue_token(app, await install_tool(app, "other"), ALL_SCOPES)
    r = await admin.shop.get(f"{ADMIN}/products", headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401)


# ---- products: reads -----------------------------------------------------------------------------------


async def test_the_list_shows_every_product_with_admin_fields(admin: Admin, shop: Shop):
    body = ok(await admin.read.get(f"{ADMIN}/products", params={"limit": 100}))
    listed = {p["product_no"]: p for p in body["products"]}
    assert set(listed) == {shop.white_tee, shop.navy_tee, shop.jeans, shop.hidden, shop.not_selling}
    hidden = listed[shop.hidden]
    assert hidden["display"] is False and hidden["product_code"] == "HIDDEN-1"
    assert listed[shop.not_selling]["selling"] is False
    jeans = listed[shop.jeans]
    assert jeans["total_quantity"] == 11 and jeans["variant_count"] == 4 and jeans["sold_out"] is False
    assert listed[shop.navy_tee]["sold_out"] is True and listed[shop.navy_tee]["total_quantity"] == 0
    assert jeans["retail_price"] == "59000.00" and jeans["created_date"].endswith("+09:00")
    assert "variants" not in jeans and "options" not in jeans


async def test_list_filters(admin: Admin, shop: Shop):
    async def nos(**params) -> list[int]:
        return [p["product_no"] for p in ok(await admin.read.get(f"{ADMIN}/products", params=params))["products"]]

    assert await nos(display="F") == [shop.hidden]
    assert await nos(selling="F") == [shop.not_selling]
    assert await nos(display="T", selling="true") == [shop.white_tee, shop.navy_tee, shop.jeans]
    assert await nos(category=shop.tops) == [shop.white_tee, shop.navy_tee]  # with sub-categories
    assert await nos(keyword="secret") == [shop.hidden]
    assert await nos(product_no=f"{shop.jeans},{shop.hidden},{shop.other_mall_product}") == [shop.jeans, shop.hidden]
    assert await nos(limit=2, since_no=shop.white_tee) == [shop.navy_tee, shop.jeans]
    assert await nos(sort="-price", limit=1) == [shop.not_selling]
    assert ok(await admin.read.get(f"{ADMIN}/products/count", params={"display": "T"})) == {"count": 4}
    assert_error(await admin.read.get(f"{ADMIN}/products", params={"display": "maybe"}), 422, "display")
    assert_error(await admin.read.get(f"{ADMIN}/products", params={"limit": 501}), 422, "500")


async def test_fields_and_embed(admin: Admin, shop: Shop):
    body = ok(await admin.read.get(f"{ADMIN}/products", params={"fields": "product_no,display", "limit": 1}))
    assert body == {"products": [{"product_no": shop.white_tee, "display": True}]}
    body = ok(await admin.read.get(f"{ADMIN}/products", params={"product_no": shop.jeans, "embed": "variants"}))
    variants = body["products"][0]["variants"]
    assert [v["quantity"] for v in variants] == [3, 0, 1, 7]
    assert variants[3]["price"] == "61000.50" and variants[3]["additional_amount"] == "2000.50"
    assert "options" not in body["products"][0]
    one = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}", params={"fields": "name", "embed": "variants"}))
    assert set(one["product"]) == {"name", "variants"}
    one = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}", params={"embed": "options"}))
    assert one["product"]["options"][1] == {"name": "Waist", "values": ["28", "30"]}
    assert_error(await admin.read.get(f"{ADMIN}/products", params={"embed": "reviews"}), 422, "reviews")
    assert_error(await admin.read.get(f"{ADMIN}/products", params={"fields": "secret"}), 422, "secret")


async def test_hidden_products_are_readable_but_other_malls_are_not(admin: Admin, shop: Shop):
    assert ok(await admin.read.get(f"{ADMIN}/products/{shop.hidden}"))["product"]["name"] == "Secret Sample"
    assert_error(await admin.read.get(f"{ADMIN}/products/{shop.other_mall_product}"), 404, "does not exist")
    assert_error(await admin.read.get(f"{ADMIN}/products/99999999"), 404, "99999999")
    assert_error(await admin.read.get(f"{ADMIN}/products/99999999/variants"), 404, "99999999")


# ---- products: writes ----------------------------------------------------------------------------------


async def test_create_then_read_back_and_see_it_in_the_shop(admin: Admin, shop: Shop):
    r = await admin.write.post(f"{ADMIN}/products", json={"request": {**NEW_PRODUCT, "categories": [shop.tshirts]}})
    created = ok(r, 201)["product"]
    no = created["product_no"]
    assert created["price"] == "39000.00" and created["retail_price"] == "45000.00"
    assert created["total_quantity"] == 12 and len(created["variants"]) == 4
    assert created["options"][0] == {"name": "Color", "values": ["white", "sand"]}
    again = ok(await admin.read.get(f"{ADMIN}/products/{no}", params={"embed": "variants,options"}))["product"]
    assert again == created
    in_shop = ok(await admin.shop.get(f"/api/v2/shop/products/{no}"))["product"]
    assert in_shop["name"] == "Linen Shirt" and in_shop["categories"] == [shop.tshirts]
    assert no in [p["product_no"] for p in ok(await admin.shop.get("/api/v2/shop/products"))["products"]]


async def test_a_hidden_product_stays_out_of_the_shop(admin: Admin):
    r = await admin.write.post(f"{ADMIN}/products", json={"request": {**NEW_PRODUCT, "display": False}})
    no = ok(r, 201)["product"]["product_no"]
    assert_error(await admin.shop.get(f"/api/v2/shop/products/{no}"), 404)
    shown = ok(await admin.write.put(f"{ADMIN}/products/{no}", json={"request": {"display": True}}))["product"]
    assert shown["display"] is True
    assert ok(await admin.shop.get(f"/api/v2/shop/products/{no}"))["product"]["product_no"] == no


async def test_update_price_reaches_the_shop(app, admin: Admin, shop: Shop):
    before = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]
    r = await admin.write.put(f"{ADMIN}/products/{shop.jeans}", json={"request": {"price": "49000", "name": "Jeans"}})
    updated = ok(r)["product"]
    assert updated["price"] == "49000.00" and updated["name"] == "Jeans"
    assert updated["retail_price"] == "59000.00"  # not named: unchanged
    after = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]
    assert after["price"] == "49000.00" and after["variants"][3]["price"] == "51000.50"
    assert after["updated_date"] >= before["updated_date"]
    listed = ok(await admin.shop.get("/api/v2/shop/products", params={"product_no": shop.jeans}))["products"]
    assert listed[0]["price"] == "49000.00"
    async with session_scope(app.state.sessions, "demo") as s:  # the stored document was rendered again
        assert '"price":"49000.00"' in (await s.scalar(select(Product.detail_doc).where(
            Product.product_no == shop.jeans)) or "")  # fmt: skip


async def test_update_categories_and_brand(admin: Admin, shop: Shop):
    brand = ok(await admin.write.post(f"{ADMIN}/brands", json={"request": {"name": "Denim Co"}}), 201)["brand"]
    r = await admin.write.put(
        f"{ADMIN}/products/{shop.jeans}",
        json={"request": {"categories": [shop.tops, shop.bottoms], "brand_no": brand["brand_no"]}},
    )
    assert ok(r)["product"]["categories"] == [shop.tops, shop.bottoms]
    in_shop = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]
    assert in_shop["categories"] == [shop.tops, shop.bottoms] and in_shop["brand_no"] == brand["brand_no"]
    listed = ok(await admin.shop.get("/api/v2/shop/products", params={"category": shop.tops}))["products"]
    assert shop.jeans in [p["product_no"] for p in listed]
    r = await admin.write.put(f"{ADMIN}/products/{shop.jeans}", json={"request": {"brand_no": None}})
    assert ok(r)["product"]["brand_no"] is None


async def test_delete_is_gone_on_both_apis(app, admin: Admin, shop: Shop):
    assert ok(await admin.write.delete(f"{ADMIN}/products/{shop.jeans}")) == {"product": {"product_no": shop.jeans}}
    assert_error(await admin.read.get(f"{ADMIN}/products/{shop.jeans}"), 404, str(shop.jeans))
    assert_error(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"), 404)
    assert_error(await admin.write.delete(f"{ADMIN}/products/{shop.jeans}"), 404)
    async with session_scope(app.state.sessions, "demo") as s:
        assert await s.scalar(select(func.count()).select_from(Variant).where(Variant.product_no == shop.jeans)) == 0


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"price": 49000.5}, 422, ["price", "float"]),
        ({"price": "49000.123"}, 422, ["price"]),
        ({"price": "-1"}, 422, ["price"]),
        ({"colour": "red"}, 422, ["colour"]),
        ({"name": None}, 422, ["name", "null"]),
        ({"name": "Renamed", "categories": [999999]}, 422, ["category 999999"]),
        ({"name": "Renamed", "brand_no": 999999}, 422, ["brand 999999"]),
        ({"name": "Renamed", "product_code": "TEE-WHITE"}, 409, ["TEE-WHITE"]),
    ],
)
async def test_bad_updates_change_nothing(app, admin: Admin, shop: Shop, change, status, words):
    before = await snapshot(app)
    err = assert_error(await admin.write.put(f"{ADMIN}/products/{shop.jeans}", json={"request": change}), status)
    for word in words:
        assert word in err["message"] or word in str(err["more_info"]), err
    assert await snapshot(app) == before


async def test_a_price_cannot_fall_below_a_variant_discount(app, admin: Admin, shop: Shop):
    variant = await first_variant(admin, shop.jeans)
    url = f"{ADMIN}/products/{shop.jeans}/variants/{variant}"
    ok(await admin.write.put(url, json={"request": {"additional_amount": "-2000"}}))
    before = await snapshot(app)
    r = await admin.write.put(f"{ADMIN}/products/{shop.jeans}", json={"request": {"price": "1000"}})
    assert_error(r, 422, "negative")
    assert await snapshot(app) == before


async def test_bad_creates_change_nothing(app, admin: Admin, shop: Shop):
    before = await snapshot(app)
    cases = [
        ({"request": {**NEW_PRODUCT, "price": 39000.0}}, 422, "float"),
        ({"request": {**NEW_PRODUCT, "sku": "x"}}, 422, "sku"),
        ({**NEW_PRODUCT}, 422, "request"),  # not wrapped
        ({"request": {**NEW_PRODUCT, "product_code": "TEE-WHITE"}}, 409, "TEE-WHITE"),
        ({"request": {**NEW_PRODUCT, "categories": [shop.tops, 999999]}}, 422, "999999"),
        ({"request": {**NEW_PRODUCT, "default_quantity": -1}}, 422, "default_quantity"),
    ]
    for body, status, word in cases:
        err = assert_error(await admin.write.post(f"{ADMIN}/products", json=body), status)
        assert word in err["message"] or word in str(err["more_info"]), err
    assert await snapshot(app) == before


# ---- variants and stock --------------------------------------------------------------------------------


async def first_variant(admin: Admin, product_no: int) -> int:
    return ok(await admin.read.get(f"{ADMIN}/products/{product_no}/variants"))["variants"][0]["variant_no"]


async def test_variants_read_and_update(admin: Admin, shop: Shop):
    variants = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}/variants"))["variants"]
    assert [v["quantity"] for v in variants] == [3, 0, 1, 7]
    sold_out = variants[1]["variant_no"]
    one = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}/variants/{sold_out}"))["variant"]
    assert one == variants[1]
    r = await admin.write.put(
        f"{ADMIN}/products/{shop.jeans}/variants/{sold_out}",
        json={"request": {"quantity": 4, "additional_amount": "1000", "variant_code": "JEANS-NAVY-30"}},
    )
    changed = ok(r)["variant"]
    assert changed["quantity"] == 4 and changed["price"] == "60000.00" and changed["variant_code"] == "JEANS-NAVY-30"
    in_shop = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]["variants"][1]
    assert in_shop["stock_status"] == "in_stock" and in_shop["price"] == "60000.00"
    r = await admin.write.put(
        f"{ADMIN}/products/{shop.jeans}/variants/{sold_out}", json={"request": {"display": False}}
    )
    assert ok(r)["variant"]["display"] is False
    assert len(ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]["variants"]) == 3
    assert_error(await admin.read.get(f"{ADMIN}/products/{shop.white_tee}/variants/{sold_out}"), 404, "no variant")


async def test_bad_variant_updates_change_nothing(app, admin: Admin, shop: Shop):
    variant = await first_variant(admin, shop.jeans)
    url = f"{ADMIN}/products/{shop.jeans}/variants/{variant}"
    before = await snapshot(app)
    assert_error(await admin.write.put(url, json={"request": {"quantity": -1}}), 422, "quantity")
    assert_error(await admin.write.put(url, json={"request": {"quantity": 2.5}}), 422, "quantity")
    assert_error(await admin.write.put(url, json={"request": {"additional_amount": 100.0}}), 422, "float")
    assert_error(await admin.write.put(url, json={"request": {"additional_amount": "-60000"}}), 422, "negative")
    assert_error(await admin.write.put(url, json={"request": {"variant_code": "TEE-WHITE-001"}}), 409, "TEE-WHITE-001")
    assert await snapshot(app) == before


async def test_inventory_set_and_adjust(admin: Admin, shop: Shop):
    variant = await first_variant(admin, shop.white_tee)
    url = f"{ADMIN}/products/{shop.white_tee}/variants/{variant}/inventories"
    assert ok(await admin.read.get(url))["inventory"]["quantity"] == 5
    assert ok(await admin.write.put(url, json={"request": {"quantity": 2}}))["inventory"]["quantity"] == 2
    assert ok(await admin.write.put(url, json={"request": {"adjust": 3}}))["inventory"]["quantity"] == 5
    assert ok(await admin.write.put(url, json={"request": {"adjust": -5}}))["inventory"]["quantity"] == 0
    tee = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.white_tee}"))["product"]
    assert tee["variants"][0]["stock_status"] == "sold_out" and tee["sold_out"] is False  # the other size has stock


async def test_two_takers_of_the_last_items_cannot_both_succeed(admin: Admin, shop: Shop):
    variant = await first_variant(admin, shop.white_tee)
    url = f"{ADMIN}/products/{shop.white_tee}/variants/{variant}/inventories"
    take = {"request": {"adjust": -3}}
    first, second = await asyncio.gather(admin.write.put(url, json=take), admin.write.put(url, json=take))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    assert ok(await admin.read.get(url))["inventory"]["quantity"] == 2


async def test_stock_never_goes_below_zero(app, admin: Admin, shop: Shop):
    variant = await first_variant(admin, shop.white_tee)
    url = f"{ADMIN}/products/{shop.white_tee}/variants/{variant}/inventories"
    before = await snapshot(app)
    err = assert_error(await admin.write.put(url, json={"request": {"adjust": -6}}), 409, "below zero")
    assert err["more_info"] == {"quantity": 5, "adjust": -6}
    assert_error(await admin.write.put(url, json={"request": {"quantity": -1}}), 422, "quantity")
    assert_error(await admin.write.put(url, json={"request": {"quantity": 1, "adjust": 1}}), 422, "either")
    assert_error(await admin.write.put(url, json={"request": {}}), 422, "either")
    assert_error(await admin.write.put(url, json={"request": {"adjust": "-1"}}), 422, "adjust")
    missing = f"{ADMIN}/products/{shop.white_tee}/variants/99999999/inventories"
    assert_error(await admin.write.put(missing, json={"request": {"adjust": 1}}), 404, "99999999")
    assert await snapshot(app) == before
    assert ok(await admin.read.get(url))["inventory"]["quantity"] == 5


# ---- options -------------------------------------------------------------------------------------------


async def test_options_rename_and_add_values(admin: Admin, shop: Shop):
    url = f"{ADMIN}/products/{shop.jeans}/options"
    before = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}/variants"))["variants"]
    assert ok(await admin.read.get(url))["options"][0] == {"name": "Color", "values": ["navy", "black"]}
    colour = {"name": "Colour", "original_name": "Color", "values": ["indigo", "black"],
              "renamed_values": {"navy": "indigo"}}  # fmt: skip
    change = {"options": [colour, {"name": "Waist", "values": ["28", "30", "32"]}], "default_quantity": 2}
    product = ok(await admin.write.put(url, json={"request": change}))["product"]
    assert product["options"] == [{"name": "Colour", "values": ["indigo", "black"]},
                                  {"name": "Waist", "values": ["28", "30", "32"]}]  # fmt: skip
    variants = product["variants"]
    assert len(variants) == 6
    kept = {v["variant_no"]: v for v in variants[:4]}
    for old in before:  # same numbers, codes and stock; new names
        assert kept[old["variant_no"]]["quantity"] == old["quantity"]
        assert kept[old["variant_no"]]["variant_code"] == old["variant_code"]
    assert kept[before[0]["variant_no"]]["options"] == [{"name": "Colour", "value": "indigo"},
                                                        {"name": "Waist", "value": "28"}]  # fmt: skip
    added = [[o["value"] for o in v["options"]] for v in variants[4:]]
    assert added == [["indigo", "32"], ["black", "32"]] and {v["quantity"] for v in variants[4:]} == {2}
    in_shop = ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]
    assert in_shop["options"][0]["name"] == "Colour" and len(in_shop["variants"]) == 6


async def test_options_that_would_lose_stock_or_merge_variants_are_refused(app, admin: Admin, shop: Shop):
    url = f"{ADMIN}/products/{shop.jeans}/options"
    before = await snapshot(app)
    drop_navy = [{"name": "Color", "values": ["black"]}, {"name": "Waist", "values": ["28", "30"]}]
    assert_error(await admin.write.put(url, json={"request": {"options": drop_navy}}), 409, "in stock")
    drop_waist = [{"name": "Color", "values": ["navy", "black"]}]
    assert_error(await admin.write.put(url, json={"request": {"options": drop_waist}}), 422, "merge")
    clash = [{"name": "Color", "values": ["navy", "black"], "renamed_values": {"navy": "black"}},
             {"name": "Waist", "values": ["28", "30"]}]  # fmt: skip
    assert_error(await admin.write.put(url, json={"request": {"options": clash}}), 422, "black")
    unknown = [{"name": "Hue", "original_name": "Tint", "values": ["x"]}, {"name": "Waist", "values": ["28", "30"]}]
    assert_error(await admin.write.put(url, json={"request": {"options": unknown}}), 422, "Tint")
    assert await snapshot(app) == before


async def test_removing_a_value_without_stock_deletes_its_variants(admin: Admin, shop: Shop):
    url = f"{ADMIN}/products/{shop.jeans}/options"
    variants = ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}/variants"))["variants"]
    for v in variants:
        if v["options"][1]["value"] == "30" and v["quantity"]:
            inventory = f"{ADMIN}/products/{shop.jeans}/variants/{v['variant_no']}/inventories"
            ok(await admin.write.put(inventory, json={"request": {"quantity": 0}}))
    change = [{"name": "Color", "values": ["navy", "black"]}, {"name": "Waist", "values": ["28"]},
              {"name": "Fit", "values": ["regular", "slim"]}]  # fmt: skip
    product = ok(await admin.write.put(url, json={"request": {"options": change}}))["product"]
    combos = [[o["value"] for o in v["options"]] for v in product["variants"]]
    assert combos == [["navy", "28", "regular"], ["black", "28", "regular"], ["navy", "28", "slim"],
                      ["black", "28", "slim"]]  # fmt: skip
    assert [v["quantity"] for v in product["variants"]][:2] == [3, 1]


# ---- categories ----------------------------------------------------------------------------------------


async def test_categories_crud(admin: Admin, shop: Shop):
    listed = ok(await admin.read.get(f"{ADMIN}/categories", params={"limit": 100}))["categories"]
    by_no = {c["category_no"]: c for c in listed}
    assert by_no[shop.hidden_category]["display"] is False and shop.hidden_child in by_no  # hidden ones too
    r = await admin.write.post(
        f"{ADMIN}/categories", json={"request": {"name": "Shirts", "parent_category_no": shop.tops}}
    )
    created = ok(r, 201)["category"]
    assert created["depth"] == 2 and created["full_category_name"] == ["Tops", "Shirts"]
    no = created["category_no"]
    r = await admin.write.put(
        f"{ADMIN}/categories/{no}", json={"request": {"name": "Dress shirts", "parent_category_no": None}}
    )
    moved = ok(r)["category"]
    assert moved["depth"] == 1 and moved["parent_category_no"] is None and moved["name"] == "Dress shirts"
    assert ok(await admin.read.get(f"{ADMIN}/categories/{no}"))["category"] == moved
    shop_cats = ok(await admin.shop.get("/api/v2/shop/categories", params={"limit": 100}))["categories"]
    assert "Dress shirts" in [c["name"] for c in shop_cats]
    assert ok(await admin.write.delete(f"{ADMIN}/categories/{no}")) == {"category": {"category_no": no}}
    assert_error(await admin.read.get(f"{ADMIN}/categories/{no}"), 404, str(no))


async def test_a_category_cannot_be_its_own_ancestor(app, admin: Admin, shop: Shop):
    before = await snapshot(app)
    self_parent = await admin.write.put(
        f"{ADMIN}/categories/{shop.tops}", json={"request": {"parent_category_no": shop.tops}}
    )
    err = assert_error(self_parent, 422, "own ancestor")
    assert err["more_info"]["field"] == "parent_category_no"
    under_child = await admin.write.put(
        f"{ADMIN}/categories/{shop.tops}", json={"request": {"parent_category_no": shop.tshirts}}
    )
    assert_error(under_child, 422, "own ancestor")
    missing = await admin.write.put(f"{ADMIN}/categories/{shop.tops}", json={"request": {"parent_category_no": 999999}})
    assert_error(missing, 422, "999999")
    assert_error(
        await admin.write.put(f"{ADMIN}/categories/{shop.tops}", json={"request": {"name": None}}), 422, "null"
    )
    assert_error(await admin.write.delete(f"{ADMIN}/categories/{shop.tops}"), 409, "sub-categories")
    assert_error(await admin.write.put(f"{ADMIN}/categories/999999", json={"request": {"name": "X"}}), 404, "999999")
    assert await snapshot(app) == before


async def test_deleting_a_category_takes_its_products_out_of_it(admin: Admin, shop: Shop):
    ok(await admin.write.delete(f"{ADMIN}/categories/{shop.bottoms}"))
    assert ok(await admin.read.get(f"{ADMIN}/products/{shop.jeans}"))["product"]["categories"] == []
    assert ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]["categories"] == []


# ---- brands --------------------------------------------------------------------------------------------


async def test_brands_crud(app, admin: Admin, shop: Shop):
    made = ok(await admin.write.post(f"{ADMIN}/brands", json={"request": {"name": "Denim Co"}}), 201)["brand"]
    no = made["brand_no"]
    assert made["name"] == "Denim Co" and made["created_date"].endswith("+09:00")
    assert ok(await admin.read.get(f"{ADMIN}/brands"))["brands"] == [made]
    assert ok(await admin.read.get(f"{ADMIN}/brands/{no}"))["brand"] == made
    renamed = ok(await admin.write.put(f"{ADMIN}/brands/{no}", json={"request": {"name": "Denim & Co"}}))["brand"]
    assert renamed["name"] == "Denim & Co"
    assert_error(await admin.write.post(f"{ADMIN}/brands", json={"request": {"name": "Denim & Co"}}), 409, "exists")
    assert_error(await admin.write.post(f"{ADMIN}/brands", json={"request": {"name": ""}}), 422, "name")
    ok(await admin.write.put(f"{ADMIN}/products/{shop.jeans}", json={"request": {"brand_no": no}}))
    assert ok(await admin.write.delete(f"{ADMIN}/brands/{no}")) == {"brand": {"brand_no": no}}
    assert ok(await admin.shop.get(f"/api/v2/shop/products/{shop.jeans}"))["product"]["brand_no"] is None
    assert_error(await admin.read.get(f"{ADMIN}/brands/{no}"), 404, str(no))
    assert_error(await admin.write.delete(f"{ADMIN}/brands/{no}"), 404)


async def test_a_product_without_options_gets_some_and_keeps_its_stock(admin: Admin, shop: Shop):
    url = f"{ADMIN}/products/{shop.hidden}/options"
    assert ok(await admin.read.get(url)) == {"options": []}
    (only,) = ok(await admin.read.get(f"{ADMIN}/products/{shop.hidden}/variants"))["variants"]
    ok(await admin.write.put(f"{variant_url(shop.hidden, only)}/inventories", json={"request": {"quantity": 4}}))
    change = {"options": [{"name": "Size", "values": ["M", "L"]}], "default_quantity": 1}
    product = ok(await admin.write.put(url, json={"request": change}))["product"]
    first, added = product["variants"]
    assert first["variant_no"] == only["variant_no"] and first["quantity"] == 4
    assert first["options"] == [{"name": "Size", "value": "M"}] and added["options"] == [{"name": "Size", "value": "L"}]
    assert added["variant_code"] != first["variant_code"] and added["quantity"] == 1
    ok(await admin.write.put(f"{variant_url(shop.hidden, added)}/inventories", json={"request": {"quantity": 0}}))
    one_size = {"options": [{"name": "Size", "values": ["M"]}]}
    assert len(ok(await admin.write.put(url, json={"request": one_size}))["product"]["variants"]) == 1
    product = ok(await admin.write.put(url, json={"request": {"options": []}}))["product"]  # a single value: may go
    assert product["options"] == [] and product["variants"][0]["options"] == [] and product["total_quantity"] == 4


def variant_url(product_no: int, variant: dict) -> str:
    return f"{ADMIN}/products/{product_no}/variants/{variant['variant_no']}"
