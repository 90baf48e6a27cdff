"""The OAuth 2.0 endpoints: authorize (login, consent, install), token and revoke.

``/api/v2/oauth/authorize`` is a page: an unknown client or a redirect URI that is not registered
gets an error page and never a redirect; other errors go back to the app as ``?error=…&state=…``.
``/token`` and ``/revoke`` answer in RFC 6749 §5.2's format (``{"error", "error_description"}``),
which OAuth client libraries expect, rather than openmall's usual error body.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from openmall.kernel.errors import ErrorOut
from openmall.kernel.ratelimit import Policy, account_key, limit_attempts
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.malls.service import MallInfo
from openmall.oauth import scopes as scope_registry
from openmall.oauth import service
from openmall.oauth.models import App, Operator
from openmall.oauth.server import HttpInput, OAuthServer
from openmall.web.pages import check_csrf, client_ip, render

router = APIRouter(prefix="/api/v2/oauth", tags=["OAuth 2.0"])
T = TypeVar("T")

OAUTH_ERRORS = {
    400: {"description": 'RFC 6749 §5.2: `{"error": "invalid_grant", "error_description": "…"}`'},
    401: {"description": "The client's credentials are wrong (`invalid_client`)"},
}
TOKEN_ERRORS = {
    **OAUTH_ERRORS,
    429: {"model": ErrorOut, "description": "Too many token requests from this IP or for this client (openmall's "
                                            "error format, with `Retry-After`)"},
}  # fmt: skip


async def read_input(request: Request) -> HttpInput:
    form: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        repeated.setdefault(key, []).append(value)
    if request.method == "POST":
        for key, value in (await request.form()).multi_items():
            if isinstance(value, str):
                form.setdefault(key, value)
                repeated.setdefault(key, []).append(value)
    return HttpInput(
        method=request.method, url=str(request.url), headers=request.headers,
        args=dict(request.query_params), form=form, repeated=repeated,
    )  # fmt: skip


async def run_server(request: Request, session: AsyncSession, mall: MallInfo, work: Callable[[OAuthServer], T]) -> T:
    """Run Authlib (synchronous) on this request's session; see ``oauth.server`` for why this way."""
    state = request.app.state

    def call(db: Session) -> T:
        return work(OAuthServer(db, mall, state.key, state.settings))

    return await session.run_sync(call)


def _odd_parameter(data: HttpInput) -> InvalidRequestError | None:
    """A parameter with a character outside what RFC 6749 lets an error description carry (%x20-21 / %x23-5B /
    %x5D-7E: printable ASCII but ``"`` and ``\\``). No valid client_id, redirect URI, scope, response type, code
    or token has one, and Authlib, quoting such a value in its error, would fail (a 500). ``state`` is the app's
    own opaque value, never quoted, so it is left alone."""
    for name, values in data.repeated.items():
        if name == "state":
            continue
        if any(invalid_error_characters(value) for value in values):
            return InvalidRequestError(
                description=f"The {name} parameter may hold only printable ASCII characters, without quotes "
                "or backslashes (RFC 6749 Appendix A)"
            )  # fmt: skip
    return None


def _unreadable_basic_auth(request: Request) -> Response | None:
    """RFC 6749 §5.2's answer to an ``Authorization: Basic`` header that is not base64 of UTF-8 ``id:secret``."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if ":" in decoded:
        return None
    body = {"error": "invalid_client", "error_description": "Basic credentials must be base64 of 'id:secret'"}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="openmall"'})


def _claimed_client_id(request: Request, data: HttpInput) -> str:
    """The client_id a token request names (Basic credentials, else the form), before any check."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            return base64.b64decode(header[6:].strip()).decode("utf-8").split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return data.form.get("client_id", "")


async def _limit_token_calls(request: Request, mall: MallInfo, data: HttpInput) -> None:
    """Per IP and per (mall, client_id, IP) buckets (``OPENMALL_TOKEN_LIMIT_*``): wrong secrets cannot be tried
    without end; over either, a 429 with Retry-After in openmall's error format. The client's bucket is its own
    per address: a client_id is public, and calls naming it from elsewhere must not use up the app's own."""
    settings = request.app.state.settings
    drain = 1 / settings.token_limit_drain_seconds
    client, ip = account_key(_claimed_client_id(request, data)), client_ip(request)
    await limit_attempts(request.app.state.buckets, "token requests", [
        (f"token-ip:{ip}", Policy(settings.token_limit_per_ip, drain)),
        (f"token-client:{mall.mall_id}:{client}:{ip}", Policy(settings.token_limit_per_client, drain)),
    ])  # fmt: skip


def _oauth_response(result: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = result
    if status in (301, 302, 303):
        return RedirectResponse(dict(headers)["Location"], status_code=302)
    return JSONResponse(body, status_code=status, headers=dict(headers))


# ---- authorize -----------------------------------------------------------------------------------------


@dataclass
class _Checked:
    """The outcome of validating an authorization request."""

    app: App | None = None
    scopes: list[str] | None = None
    redirect_uri: str = ""
    error: OAuth2Error | None = None
    response: Response | None = None


def _error_page(request: Request, error: OAuth2Error) -> Response:
    return render(
        request, "error.html", status_code=400, heading="This app cannot be authorized",
        message=error.description or error.error, code=error.error,
    )  # fmt: skip


async def _check(request: Request, session: AsyncSession, mall: MallInfo, data: HttpInput) -> _Checked:
    if odd := _odd_parameter(data):  # the redirect URI may be the odd one: an error page, never a redirect
        return _Checked(error=odd)

    def work(server: OAuthServer) -> _Checked:
        try:
            grant = server.get_consent_grant(data)
        except OAuth2Error as error:
            if error.redirect_uri:  # the client and its redirect URI are known good: tell the app
                return _Checked(response=_oauth_response(server.handle_error_response(data, error)))
            return _Checked(error=error)
        req = grant.request
        return _Checked(app=req.client.app, scopes=req.scope.split(), redirect_uri=grant.redirect_uri)

    return await run_server(request, session, mall, work)


async def _issue(request: Request, session: AsyncSession, mall: MallInfo, data: HttpInput, user: Operator | None):
    """Redirect to the app with a code (user given) or with ``error=access_denied`` (None)."""

    def work(server: OAuthServer) -> Response:
        grant = server.get_consent_grant(data, end_user=user)
        return _oauth_response(server.create_authorization_response(data, grant_user=user, grant=grant))

    return await run_server(request, session, mall, work)


async def logged_in_operator(request: Request, session: AsyncSession, mall: MallInfo) -> Operator | None:
    who = request.session.get("operator") or {}
    if who.get("mall") != mall.mall_id:
        return None
    return await service.get_operator(session, who.get("no"))


def _login_first(request: Request) -> Response:
    """To the operator login, which comes back to this very authorization request."""
    here = request.url.path + "?" + request.url.query
    return RedirectResponse("/admin/login?" + urlencode({"next": here}), status_code=303)


@router.get("/authorize", summary="Authorization endpoint (a page: login, then consent)", response_model=None,
            responses={200: {"content": {"text/html": {}}}, 302: {"description": "Back to the app"},
                       303: {"description": "To the operator login, which comes back here"},
                       400: {"description": "An error page: the client or redirect URI is wrong, so no redirect",
                             "content": {"text/html": {}}},
                       403: {"description": "An error page: the app may not be installed on this mall yet",
                             "content": {"text/html": {}}}})  # fmt: skip
async def authorize(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    """`response_type=code, client_id, redirect_uri, scope, state`, optional `code_challenge` (S256)."""
    data = await read_input(request)
    checked = await _check(request, session, mall, data)
    if checked.response or checked.error:
        return checked.response or _error_page(request, checked.error)
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return _login_first(request)
    app = checked.app
    if not service.installable_on(app, mall.mall_id):
        return render(request, "error.html", status_code=403, heading="This app cannot be installed yet",
                      message=f"{app.listed_name} is still in {app.status}; only its test malls may install it.",
                      code="app_not_published")  # fmt: skip
    install = await service.get_install(session, app)
    ask = service.scopes_to_ask(install, checked.scopes)
    if not ask:  # everything asked for was granted before: straight back to the app
        return await _issue(request, session, mall, data, operator)
    return render(
        request, "consent.html", app=app, mall=mall, operator=operator, installed=install is not None,
        asked=[(s, scope_registry.describe(s)) for s in ask], redirect_host=urlsplit(checked.redirect_uri).netloc,
        action=request.url.path + "?" + request.url.query,
    )  # fmt: skip


@router.post("/authorize", include_in_schema=False)
async def decide(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    data = await read_input(request)
    check_csrf(request, data.form)
    checked = await _check(request, session, mall, data)
    if checked.response or checked.error:
        return checked.response or _error_page(request, checked.error)
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return _login_first(request)
    if data.form.get("decision") != "allow":
        return await _issue(request, session, mall, data, None)
    await service.install_app(session, checked.app, mall.mall_id, operator, checked.scopes)
    return await _issue(request, session, mall, data, operator)


# ---- token and revoke ------------------------------------------------------------------------------------


@router.post("/token", summary="Token endpoint", responses=TOKEN_ERRORS)
async def token(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    """`grant_type=authorization_code` (`code, redirect_uri`, `code_verifier` with PKCE) or
    `grant_type=refresh_token` (`refresh_token`); the client authenticates with HTTP Basic
    (`client_secret_basic`) or `client_id` + `client_secret` in the form (`client_secret_post`).

    The answer carries `access_token, token_type, expires_in, expires_at, refresh_token,
    refresh_token_expires_at, client_id, mall_id, user_id, scopes, scope, issued_at`.
    """
    if refused := _unreadable_basic_auth(request):
        return refused
    data = await read_input(request)
    await _limit_token_calls(request, mall, data)
    return _oauth_response(await run_server(request, session, mall, lambda server: server.create_token_response(data)))


@router.post("/revoke", summary="Revocation endpoint (RFC 7009)", responses=OAUTH_ERRORS)
async def revoke(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    """`token` (an access or a refresh token), optional `token_type_hint`; always 200 for a token
    that is unknown or already revoked, as RFC 7009 asks."""
    if refused := _unreadable_basic_auth(request):
        return refused
    data = await read_input(request)
    result = await run_server(request, session, mall, lambda srv: srv.create_endpoint_response("revocation", data))
    return _oauth_response(result)
