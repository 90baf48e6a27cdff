"""Error classes that carry their HTTP status, and the handlers that render the one error format.

Every error leaves the server as ``{"error": {"code": <status>, "message": "...", "more_info": {...}}}``.
Services raise these classes; nothing else builds an error body.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("openmall.errors")


class ErrorDetail(BaseModel):
    code: int = Field(description="The HTTP status, again")
    message: str = Field(description="What went wrong, in words a developer can act on")
    more_info: dict[str, Any] = Field(default_factory=dict, description="The field, the bounds, the allowed values")


class ErrorOut(BaseModel):
    """Every error of every surface."""

    error: ErrorDetail


# documented on every API route (FastAPI's own 422 shape is replaced, since it is never sent)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request, such as an unknown API version"},
    404: {"model": ErrorOut, "description": "No such mall, resource or route"},
    413: {"model": ErrorOut, "description": "The request body is over 1 MiB"},
    414: {"model": ErrorOut, "description": "The URL (path and query) is longer than the server accepts"},
    422: {"model": ErrorOut, "description": "A parameter or field breaks a rule; `more_info.field` names it"},
}


class ApiError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        more_info: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.more_info = more_info or {}
        self.headers = headers


class BadRequest(ApiError):
    status_code = 400


class KeepChanges(ApiError):
    """Base of errors answered after the request's unit of work is committed all the same (``session_scope``):
    what led to them must stay recorded though the call failed (a failed login's count)."""


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class InvalidInput(ApiError):
    """422: the request was understood but a value breaks a rule."""

    status_code = 422

    def __init__(self, message: str, *, field: str | None = None, **more: Any):
        info = {"field": field, **more} if field else dict(more)
        super().__init__(message, more_info=info)


def error_body(status: int, message: str, more_info: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "more_info": more_info or {}}}


def error_response(
    status: int, message: str, more_info: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message, more_info), status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "request"
    rest = [str(p) for p in loc[1:]]
    return where, ".".join(rest) if rest else where


def validation_message(exc: RequestValidationError) -> tuple[str, dict[str, Any]]:
    problems = []
    for err in exc.errors():
        where, field = _field_name(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "value_error" and msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]  # our validators' own words, without pydantic's prefix
        problems.append({"field": field, "in": where, "message": msg})
    first = problems[0] if problems else {"field": "request", "in": "body", "message": "invalid"}
    raw = exc.errors()[0] if exc.errors() else {}
    if raw.get("type") == "json_invalid":
        where = raw.get("loc", ("body", "?"))[-1]
        detail = (raw.get("ctx") or {}).get("error", "JSON decode error")
        return f"Request body is not valid JSON ({detail} at character {where})", {"field": "body", "errors": problems}
    if first["in"] == "body" and first["field"] == "body":
        text = f"Invalid request body: {first['message']}"
    else:
        text = f"Invalid {first['in']} parameter '{first['field']}': {first['message']}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return text, {"field": first["field"], "errors": problems}


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status_code, exc.message, exc.more_info, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    message, info = validation_message(exc)
    return error_response(422, message, info)


_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))}


def _specificity(path_format: str) -> tuple[int, ...]:
    """Smaller is more specific: segment by segment from the left, a literal beats a parameter."""
    return tuple(1 if "{" in segment else 0 for segment in path_format.split("/"))


def methods_at(app: Any, path: str) -> list[str]:
    """The methods served at ``path``: the union over the most specific routes whose pattern matches it (so
    ``/admin/products/count`` is the count's path, not ``/admin/products/{product_no}``'s). Walks every route:
    for answering errors only, never on a request's normal path."""
    best: tuple[int, ...] | None = None
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        regex, served = getattr(route, "path_regex", None), route.methods
        if regex is None or not served or not regex.match(path):
            continue
        rank = _specificity(route.path_format or route.path or "")
        if best is None or rank < best:
            best, methods = rank, set(served)
        elif rank == best:
            methods |= served
    return sorted(methods, key=lambda m: (_METHOD_ORDER.get(m, len(_METHOD_ORDER)), m))


def shadowed_paths(app: Any) -> dict[str, list[str]]:
    """Literal paths that a parameter route would also take (``/admin/products/count`` and
    ``/admin/products/{product_no}``), with the methods served at them: the router would hand ``PUT .../count``
    to the product's route; ``kernel.inputs.InputGuard`` answers it with a 405 first (one dict look-up)."""
    routes = [r for r in iter_route_contexts(app.routes) if r.methods and getattr(r, "path_regex", None) is not None]
    literal = {r.path for r in routes if "{" not in (r.path_format or r.path)}
    return {
        path: methods_at(app, path)
        for path in literal
        if any("{" in (r.path_format or r.path) and r.path_regex.match(path) for r in routes)
    }


def _method_not_allowed(request: Request, allowed: list[str], headers: dict[str, str] | None = None) -> JSONResponse:
    listed = ", ".join(allowed)
    message = f"Method {request.method} is not allowed on {request.url.path}"
    if listed:
        message += f"; allowed: {listed}"
    return error_response(405, message, {"allowed": allowed}, {**(headers or {}), "Allow": listed})


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = getattr(exc, "headers", None)
    if exc.status_code == 404:
        message = f"No such endpoint: {request.method} {request.url.path}"
        if request.url.path.endswith("/") and request.url.path != "/":
            message += f" (did you mean {request.url.path.rstrip('/')}?)"
        return error_response(404, message, {"path": request.url.path}, headers)
    if exc.status_code == 405:
        # the router names the methods of the first route that matched; the path may be served by several
        allowed = methods_at(request.app, request.scope["path"])
        if not allowed:
            allowed = [m.strip() for m in (headers or {}).get("Allow", "").split(",") if m.strip()]
        return _method_not_allowed(request, allowed, headers)
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
    return error_response(exc.status_code, detail, {}, headers)


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    # a unique key or a check won a race with the service's own checks: the write is refused whole
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
    message = "The change conflicts with data that exists now (a duplicate code?); nothing was written"
    return error_response(409, message, {"reason": "conflict"})


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    # this handler runs outside every other middleware, so it names the API version itself
    version = request.scope.get("state", {}).get("api_version")
    return error_response(
        500,
        "Internal server error; the operator can find it in the server log by its incident id.",
        {"incident_id": incident},
        {"X-Api-Version": version} if version else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unhandled)
