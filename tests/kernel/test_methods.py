"""A method a path does not serve is a 405 whose ``Allow`` names every method served at that path -- also where
a parameter route would take the path (``PUT /admin/products/count`` is the count's path, not a product's)."""

from __future__ import annotations

import re
from collections import defaultdict

from fastapi.routing import iter_route_contexts

from tests.conftest import assert_error

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def served_paths(app) -> dict[str, set[str]]:
    paths: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(app.routes):
        if route.methods and getattr(route, "path_regex", None) is not None:
            paths[route.path_format] |= set(route.methods)
    return paths


async def test_every_path_answers_a_method_it_lacks_with_405_and_all_its_methods(app, client, shop):
    wrong = []
    for template, served in sorted(served_paths(app).items()):
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in METHODS:
            if method in served:
                continue
            r = await client.request(method, path)
            allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
            if r.status_code != 405 or allow != served:
                wrong.append(f"{method} {path}: {r.status_code}, Allow {sorted(allow)}, serves {sorted(served)}")
    assert not wrong, "\n".join(wrong)


async def test_a_literal_path_beside_a_parameter_route_is_a_405_not_a_422(client, shop):
    for method, path, allowed in (
        ("PUT", "/api/v2/admin/products/count", ["GET"]),
        ("DELETE", "/api/v2/admin/products/count", ["GET"]),
        ("PUT", "/api/v2/shop/cart/subtotal", ["GET"]),
        ("PATCH", "/api/v2/shop/cart", ["GET", "POST", "DELETE"]),
    ):
        r = await client.request(method, path)
        err = assert_error(r, 405, method, ", ".join(allowed))
        assert err["more_info"] == {"allowed": allowed}
        assert r.headers["allow"] == ", ".join(allowed)


async def test_a_bad_parameter_of_a_served_method_is_still_a_422(client, shop):
    assert_error(await client.get("/api/v2/shop/products/abc"), 422, "product_no")
    assert_error(await client.put("/api/v2/shop/cart/abc", json={"quantity": 1}), 422, "cart_item_no")
