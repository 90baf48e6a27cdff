"""A small shared cache for public GET responses, honouring the route's own ``Cache-Control``.

A route opts in by answering ``Cache-Control: public, max-age=N`` (see ``public``); this middleware
then serves the same bytes to the same request (host, path, query, API version) for at most
``min(N, ttl)`` seconds, with an ``Age`` header, without touching the database. A reverse proxy or CDN
in front of openmall may cache the same responses for the same reason. Only 200s are kept, so an
unknown mall or a bad parameter is never served from here. Storefront reads may thus lag a write by
up to ``ttl`` seconds (a successful write through the same process clears it at once); the order path
re-checks stock and prices when it matters.

Anything that must run on every request (authentication, rate limits) belongs outside this
middleware, so that it runs on hits too.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict

from fastapi import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MAX_AGE = re.compile(rb"max-age=(\d+)")
_VARY = (b"host", b"x-api-version", b"x-cafe24-api-version")
CacheKey = tuple[bytes, ...]


def public(response: Response, seconds: int) -> Response:
    """Mark a response as the same for everyone for ``seconds``."""
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    return response


class ResponseCache:
    def __init__(self, ttl: float, max_entries: int = 5000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: OrderedDict[CacheKey, tuple[float, float, int, list[tuple[bytes, bytes]], bytes]] = OrderedDict()

    def get(self, key: CacheKey) -> tuple[float, int, list[tuple[bytes, bytes]], bytes] | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        stored, expires, status, headers, body = hit
        if expires <= time.monotonic():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return stored, status, headers, body

    def put(self, key: CacheKey, seconds: float, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        now = time.monotonic()
        self._items[key] = (now, now + seconds, status, headers, body)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class SharedCacheMiddleware:
    def __init__(self, app: ASGIApp, cache: ResponseCache, prefix: str = "/api/"):
        self.app = app
        self.cache = cache
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.cache.ttl <= 0:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            if scope["path"].startswith("/api/"):
                await self._write(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"authorization" in headers or b"no-cache" in headers.get(b"cache-control", b""):
            await self.app(scope, receive, send)
            return
        key: CacheKey = (
            scope["method"].encode(),
            scope["path"].encode(),
            scope["query_string"],
            *(headers.get(name, b"") for name in _VARY),
        )
        hit = self.cache.get(key)
        if hit is not None:
            stored, status, cached_headers, body = hit
            age = str(int(time.monotonic() - stored)).encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [*cached_headers, (b"age", age), (b"x-cache", b"HIT")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        await self._fill(scope, receive, send, key)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A successful write through this process forgets what it cached: it never serves its own stale reads.

        Other processes see the write when their copies expire (``ttl``).
        """

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self.cache.clear()
            await send(message)

        await self.app(scope, receive, watch)

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: CacheKey) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        seconds = 0.0

        async def capture(message: Message) -> None:
            nonlocal start, seconds
            if message["type"] == "http.response.start":
                start = message
                control = dict(message.get("headers", [])).get(b"cache-control", b"")
                found = _MAX_AGE.search(control)
                if message["status"] == 200 and b"public" in control and found:
                    seconds = min(float(found.group(1)), self.cache.ttl)
                    message = {**message, "headers": [*message.get("headers", []), (b"x-cache", b"MISS")]}
            elif message["type"] == "http.response.body" and seconds > 0 and scope["method"] == "GET":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and start is not None:
                    self.cache.put(key, seconds, start["status"], list(start.get("headers", [])), b"".join(chunks))
            await send(message)

        await self.app(scope, receive, capture)
