"""The Shop API's door: every call names its storefront in ``X-Client-Id``, an app installed on the mall.

It runs before openmall's shared response cache, so a cached catalog page is never served to a
caller without a valid client id. Answers are cached per process for ``mall_cache_seconds``
(default 5 s), with the mall's Shop call bucket: uninstalling a storefront app shuts its Shop API
access, and a change of the mall's Shop limits applies, within that time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from openmall.kernel.db import bind_mall
from openmall.kernel.errors import ApiError, error_body
from openmall.kernel.ratelimit import Policy, take
from openmall.kernel.tenancy import mall_id_for_host
from openmall.malls import service as malls
from openmall.oauth import service

HEADER = b"x-client-id"
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Verdict:
    until: float
    installed: bool | None  # None: not our host or no such mall (the route answers 404)
    mall_id: str = ""
    policy: Policy = Policy()


class ClientIdGate:
    """Checks X-Client-Id, then takes the call from the (mall, client id, client IP) bucket."""

    def __init__(self, app: ASGIApp, *, prefix: str = "/api/v2/shop/"):
        self.app = app
        self.prefix = prefix
        self._known: dict[tuple[bytes, bytes], _Verdict] = {}  # (raw Host, raw X-Client-Id) -> verdict

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
        verdict = self._known.get(key)
        if verdict is None or verdict.until <= time.monotonic():
            verdict = await self._check(scope, key)
        client_id = raw_client.decode("latin-1").strip()
        if verdict.installed is False:
            if not client_id:
                await _refuse(
                    scope, send, 401, "The Shop API needs the storefront's client id in the X-Client-Id header"
                )
            else:
                await _refuse(scope, send, 401, f"X-Client-Id {client_id[:64]!r} is not an app installed on this mall")
            return
        if verdict.installed:
            ip = (scope.get("client") or ("unknown",))[0]
            try:
                await take(scope["app"].state.buckets, scope, "shop", f"{verdict.mall_id}:{client_id}:{ip}",
                           verdict.policy)  # fmt: skip
            except ApiError as exc:  # over the bucket (429), or the limiter is down and fails closed (503)
                await _refuse(scope, send, exc.status_code, exc.message, exc.more_info, exc.headers)
                return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, key: tuple[bytes, bytes]) -> _Verdict:
        state = scope["app"].state
        settings = state.settings
        until = time.monotonic() + settings.mall_cache_seconds
        mall_id = mall_id_for_host(key[0].decode("latin-1"), settings.base_domain, settings.default_mall)
        client_id = key[1].decode("latin-1").strip()
        if mall_id is None:
            return _Verdict(until, None)
        async with state.read_sessions() as session:
            mall = await malls.find_mall(session, mall_id, state.mall_cache)
            if mall is None:
                return _Verdict(until, None)
            bind_mall(session, mall_id)
            installed = bool(client_id) and await service.is_installed(session, client_id)
        if len(self._known) >= MAX_ENTRIES:
            self._known.clear()
        verdict = _Verdict(until, installed, mall_id, mall.shop_limit)
        self._known[key] = verdict
        return verdict


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    message: str,
    more_info: dict | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    scope["openmall.gate_refused"] = True  # for the metrics' route label
    body = json.dumps(error_body(status, message, more_info or {"header": "X-Client-Id"})).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if status == 401:
        extra.append((b"www-authenticate", b'ClientId header="X-Client-Id"'))
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
