"""A small shared cache for public GET responses, honouring the route's own ``Cache-Control``.

A route opts in by answering ``Cache-Control: public, max-age=N`` (see ``public``); this middleware
then serves the same bytes to the same request (host, path, query, API version) for at most
``min(N, ttl)`` seconds, with an ``Age`` header, without touching the database. A reverse proxy or CDN
in front of openmall may cache the same responses for the same reason. Only 200s without cookies
are kept, so an unknown mall or a bad parameter is never served from here. Storefront reads may thus
lag a write by up to ``ttl`` seconds (a successful write to a mall through the same process drops
that mall's copies at once); the order path re-checks stock and prices when it matters.

The key is built from the *first* ``Host`` and version headers, as tenancy and versioning read them,
so a request with two ``Host`` headers cannot file one mall's answer under another's. Memory is
bounded in bytes, not only in entries.

Anything that must run on every request (authentication, rate limits) belongs outside this
middleware, so that it runs on hits too.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_MAX_AGE = re.compile(rb"max-age=(\d+)")
_KEYED = (b"host", b"x-api-version", b"x-cafe24-api-version")
# X-Client-Id: a shared cache in front must not answer a caller whose client id openmall has not checked
VARY = "X-Api-Version, X-Cafe24-Api-Version, X-Client-Id"
CacheKey = tuple[bytes, ...]


def public(response: Response, seconds: int) -> Response:
    """Mark a response as the same for everyone (of this host and API version) for ``seconds``."""
    response.headers["Cache-Control"] = f"public, max-age={seconds}"
    response.headers["Vary"] = VARY
    return response


@dataclass(slots=True)
class _Entry:
    stored: float
    expires: float
    mall_id: str | None
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ResponseCache:
    def __init__(self, ttl: float, max_bytes: int = 64 * 2**20, max_body: int = 2 * 2**20):
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.max_body = max_body
        self.size = 0
        self._items: OrderedDict[CacheKey, _Entry] = OrderedDict()

    def get(self, key: CacheKey) -> _Entry | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return entry

    def put(self, key: CacheKey, entry: _Entry) -> None:
        if len(entry.body) > self.max_body:
            return
        if key in self._items:
            self._drop(key)
        self._items[key] = entry
        self.size += len(entry.body)
        while self.size > self.max_bytes and self._items:
            self._drop(next(iter(self._items)))

    def forget_mall(self, mall_id: str) -> None:
        for key in [k for k, e in self._items.items() if e.mall_id == mall_id]:
            self._drop(key)

    def clear(self) -> None:
        self._items.clear()
        self.size = 0

    def _drop(self, key: CacheKey) -> None:
        entry = self._items.pop(key)
        self.size -= len(entry.body)


def _first(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    for key, value in headers:
        if key == name:
            return value
    return b""


def _mall_of(scope: Scope) -> str | None:
    mall = scope.get("state", {}).get("mall")
    return getattr(mall, "mall_id", None)


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
        headers = scope["headers"]
        if (
            not scope["path"].startswith(self.prefix)
            or _first(headers, b"authorization")
            or _first(headers, b"cache-control").find(b"no-cache") >= 0
        ):
            await self.app(scope, receive, send)
            return
        key: CacheKey = (scope["method"].encode(), scope["path"].encode(), scope["query_string"],
                         *(_first(headers, name) for name in _KEYED))  # fmt: skip
        hit = self.cache.get(key)
        if hit is not None:
            age = str(int(time.monotonic() - hit.stored)).encode()
            await send({"type": "http.response.start", "status": hit.status,
                        "headers": [*hit.headers, (b"age", age), (b"x-cache", b"HIT")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else hit.body})
            return
        await self._fill(scope, receive, send, key)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A successful write to a mall through this process drops that mall's copies here at once.

        Other processes see the write when their copies expire (``ttl``).
        """

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                mall_id = _mall_of(scope)
                if mall_id:
                    self.cache.forget_mall(mall_id)
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
                headers = message.get("headers", [])
                control = _first(headers, b"cache-control")
                found = _MAX_AGE.search(control)
                if message["status"] == 200 and b"public" in control and found and not _first(headers, b"set-cookie"):
                    seconds = min(float(found.group(1)), self.cache.ttl)
                    message = {**message, "headers": [*headers, (b"x-cache", b"MISS")]}
            elif message["type"] == "http.response.body" and seconds > 0 and scope["method"] == "GET":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and start is not None:
                    now = time.monotonic()
                    entry = _Entry(now, now + seconds, _mall_of(scope), start["status"],
                                   list(start.get("headers", [])), b"".join(chunks))  # fmt: skip
                    self.cache.put(key, entry)
            await send(message)

        await self.app(scope, receive, capture)
