"""Dated API versions: the request may pin one; every response says which version served it."""

from __future__ import annotations

import pytest

from openmall.kernel.versioning import LATEST, VERSIONS
from tests.conftest import assert_error

LIST = "/api/v2/shop/products"


async def test_no_version_is_served_by_the_latest(client, shop):
    r = await client.get(LIST)
    assert r.status_code == 200
    assert r.headers["X-Api-Version"] == LATEST


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_supported_version_is_echoed(client, shop, version):
    r = await client.get(LIST, headers={"X-Api-Version": version})
    assert r.status_code == 200, r.text
    assert r.headers["X-Api-Version"] == version


async def test_surrounding_spaces_are_ignored(client, shop):
    r = await client.get(LIST, headers={"X-Api-Version": f"  {LATEST} "})
    assert r.status_code == 200 and r.headers["X-Api-Version"] == LATEST


@pytest.mark.parametrize("asked", ["2020-01-01", "2999-12-31"])
async def test_unknown_dated_version_is_a_400_listing_supported(client, shop, asked):
    r = await client.get(LIST, headers={"X-Api-Version": asked})
    err = assert_error(r, 400, asked, *VERSIONS)
    assert err["more_info"]["supported"] == list(VERSIONS)
    assert err["more_info"]["latest"] == LATEST
    assert err["more_info"]["requested"] == asked
    assert r.headers["X-Api-Version"] == LATEST


@pytest.mark.parametrize("asked", ["latest", "v2", "2026-9-1", "20260901", "2026-09-01T00:00"])
async def test_malformed_version_is_a_400_showing_the_format(client, shop, asked):
    r = await client.get(LIST, headers={"X-Api-Version": asked})
    err = assert_error(r, 400, "X-Api-Version", "date", LATEST, asked)
    assert err["more_info"]["supported"] == list(VERSIONS)


async def test_cafe24_alias_header(client, shop):
    r = await client.get(LIST, headers={"X-Cafe24-Api-Version": LATEST})
    assert r.status_code == 200, r.text
    assert r.headers["X-Api-Version"] == LATEST
    assert_error(await client.get(LIST, headers={"X-Cafe24-Api-Version": "2001-01-01"}), 400, "2001-01-01")


async def test_rejected_version_reads_nothing(client, shop):
    r = await client.get(f"/api/v2/shop/products/{shop.white_tee}", headers={"X-Api-Version": "2001-01-01"})
    assert_error(r, 400)
    assert "White Cotton Tee" not in r.text


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/api/v2/shop/products/99999999", {}, {}, 404),
        ("/api/v2/shop/nope", {}, {}, 404),
        (LIST, {}, {"Host": "nope.openmall.test"}, 404),
        (LIST, {"limit": "0"}, {}, 422),
        ("/api/v2/shop/products/abc", {}, {}, 422),
    ],
)
async def test_error_responses_carry_the_version(client, shop, path, params, headers, status):
    r = await client.get(path, params=params, headers={"X-Api-Version": LATEST, **headers})
    assert_error(r, status)
    assert r.headers["X-Api-Version"] == LATEST


async def test_method_not_allowed_carries_the_version(client, shop):
    r = await client.post(LIST)
    assert_error(r, 405)
    assert r.headers["X-Api-Version"] == LATEST


async def test_server_error_carries_the_version(app, client, shop):
    @app.get("/api/v2/shop/__boom_version")
    async def boom() -> None:
        raise RuntimeError("boom")

    r = await client.get("/api/v2/shop/__boom_version")
    assert_error(r, 500)
    assert r.headers.get("X-Api-Version") == LATEST
