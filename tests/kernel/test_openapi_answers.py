"""Answers the OpenAPI document promises: each status a route can answer is declared, and each body fits its
declared schema (what tests/test_api_fuzz.py found by fuzzing, one case each)."""

from __future__ import annotations

import jsonschema_rs

from openmall import demo_data
from openmall.kernel.db import session_scope
from openmall.oauth import service as oauth
from tests.conftest import add_mall


def fits(spec: dict, method: str, path: str, response) -> list[str]:
    """Why the answer breaks the document (nothing when it keeps its word)."""
    declared = spec["paths"][path][method]["responses"]
    status = str(response.status_code)
    if status not in declared:
        return [f"status {status} is not declared (declared: {sorted(declared)})"]
    schema = declared[status].get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]})
    return [error.message for error in validator.iter_errors(response.json())]


async def backoffice_token(app) -> dict[str, str]:
    async with session_scope(app.state.sessions, "demo") as s:
        await demo_data.load_operator(s)
        await demo_data.load_storefront(s, app.state.key)
    async with session_scope(app.state.sessions, "demo") as s:
        token, _ = await oauth.issue_operator_token(s, app.state.key, demo_data.DEMO_BACKOFFICE, "admin", 60, 60)
    return {"Authorization": f"Bearer {token}"}


async def test_an_admin_write_that_conflicts_answers_a_declared_409(app, client):
    await add_mall(app, "demo")
    auth = await backoffice_token(app)
    spec = (await client.get("/openapi.json")).json()
    brand = {"request": {"name": "Jeju Knit"}}
    assert (await client.post("/api/v2/admin/brands", json=brand, headers=auth)).status_code == 201
    again = await client.post("/api/v2/admin/brands", json=brand, headers=auth)
    assert again.status_code == 409, again.text
    assert fits(spec, "post", "/api/v2/admin/brands", again) == []
    writes = [(m, p) for p, ops in spec["paths"].items() for m, op in ops.items()
              if op.get("x-scope", "").startswith("mall.write_")]  # fmt: skip
    assert len(writes) > 30
    assert [(m, p) for m, p in writes if "409" not in spec["paths"][p][m]["responses"]] == []


async def test_an_answer_trimmed_by_fields_fits_its_declared_schema(shop, client):
    spec = (await client.get("/openapi.json")).json()
    listed = await client.get("/api/v2/shop/products", params={"fields": "product_no,name,price"})
    assert listed.status_code == 200 and set(listed.json()["products"][0]) == {"product_no", "name", "price"}
    assert fits(spec, "get", "/api/v2/shop/products", listed) == []
    one = await client.get(f"/api/v2/shop/products/{shop.white_tee}", params={"fields": "name"})
    assert one.json() == {"product": {"name": "White Cotton Tee"}}
    assert fits(spec, "get", "/api/v2/shop/products/{product_no}", one) == []
    # the whole resource still fits, and a wrong field still breaks it: the schema was not emptied
    whole = spec["components"]["schemas"]["ShopProductOut"]
    assert {"product_code", "price"} <= set(whole["properties"])
    assert whole["properties"]["product_no"]["type"] == "integer"


async def test_the_authorize_error_page_status_is_declared(app, client):
    await add_mall(app, "demo")
    spec = (await client.get("/openapi.json")).json()
    page = await client.get("/api/v2/oauth/authorize")  # no client_id: an error page, no redirect
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert "400" in spec["paths"]["/api/v2/oauth/authorize"]["get"]["responses"]


async def test_an_over_long_url_answers_a_declared_414(app, client):
    await add_mall(app, "demo")
    spec = (await client.get("/openapi.json")).json()
    answer = await client.get("/api/v2/shop/products", params={"embed": "x" * 9000})
    assert answer.status_code == 414, answer.text
    assert fits(spec, "get", "/api/v2/shop/products", answer) == []
