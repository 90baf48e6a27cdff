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
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        client_id = headers.get(HEADER, b"").decode("latin-1").strip()
        state = scope["app"].state
        settings = state.settings
        mall_id = mall_id_for_host(headers.get(b"host", b"").decode("latin-1"), settings.base_domain,
                                   settings.default_mall)  # fmt: skip
        if mall_id is None:  # not one of our hosts: the route answers with its 404
            await self.app(scope, receive, send)
            return
        if not client_id:
            await _refuse(send, "The Shop API needs the storefront's client id in the X-Client-Id header")
            return
        if await self._installed(state, mall_id, client_id) is False:  # None: no such mall, the route says 404
            await _refuse(send, f"X-Client-Id {client_id[:64]!r} is not an app installed on mall {mall_id}")
            return
        await self.app(scope, receive, send)

    async def _installed(self, state: object, mall_id: str, client_id: str) -> bool | None:
        key = (mall_id, client_id)
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with state.read_sessions() as session:  # type: ignore[attr-defined]
            bind_mall(session, mall_id)
            found = await service.is_installed(session, client_id)
            if not found and await session.get(Mall, mall_id) is None:
                return None
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        self._known[key] = (now + state.settings.mall_cache_seconds, found)  # type: ignore[attr-defined]
        return found


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps(error_body(401, message, {"header": "X-Client-Id"})).encode()
    await send({
        "type": "http.response.start", "status": 401,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'ClientId header="X-Client-Id"')],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
