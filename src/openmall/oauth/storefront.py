"""The Shop API's door: every call names its storefront in ``X-Client-Id``, an app installed on the mall.

It runs before openmall's shared response cache, so a cached catalog page is never served to a
caller without a valid client id. Answers are cached per process for ``mall_cache_seconds``
(default 5 s): uninstalling a storefront app shuts its Shop API access within that time.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from openmall.kernel.db import bind_mall
from openmall.kernel.errors import error_body
from openmall.kernel.tenancy import mall_id_for_host
from openmall.malls.models import Mall
from openmall.oauth import service

HEADER = b"x-client-id"
MAX_ENTRIES = 10_000


class ClientIdGate:
    def __init__(self, app: ASGIApp, *, prefix: str = "/api/v2/shop/"):
        self.app = app
        self.prefix = prefix
        # (raw Host, raw X-Client-Id) -> (valid until, installed? / None: no such mall)
        self._known: dict[tuple[bytes, bytes], tuple[float, bool | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        raw_host = raw_client = b""
        for name, value in scope["headers"]:  # the first of each, as tenancy reads Host
            if name == b"host" and not raw_host:
                raw_host = value
            elif name == HEADER and not raw_client:
                raw_client = value
        key = (raw_host, raw_client)
        hit = self._known.get(key)
        verdict = hit[1] if hit is not None and hit[0] > time.monotonic() else await self._check(scope, key)
        if verdict is False:
            client_id = raw_client.decode("latin-1").strip()
            if not client_id:
                await _refuse(send, "The Shop API needs the storefront's client id in the X-Client-Id header")
            else:
                await _refuse(send, f"X-Client-Id {client_id[:64]!r} is not an app installed on this mall")
            return
        await self.app(scope, receive, send)  # installed, or not our host or mall: the route answers (404)

    async def _check(self, scope: Scope, key: tuple[bytes, bytes]) -> bool | None:
        state = scope["app"].state
        settings = state.settings
        mall_id = mall_id_for_host(key[0].decode("latin-1"), settings.base_domain, settings.default_mall)
        client_id = key[1].decode("latin-1").strip()
        if mall_id is None:
            return None
        if not client_id:
            return False
        async with state.read_sessions() as session:
            bind_mall(session, mall_id)
            verdict: bool | None = await service.is_installed(session, client_id)
            if not verdict and await session.get(Mall, mall_id) is None:
                verdict = None
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[key] = (time.monotonic() + settings.mall_cache_seconds, verdict)
        return verdict


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps(error_body(401, message, {"header": "X-Client-Id"})).encode()
    await send({
        "type": "http.response.start", "status": 401,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'ClientId header="X-Client-Id"')],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
