"""Dated API versions: ``X-Api-Version`` in, the version that served the call out.

A version is cut only for a change that breaks compatibility; the old one stays served for a year.
``X-Cafe24-Api-Version`` is read too, so that clients written for Cafe24 work unchanged.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmall.kernel.errors import error_body

VERSIONS: tuple[str, ...] = ("2026-09-01",)
LATEST = VERSIONS[-1]
HEADER = b"x-api-version"
ALIASES = (HEADER, b"x-cafe24-api-version")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def requested_version(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key in ALIASES:
            return value.decode("latin-1").strip()
    return None


class ApiVersionMiddleware:
    """Pure ASGI middleware (no per-request task) for every path under ``/api/``."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        asked = requested_version(scope["headers"])
        version = asked or LATEST
        if version not in VERSIONS:
            await self._reject(send, asked or "")
            return
        scope.setdefault("state", {})["api_version"] = version
        served = version.encode()

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, served)]
            await send(message)

        await self.app(scope, receive, send_with_version)

    async def _reject(self, send: Send, asked: str) -> None:
        supported = ", ".join(VERSIONS)
        if _DATE.match(asked):
            message = f"Unknown API version '{asked}'; supported versions: {supported} (latest {LATEST})"
        else:
            message = f"X-Api-Version must be a date such as {LATEST}; got '{asked}'"
        body = json.dumps(
            error_body(400, message, {"requested": asked, "supported": list(VERSIONS), "latest": LATEST}),
            separators=(",", ":"),
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (HEADER, LATEST.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
