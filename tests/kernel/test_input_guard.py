"""What no input may carry: a NUL anywhere a string enters is a 422 that names the field (PostgreSQL cannot store
it, and it answered 500), names refuse control and bidi characters, and an over-long URL is a 414 -- all in the
error format, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from openmall.kernel.db import session_scope
from openmall.oauth import scopes
from openmall.oauth import service as oauth
from tests.conftest import assert_error

SHOP = "/api/v2/shop"
ADMIN = "/api/v2/admin"
PASSWORD = "correct horse 1"
ADDRESS = {"receiver_name": "Jane Kim", "receiver_phone": "010-1234-5678", "zip_code": "04524", "address1": "Seoul"}


@pytest.fixture
async def callers(app, client, shop) -> dict[str, dict[str, str]]:
    """Auth headers of a signed-in member and of an Admin app holding every scope."""
    body = {"member_id": "jane", "password": PASSWORD, "name": "Jane Kim", "email": "jane@example.com"}
    assert (await client.post(f"{SHOP}/members", json=body)).status_code == 201
    login = await client.post(f"{SHOP}/oauth/token", json={"member_id": "jane", "password": PASSWORD})
    member = {"Authorization": f"Bearer {login.json()['access_token']}"}
    every = sorted(scopes.ALL)
    async with session_scope(app.state.sessions, "demo") as s:
        developer = await oauth.create_developer(s, "guard@example.com", "Guard", "correct horse battery")
        made = await oauth.create_app(
            s, app.state.key, developer, name="Everything", app_url="https://everything.example/",
            redirect_uris=["https://everything.example/cb"], scopes=every, test_malls=["demo"],
        )  # fmt: skip
        await oauth.install_app(s, made.app, "demo", None, every)
        await oauth.create_operator(s, "admin", "Admin", "correct horse battery")
    async with session_scope(app.state.sessions, "demo") as s:
        token, _ = await oauth.issue_operator_token(s, app.state.key, made.app.client_id, "admin", 3600, 3600)
    return {"member": member, "admin": {"Authorization": f"Bearer {token}"}, "none": {}}


def nul(method: str, path: str, who: str, field: str, position: int, json: Any = None, where: str = "body"):
    return pytest.param((method, path, who, json, field, position, where), id=f"{method} {path} {field}")


# the nine endpoints seen answering 500 on PostgreSQL, with bodies that are valid but for the NUL
NUL_CASES = [
    nul("POST", f"{SHOP}/members", "none", "member_id", 3,
        {"member_id": "bob\x00", "password": PASSWORD, "name": "Bob", "email": "bob@example.com"}),
    nul("POST", f"{SHOP}/oauth/token", "none", "member_id", 4, {"member_id": "jane\x00", "password": PASSWORD}),
    nul("POST", f"{SHOP}/profile/addresses", "member", "address1", 5, {**ADDRESS, "address1": "Seoul\x00"}),
    nul("POST", f"{SHOP}/payments/confirm", "member", "payment_key", 2, {"payment_key": "pk\x00"}),
    nul("GET", f"{SHOP}/order-sheets/ab%00cd", "member", "order_sheet_no", 2, where="path"),
    nul("GET", f"{SHOP}/profile/orders/2026%00", "member", "order_id", 4, where="path"),
    nul("POST", f"{ADMIN}/products", "admin", "request.name", 3, {"request": {"name": "Tee\x00", "price": "1000"}}),
    nul("POST", f"{ADMIN}/coupons", "admin", "request.name", 0,
        {"request": {"name": "\x00", "kind": "CART", "discount_type": "FIXED", "discount_amount": "3000",
                     "ends_at": "2099-01-01T00:00:00+09:00"}}),
    nul("POST", f"{ADMIN}/customers/groups", "admin", "request.name", 3, {"request": {"name": "VIP\x00"}}),
    nul("POST", f"{ADMIN}/products", "admin", "request.options.0.values.1", 1,
        {"request": {"name": "Tee", "price": "1", "options": [{"name": "Size", "values": ["S", "M\x00"]}]}}),
    nul("POST", f"{ADMIN}/products", "admin", "request.na\\u0000me", 2, {"request": {"na\x00me": "Tee"}}),
    nul("GET", f"{SHOP}/products?keyword=tee%00&limit=5", "none", "keyword", 3, where="query"),
    nul("GET", f"{SHOP}/products?a%00b=1", "none", "a\\u0000b", 1, where="query"),
]  # fmt: skip


@pytest.mark.parametrize("c", NUL_CASES)
async def test_a_nul_anywhere_is_a_422_naming_the_field(client, callers, c):
    method, path, who, body, field, position, where = c
    before = await client.get(f"{SHOP}/products/count")
    r = await client.request(method, path, json=body, headers=callers[who])
    err = assert_error(r, 422, field, "must not contain control characters", f"U+0000 at position {position}")
    assert err["more_info"] == {"field": field, "in": where, "character": "U+0000", "position": position}
    assert (await client.get(f"{SHOP}/products/count")).json() == before.json()


async def test_raw_nul_bytes_and_form_bodies_are_refused_too(client, callers):
    raw = b'{"request": {"name": "Tee\x00", "price": "1"}}'  # not even JSON (a raw control character in a string)
    r = await client.post(
        f"{ADMIN}/products", content=raw, headers={**callers["admin"], "Content-Type": "application/json"}
    )
    assert assert_error(r, 422, "body", "U+0000")["more_info"]["in"] == "body"
    form = {"grant_type": "client_credentials", "client_id": "app\x00", "client_secret": "x"}
    err = assert_error(await client.post("/api/v2/oauth/token", data=form), 422, "client_id", "position 3")
    assert err["more_info"]["in"] == "form"


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(client, callers):
    """``"C:\\\\u0000"`` in JSON is the six characters ``\\u0000``: allowed, and kept as sent."""
    name = "C:\\u0000 and \\\\u0000"  # a backslash, then u0000; then two backslashes, then u0000
    r = await client.post(f"{ADMIN}/products", json={"request": {"name": name, "price": "1"}}, headers=callers["admin"])
    assert r.status_code == 201, r.text
    assert r.json()["product"]["name"] == name
    # the escape after an escaped backslash is a NUL all the same
    raw = b'{"request": {"name": "C:\\\\\\u0000", "price": "1"}}'
    r = await client.post(
        f"{ADMIN}/products", content=raw, headers={**callers["admin"], "Content-Type": "application/json"}
    )
    assert assert_error(r, 422, "request.name", "position 3")["more_info"]["field"] == "request.name"


NAMES = [
    ("POST", f"{ADMIN}/products", lambda n: {"request": {"name": n, "price": "1"}}),
    ("POST", f"{ADMIN}/categories", lambda n: {"request": {"name": n}}),
    ("POST", f"{ADMIN}/brands", lambda n: {"request": {"name": n}}),
    ("POST", f"{ADMIN}/customers/groups", lambda n: {"request": {"name": n}}),
    ("POST", f"{ADMIN}/coupons", lambda n: {"request": {"name": n, "kind": "CART", "discount_type": "FIXED",
                                                        "discount_amount": "3000", "ends_at": "2099-01-01T00:00:00Z"}}),
    ("POST", f"{SHOP}/profile/addresses", lambda n: {**ADDRESS, "receiver_name": n}),
]  # fmt: skip


@pytest.mark.parametrize("char", ["\u0085", "\u009f", "\u202e", "\u2066", "\u0007"])
@pytest.mark.parametrize("method,path,body", NAMES, ids=[p for _, p, _ in NAMES])
async def test_names_refuse_control_and_bidi_characters(client, callers, method, path, body, char):
    who = callers["member"] if path.startswith(SHOP) else callers["admin"]
    r = await client.request(method, path, json=body(f"Ev{char}il"), headers=who)
    err = assert_error(r, 422, "name", f"U+{ord(char):04X} at position 2", "control")
    assert err["more_info"]["field"].endswith("name")
    ok = await client.request(method, path, json=body("Évil 東京 – ok"), headers=who)
    assert ok.status_code == 201, ok.text


async def test_member_names_refuse_bidi_overrides(client, shop):
    body = {"member_id": "mallory", "password": PASSWORD, "name": "Mal\u202elory", "email": "m@example.com"}
    err = assert_error(await client.post(f"{SHOP}/members", json=body), 422, "name", "U+202E at position 3")
    assert err["more_info"]["field"] == "name"


async def test_query_text_follows_the_same_rule(client, shop):
    err = assert_error(await client.get(f"{SHOP}/products", params={"keyword": "tee\u202e"}), 422, "keyword")
    assert "U+202E at position 3" in err["message"]


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    return set().union(*(_refs(v) for v in node)) if isinstance(node, list) else set()


async def test_every_name_of_every_request_body_is_documented_and_checked(app):
    """Every request field that is a name carries the rule (its pattern shows in the document)."""
    document = app.openapi()
    schemas = document["components"]["schemas"]
    bodies = _refs([op.get("requestBody") for ops in document["paths"].values() for op in ops.values()])
    todo = list(bodies)
    while todo:  # and every model those bodies contain
        for ref in _refs(schemas[todo.pop()]) - bodies:
            bodies.add(ref)
            todo.append(ref)
    names = unchecked = 0
    for model in bodies:
        for prop, spec in schemas[model].get("properties", {}).items():
            if prop == "name" or prop.endswith("_name"):
                names += 1
                variants = [v for v in spec.get("anyOf", [spec]) if v.get("type") == "string"]
                unchecked += not any("\\u202e" in v.get("pattern", "") for v in variants)
    assert names >= 15 and unchecked == 0


async def test_a_long_url_is_a_414_in_the_error_format(client, shop):
    r = await client.get(f"{SHOP}/products", params={"keyword": "x" * 9000})
    err = assert_error(r, 414, "8192 bytes")
    assert err["more_info"]["maximum"] == 8192 and err["more_info"]["length"] > 9000
    ok = await client.get(f"{SHOP}/products", params={"keyword": "x" * 100, "z": "y" * 7000})
    assert ok.status_code == 200, ok.text


async def test_a_body_over_a_mebibyte_is_a_413_and_changes_nothing(client, callers):
    """The guard reads bodies whole to look for NUL, so it bounds them: by Content-Length, and by what arrives."""
    count = await client.get(f"{ADMIN}/products/count", headers=callers["admin"])
    huge = {"request": {"name": "Tee", "price": "1000", "description": "x" * (1 << 20)}}
    err = assert_error(await client.post(f"{ADMIN}/products", json=huge, headers=callers["admin"]), 413, "1048576")
    assert err["more_info"]["maximum"] == 1 << 20 and err["more_info"]["length"] > 1 << 20

    async def streamed():  # no Content-Length: chunks until past the bound
        for _ in range(20):
            yield b'{"request": {"name": "' + b"x" * 65536

    err = assert_error(await client.post(f"{ADMIN}/products", content=streamed(), headers=callers["admin"]), 413)
    assert "length" not in err["more_info"]
    assert (await client.get(f"{ADMIN}/products/count", headers=callers["admin"])).json() == count.json()
    near = {"request": {"name": "Tee", "price": "1000", "description": "x" * 60_000}}  # big, under the bound
    assert (await client.post(f"{ADMIN}/products", json=near, headers=callers["admin"])).status_code != 413
