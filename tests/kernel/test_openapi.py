"""The published API description tells the truth about errors: one format, on every route."""

from __future__ import annotations

import json


async def test_every_api_route_documents_the_error_format(client):
    spec = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in json.dumps(spec)  # FastAPI's own 422 shape is never sent
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/") or path.startswith("/api/v2/oauth/"):
            continue  # the OAuth endpoints answer in RFC 6749's error format, as OAuth client libraries expect
        for method, op in methods.items():
            for status in ("400", "404", "422"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
    assert set(spec["components"]["schemas"]["ErrorDetail"]["properties"]) == {"code", "message", "more_info"}
