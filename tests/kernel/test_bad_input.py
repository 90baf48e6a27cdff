"""Every bad input of the Shop API answers the error format with the right status, a message that
says what is allowed, and changes nothing. Never a 500, never a stack trace."""

from __future__ import annotations

from typing import Any

import pytest

from openmall.catalog.service import SORT_CHOICES
from tests.conftest import assert_error

LIST = "/api/v2/shop/products"
COUNT = "/api/v2/shop/products/count"
CATS = "/api/v2/shop/categories"
DETAIL = "/api/v2/shop/products/{white_tee}"


async def snapshot(client) -> dict[str, Any]:
    """What a storefront of either mall can see: it must be the same after any bad request."""
    out: dict[str, Any] = {}
    for mall in ("demo", "other"):
        h = {"Host": f"{mall}.openmall.test"}
        products = await client.get(LIST, params={"limit": 500}, headers=h)
        count = await client.get(COUNT, headers=h)
        cats = await client.get(CATS, params={"limit": 500}, headers=h)
        assert products.status_code == count.status_code == cats.status_code == 200
        out[mall] = (products.json(), count.json(), cats.json())
    return out


def case(path: str, params: dict[str, str] | None, status: int, *words: str, field: str | None = None, **kw: Any):
    def short(text: str) -> str:
        return text if len(text) <= 40 else f"{text[:20]}...({len(text)} chars)"

    shown = " ".join(f"{k}={short(str(v))}" for k, v in (params or {}).items())
    return pytest.param(
        {"path": path, "params": params or {}, "status": status, "words": words, "field": field, **kw},
        id=f"{kw.get('method', 'GET')} {short(path)} {shown} {kw.get('headers', '')}".strip(),
    )


LIMIT_BOUND = ("limit", "1 to 500")
OFFSET_BOUND = ("offset", "10000")

PAGINATION = [
    case(path, {"limit": value}, 422, *LIMIT_BOUND, field="limit")
    for path in (LIST, CATS)
    for value in ("0", "-1", "501", "abc", "1.5", "99999999999999999999999", "²", "--5")
] + [
    case(path, params, 422, *words, field=field)
    for path in (LIST, CATS)
    for params, words, field in (
        ({"offset": "10001"}, OFFSET_BOUND, "offset"),
        ({"offset": "-1"}, ("offset", "0 to 10000"), "offset"),
        ({"offset": "abc"}, OFFSET_BOUND, "offset"),
        ({"since_no": "3", "offset": "5"}, ("since_no", "offset"), "offset"),
        ({"since_no": "abc"}, ("since_no", "non-negative integer"), "since_no"),
        ({"since_no": "-1"}, ("since_no", "non-negative integer"), "since_no"),
        ({"since_no": str(2**64)}, ("since_no",), "since_no"),
        ({"since_no": "²"}, ("since_no",), "since_no"),
    )
]

FILTERS = [
    case(LIST, {"sort": "cheapest"}, 422, "sort", "cheapest", *SORT_CHOICES, field="sort"),
    case(LIST, {"since_no": "1", "sort": "price"}, 422, "since_no", "sort", field="since_no"),
    case(LIST, {"fields": "product_no,colour"}, 422, "fields", "colour", "product_no", "price", field="fields"),
    case(LIST, {"embed": "reviews"}, 422, "embed", "reviews", "options", "variants", field="embed"),
] + [
    case(path, params, 422, *words, field=field)
    for path in (LIST, COUNT)
    for params, words, field in (
        ({"price_min": "50000", "price_max": "100"}, ("price_min", "price_max", "50000", "100"), "price_min"),
        ({"price_min": "abc"}, ("price_min", "29800.00", "abc"), "price_min"),
        ({"price_min": "-1"}, ("price_min", "between 0 and"), "price_min"),
        ({"price_min": "NaN"}, ("price_min", "decimal amount"), "price_min"),
        ({"price_min": "Infinity"}, ("price_min", "decimal amount"), "price_min"),
        ({"price_min": "-Infinity"}, ("price_min", "decimal amount"), "price_min"),
        ({"price_min": "1.234"}, ("price_min", "two decimal places"), "price_min"),
        ({"price_min": "1000000000000"}, ("price_min", "999999999999.99"), "price_min"),
        ({"price_max": "abc"}, ("price_max", "decimal amount"), "price_max"),
        ({"price_max": "-0.01"}, ("price_max", "between 0 and"), "price_max"),
        ({"price_max": "NaN"}, ("price_max", "decimal amount"), "price_max"),
        ({"price_max": "9.999"}, ("price_max", "two decimal places"), "price_max"),
        ({"category": "abc"}, ("category", "positive integer", "abc"), "category"),
        ({"category": "1,,2"}, ("category", "positive integer"), "category"),
        ({"category": "0"}, ("category", "positive integer"), "category"),
        ({"category": "²"}, ("category", "positive integer"), "category"),
        ({"category": ",".join(str(n) for n in range(1, 102))}, ("category", "100"), "category"),
        ({"product_no": "abc"}, ("product_no", "positive integer"), "product_no"),
        ({"brand_no": "1;drop"}, ("brand_no", "positive integer"), "brand_no"),
        ({"keyword": "x" * 101}, ("keyword", "100"), "keyword"),
        ({"keyword": "tee\x00"}, ("keyword",), "keyword"),
    )
]

DETAILS = [
    case("/api/v2/shop/products/abc", None, 422, "product_no", field="product_no"),
    case("/api/v2/shop/products/0", None, 422, "product_no", "greater than or equal to 1", field="product_no"),
    case("/api/v2/shop/products/-1", None, 422, "product_no", field="product_no"),
    case("/api/v2/shop/products/1.5", None, 422, "product_no", field="product_no"),
    case(f"/api/v2/shop/products/{2**64}", None, 422, "product_no", str(2**63 - 1), field="product_no"),
    case(f"/api/v2/shop/products/{'9' * 5000}", None, 422, "product_no", field="product_no"),
    case(DETAIL, {"fields": "name,stock"}, 422, "fields", "stock", "name", field="fields"),
    case("/api/v2/shop/products/", None, 404, "did you mean /api/v2/shop/products?"),
]

HOSTS_METHODS_PATHS = [
    case(LIST, None, 404, "nope", headers={"Host": "nope.openmall.test"}, info={"mall_id": "nope"}),
    case(DETAIL, None, 404, "nope", headers={"Host": "nope.openmall.test"}),
    case(LIST, None, 404, "example.com", "openmall.test", headers={"Host": "example.com"}),
    case(LIST, None, 404, "a.demo.openmall.test", headers={"Host": "a.demo.openmall.test"}),
    case(LIST, None, 405, "POST", "GET", method="POST", json={"name": "x", "price": "1"}, info={"allowed": ["GET"]}),
    case(DETAIL, None, 405, "DELETE", "GET", method="DELETE"),
    case(CATS, None, 405, "PUT", "GET", method="PUT", json={"name": "x"}),
    case("/api/v2/shop/nope", None, 404, "/api/v2/shop/nope"),
    case("/api/v2/nope/products", None, 404, "/api/v2/nope/products"),
    case("/nope", None, 404, "/nope"),
]


@pytest.mark.parametrize("c", PAGINATION + FILTERS + DETAILS + HOSTS_METHODS_PATHS)
async def test_bad_input_answers_the_error_format_and_changes_nothing(client, shop, c):
    before = await snapshot(client)
    path = c["path"].format(white_tee=shop.white_tee)
    kwargs: dict[str, Any] = {"params": c["params"], "headers": c.get("headers")}
    if "json" in c:
        kwargs["json"] = c["json"]
    resp = await client.request(c.get("method", "GET"), path, **kwargs)
    err = assert_error(resp, c["status"], *c["words"])
    if c["field"]:
        assert err["more_info"].get("field") == c["field"], err
    for key, value in (c.get("info") or {}).items():
        assert err["more_info"].get(key) == value, err
    assert resp.headers["content-type"].startswith("application/json")
    assert await snapshot(client) == before


async def test_limit_bounds_are_in_more_info(client, shop):
    err = assert_error(await client.get(LIST, params={"limit": "501"}), 422, "501")
    assert err["more_info"] == {"field": "limit", "minimum": 1, "maximum": 500}
    err = assert_error(await client.get(LIST, params={"offset": "10001"}), 422, "since_no")  # says how to go deeper
    assert err["more_info"]["maximum"] == 10000


async def test_unknown_names_are_listed_in_more_info(client, shop):
    err = assert_error(await client.get(LIST, params={"fields": "name,colour,size"}), 422, "colour, size")
    assert err["more_info"]["unknown"] == ["colour", "size"]
    assert "name" in err["more_info"]["allowed"] and "variants" not in err["more_info"]["allowed"]
    err = assert_error(await client.get(LIST, params={"sort": "rating"}), 422)
    assert err["more_info"]["allowed"] == list(SORT_CHOICES)


async def test_bounds_themselves_are_accepted(client, shop):
    """The edges of every rule are allowed: only beyond them is an error."""
    for params in (
        {"limit": "1"},
        {"limit": "500"},
        {"offset": "0"},
        {"offset": "10000"},
        {"since_no": "0"},
        {"since_no": "0", "offset": "0"},
        {"price_min": "0", "price_max": "999999999999.99"},
        {"price_min": "19800.5", "price_max": "19800.50"},
        {"keyword": "x" * 100},
        {"category": ",".join(str(n) for n in range(1, 101))},
        {"sort": "-updated_date"},
        {"fields": "product_no", "embed": "options,variants"},
    ):
        r = await client.get(LIST, params=params)
        assert r.status_code == 200, (params, r.text)
