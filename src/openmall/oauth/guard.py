"""The Admin API's door: a bearer token of this mall, carrying the scope the route declares.

Routers declare each route's scope in one place, the decorator::

    admin = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: products"])

    @admin.get("/products", scope="mall.read_product")
    async def list_products(caller: AdminCaller, ...): ...

``AdminRouter`` refuses a route without a scope, documents the scope in OpenAPI (``x-scope`` and the
bearer security scheme), and checks it before the endpoint runs:

- no token: 401 with ``WWW-Authenticate: Bearer realm="openmall"``;
- unknown, expired or revoked token, or a token of another mall: 401 with
  ``WWW-Authenticate: Bearer error="invalid_token"``;
- a live token without the scope: 403 naming the scope (``error="insufficient_scope"``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openmall.kernel import personal
from openmall.kernel.errors import ERROR_RESPONSES, ErrorOut, Forbidden, Unauthorized
from openmall.kernel.ratelimit import take
from openmall.kernel.tenancy import CurrentMall, current_mall, read_session
from openmall.malls.service import MallInfo
from openmall.oauth import scopes as scope_registry
from openmall.oauth.service import Caller, authenticate_bearer

REALM = 'Bearer realm="openmall"'
_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v2/oauth/token")

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "No token, or one that is unknown, expired, revoked or of another mall"},
    403: {"model": ErrorOut, "description": "The token lacks the route's scope; `more_info.required_scope` names it"},
}
# any write may meet data that exists now (a duplicate name or code, a resource still in use): every write route says so
WRITE_CONFLICT = {409: {"model": ErrorOut, "description": "The change conflicts with data that exists now; "
                        "the message names it and nothing was written"}}  # fmt: skip


class RequireScope:
    """The dependency each Admin route gets: authenticates the bearer token and checks one scope."""

    def __init__(self, scope: str):
        if scope not in scope_registry.ALL:
            raise ValueError(f"unknown scope {scope!r}")
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        mall: CurrentMall,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return await self.check(request, mall, credentials.credentials if credentials else None)

    async def check(self, request: Request, mall: MallInfo, token: str | None) -> Caller:
        caller = getattr(request.state, "caller", None)  # checked already, before the body was read
        if caller is not None:
            return caller
        if not token:
            raise Unauthorized(
                "This API needs an access token: Authorization: Bearer <access_token>",
                headers={"WWW-Authenticate": REALM},
            )
        async with read_session(request, mall) as session:
            caller = await authenticate_bearer(session, request.app.state.key, token)
        if caller is None:
            raise Unauthorized(
                f"The access token is invalid, expired or revoked, or not one of mall {mall.mall_id}",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )
        if self.scope not in caller.scopes:
            raise Forbidden(
                f"This call needs the scope {self.scope}, which the token was not granted",
                more_info={"required_scope": self.scope, "granted_scopes": sorted(caller.scopes)},
                headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{self.scope}"'},
            )
        request.state.caller = caller
        return caller


def current_caller(request: Request) -> Caller:
    """The caller that the route's RequireScope authenticated (it always runs first)."""
    return request.state.caller


AdminCaller = Annotated[Caller, Depends(current_caller)]


class GuardedRoute(APIRoute):
    """Checks the token and the scope before FastAPI reads the body: a call without a valid token is a
    401 whatever it sends, never a 422 about a body it had no right to send."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guard = RequireScope(self.openapi_extra["x-scope"])

        async def guarded(request: Request) -> Response:
            mall = await current_mall(request)
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            caller = await guard.check(request, mall, token.strip() if scheme.lower() == "bearer" else None)
            key = f"{mall.mall_id}:{caller.client_id}"  # one bucket per app per mall
            await take(request.app.state.buckets, request.scope, "admin", key, mall.admin_limit)
            allowed = personal.allow(personal.SCOPE in caller.scopes)  # else names, emails, ... come masked
            try:
                return await handler(request)
            finally:
                personal.reset(allowed)

        return guarded


class AdminRouter(APIRouter):
    """An APIRouter whose every route must name its scope: ``@router.get(path, scope=...)``."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("responses", ADMIN_ERRORS)
        kwargs.setdefault("route_class", GuardedRoute)
        super().__init__(**kwargs)

    def api_route(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        if scope is None:
            raise TypeError(f"Admin API route {path} must declare its scope: scope='mall.read_…'")
        guard = RequireScope(scope)
        kwargs["dependencies"] = [Depends(guard), *kwargs.get("dependencies", [])]
        kwargs["openapi_extra"] = {**kwargs.get("openapi_extra", {}), "x-scope": scope}
        if scope.startswith("mall.write_"):
            kwargs["responses"] = {**WRITE_CONFLICT, **(kwargs.get("responses") or {})}
        description = kwargs.get("description")
        kwargs["description"] = f"Scope: `{scope}`" + (f"\n\n{description}" if description else "")

        def decorator(func: Any) -> Any:
            if description is None and func.__doc__:
                kwargs["description"] = f"Scope: `{scope}`\n\n{func.__doc__}"
            self.add_api_route(path, func, **kwargs)
            return func

        return decorator

    def get(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        return self.api_route(path, scope=scope, methods=["GET"], **kwargs)

    def post(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        return self.api_route(path, scope=scope, methods=["POST"], **kwargs)

    def put(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        return self.api_route(path, scope=scope, methods=["PUT"], **kwargs)

    def patch(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        return self.api_route(path, scope=scope, methods=["PATCH"], **kwargs)

    def delete(self, path: str, *, scope: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[override]
        return self.api_route(path, scope=scope, methods=["DELETE"], **kwargs)
