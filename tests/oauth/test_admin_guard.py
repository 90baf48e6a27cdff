"""Every Admin API route is behind the guard: it declares one scope, documents it, and enforces it.

The routes are found by walking the application (FastAPI nests included routers as ``_IncludedRouter``
objects holding the ``original_router``), so a route added later is checked without editing this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute

from openmall.app import create_app
from openmall.config import Settings
from openmall.oauth.guard import RequireScope
from openmall.oauth.scopes import ALL as ALL_SCOPES
from tests.conftest import BASE_DOMAIN, host
from tests.oauth.conftest import SCOPES, bearer

ADMIN_PREFIX = "/api/v2/admin"


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    route: APIRoute

    @property
    def guards(self) -> list[RequireScope]:
        return [d.call for d in self.route.dependant.dependencies if isinstance(d.call, RequireScope)]

    @property
    def scope(self) -> str | None:
        """The scope of the route's one guard (None when it has none, or several)."""
        guards = self.guards
        return guards[0].scope if len(guards) == 1 else None

    def url(self, mall: str = "demo") -> str:
        return host(mall) + re.sub(r"\{[^}]+\}", "1", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def admin_routes(app) -> list[AdminRoute]:
    """Every (method, path) under /api/v2/admin, however deeply its router was included."""
    found: list[AdminRoute] = []

    def walk(routes, prefix: str = "") -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute) and (prefix + route.path).startswith(ADMIN_PREFIX):
                found.extend(AdminRoute(m, prefix + route.path, route) for m in sorted(route.methods))

    walk(app.routes)
    return found


# The routes as the application declares them (no database needed to look at them).
ROUTES = admin_routes(
    create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", secret_key="route walk", base_domain=BASE_DOMAIN))
)


def test_the_walk_finds_the_admin_routes():
    found = {str(r) for r in ROUTES}
    assert {"GET /api/v2/admin/store", "GET /api/v2/admin/apps/me", "GET /api/v2/admin/products"} <= found
    assert len(found) == len(ROUTES), "a (method, path) is declared twice"


@pytest.mark.parametrize("admin", ROUTES, ids=str)
def test_every_admin_route_requires_exactly_one_scope_and_documents_it(admin: AdminRoute):
    assert len(admin.guards) == 1, f"{admin} has {len(admin.guards)} RequireScope dependencies, wants exactly one"
    assert admin.route.dependant.dependencies[0].call is admin.guards[0], f"{admin}: the guard must run first"
    extra = admin.route.openapi_extra or {}
    assert extra.get("x-scope") == admin.scope, f"{admin}: openapi_extra x-scope {extra.get('x-scope')!r}"
    assert f"Scope: `{admin.scope}`" in (admin.route.description or "")


async def test_the_openapi_document_names_the_scope_of_every_admin_operation(oauth, client):
    document = (await client.get("/openapi.json")).json()
    documented = {
        f"{method.upper()} {path}": operation
        for path, operations in document["paths"].items()
        if path.startswith(ADMIN_PREFIX)
        for method, operation in operations.items()
    }
    routes = {str(r): r for r in admin_routes(oauth.app)}
    assert set(documented) == set(routes)
    for name, operation in documented.items():
        assert operation.get("x-scope") in ALL_SCOPES, f"{name}: x-scope {operation.get('x-scope')!r}"
        assert operation["x-scope"] == routes[name].scope, f"{name}: x-scope is not the scope its guard checks"
        assert {"HTTPBearer": []} in operation.get("security", []), f"{name}: no bearer security requirement"
        assert {"401", "403"} <= set(operation["responses"]), f"{name}: 401 and 403 are not documented"


async def test_every_admin_route_refuses_a_missing_token_and_a_token_without_its_scope(oauth, client):
    store_only = (await oauth.tokens(client, scope="mall.read_store"))["access_token"]
    application_only = (await oauth.tokens(client, scope="mall.read_application"))["access_token"]
    everything = (await oauth.tokens(client))["access_token"]
    problems: list[str] = []
    routes = admin_routes(oauth.app)
    assert routes

    for admin in routes:
        if admin.scope is None:
            problems.append(f"{admin} has no RequireScope guard (or several)")
            continue
        anonymous = await client.request(admin.method, admin.url())
        if anonymous.status_code != 401 or anonymous.headers.get("www-authenticate") != 'Bearer realm="openmall"':
            problems.append(f"{admin} without a token: {anonymous.status_code} {anonymous.headers}")

        lacking = application_only if admin.scope == "mall.read_store" else store_only
        refused = await client.request(admin.method, admin.url(), headers=bearer(lacking))
        if refused.status_code != 403:
            problems.append(f"{admin} with a token lacking {admin.scope}: {refused.status_code} {refused.text}")
        else:
            error = refused.json()["error"]
            named = re.findall(r"mall\.[a-z]+_[a-z]+", error["message"])
            if named != [admin.scope] or error["more_info"].get("required_scope") != admin.scope:
                problems.append(f"{admin}: the 403 should name exactly {admin.scope}: {error}")

        if admin.scope in {*SCOPES, *(s.replace("write", "read") for s in SCOPES)}:
            admitted = await client.request(admin.method, admin.url(), headers=bearer(everything))
            if admitted.status_code in (401, 403):
                problems.append(f"{admin} with a token holding {admin.scope}: {admitted.status_code} {admitted.text}")

    assert not problems, "\n".join(problems)


async def test_the_token_is_checked_before_the_body_is_read(oauth, client):
    # no right to call: a 401 whatever the body says, not a 422 about the body
    bad_json = {"Content-Type": "application/json"}
    answer = await client.post(host("demo") + "/api/v2/admin/products", content=b"not json", headers=bad_json)
    assert answer.status_code == 401, answer.text
    wrong = await client.post(host("demo") + "/api/v2/admin/products", content=b"not json",
                              headers={**bad_json, **bearer("om_at_not-a-token")})  # fmt: skip
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
