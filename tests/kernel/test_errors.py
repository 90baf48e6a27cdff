"""Errors leave the server in one format: a 500 hides its internals, a validation error names the field."""

from __future__ import annotations

import logging
import re
from decimal import Decimal

from openmall.catalog import service as catalog
from openmall.catalog.schemas import ProductIn
from openmall.kernel.tenancy import CurrentMall, DbSession
from tests.conftest import assert_error


async def test_unhandled_exception_is_a_500_without_internals(app, client, shop, caplog):
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR, logger="openmall.errors"):
        r = await client.get("/boom")
    err = assert_error(r, 500)
    incident = err["more_info"]["incident_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", incident)
    assert set(err["more_info"]) == {"incident_id"}
    assert "incident" in err["message"]
    for leak in ("secret detail", "Traceback", "RuntimeError", 'File "', ".py", "boom"):
        assert leak not in r.text, leak
    # the operator finds the full story in the log by the incident id
    logged = [rec for rec in caplog.records if incident in rec.getMessage()]
    assert logged and logged[0].exc_info and "secret detail" in str(logged[0].exc_info[1])


async def test_each_incident_has_its_own_id(app, client, shop):
    @app.get("/boom2")
    async def boom() -> None:
        raise KeyError("x")

    ids = {assert_error(await client.get("/boom2"), 500)["more_info"]["incident_id"] for _ in range(3)}
    assert len(ids) == 3


async def test_a_failed_request_writes_nothing(app, client, shop):
    @app.post("/api/v2/shop/__create_then_fail")
    async def create_then_fail(mall: CurrentMall, session: DbSession) -> None:
        await catalog.create_product(session, ProductIn(name="Half Done", product_code="HALF", price=Decimal("1")))
        raise RuntimeError("after the write")

    assert_error(await client.post("/api/v2/shop/__create_then_fail"), 500)
    r = await client.get("/api/v2/shop/products", params={"keyword": "HALF"})
    assert r.json() == {"products": []}
    assert (await client.get("/api/v2/shop/products/count")).json() == {"count": 3}


async def test_path_validation_error_names_the_field(client, shop):
    err = assert_error(await client.get("/api/v2/shop/products/abc"), 422, "product_no", "path")
    assert err["more_info"]["field"] == "product_no"
    assert err["more_info"]["errors"][0]["in"] == "path"


async def test_body_validation_error_names_the_field(app, client, shop):
    @app.post("/api/v2/shop/__echo")
    async def echo(product: ProductIn) -> dict:
        return {"ok": True}

    good = await client.post("/api/v2/shop/__echo", json={"name": "Tee", "price": "19800"})
    assert good.status_code == 200, good.text

    err = assert_error(await client.post("/api/v2/shop/__echo", json={"name": "Tee", "price": 19.99}), 422, "price")
    assert err["more_info"]["field"] == "price"
    assert "float" in err["message"]

    err = assert_error(
        await client.post("/api/v2/shop/__echo", json={"name": "", "price": "1", "colour": "red"}), 422, "name"
    )
    assert "1 more problem" in err["message"]
    assert {e["field"] for e in err["more_info"]["errors"]} == {"name", "colour"}

    r = await client.post("/api/v2/shop/__echo", json={"name": "Tee", "price": "1", "options": [{"name": "Size"}]})
    err = assert_error(r, 422, "options.0.values")

    err = assert_error(await client.post("/api/v2/shop/__echo"), 422, "body")
    err = assert_error(
        await client.post(
            "/api/v2/shop/__echo", content=b'{"name": "Tee",', headers={"content-type": "application/json"}
        ),
        422,
        "JSON",
    )
