"""The HTML pages' plumbing: templates, console sessions, CSRF tokens, safe redirects.

A console session lives on the server (``console_sessions``): the cookie carries only a random token, and the
table holds its HMAC digest, the account and what the pages keep between requests, so that logout, a password
change or the account's removal ends it at once. The cookie is HttpOnly, SameSite=Lax, Secure when
``OPENMALL_SECURE_COOKIES`` is set, and sent on the console paths only (never read on the APIs). A visitor who
has not logged in has a token too, with no row: the CSRF token of every form is an HMAC of the session token,
checked in constant time before anything changes. A login starts a new token (no session fixation).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, select, update
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmall.kernel.db import utcnow
from openmall.kernel.errors import ApiError, Forbidden, api_error
from openmall.kernel.ratelimit import Policy, account_key, limit_attempts
from openmall.kernel.secrets import digest
from openmall.oauth.models import ConsoleSession

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "openmall_session"
TOKEN_PREFIX = "om_ss_"
# the paths whose requests carry the session cookie; the APIs never read or set it
SESSION_PATHS = ("/admin", "/developers", "/api/v2/oauth/authorize")
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at (and the expiry that slides with it) is written at most this often


@dataclass
class _State:
    token: str
    row: ConsoleSession | None = None
    loaded: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] | None = None  # set by start_session: a new token for this login
    end: bool = False  # set by end_session
    new_cookie: bool = False


def _identity(row: ConsoleSession) -> dict[str, Any]:
    if row.operator_no is not None:
        return {"operator": {"mall": row.mall_id, "no": row.operator_no}}
    return {"developer": row.developer_no}


class ConsoleSessions:
    """Server-side sessions for the console paths (API requests skip the cookie work); ``request.session`` is the
    session's data with the account (``operator``: {mall, no} or ``developer``: no) as the pages read it."""

    def __init__(self, app: ASGIApp, *, key: bytes, max_age: int, https_only: bool):
        self.app, self.key, self.max_age, self.https_only = app, key, max_age, https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(SESSION_PATHS):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        token = _cookie(scope)
        current = _State(token or TOKEN_PREFIX + secrets.token_urlsafe(32), new_cookie=token is None)
        if token is not None:
            async with state.read_sessions() as db:
                current.row = await db.scalar(
                    select(ConsoleSession).where(
                        ConsoleSession.token_digest == digest(self.key, token), ConsoleSession.expires_at > utcnow()
                    )
                )
        if current.row is not None:
            current.loaded = dict(current.row.data or {})
            scope["session"] = {**current.loaded, **_identity(current.row)}
        else:
            scope["session"] = {}
        scope["console_session"] = current

        async def save(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._save(state, current, scope["session"])
                if cookie is not None:
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, save)

    async def _save(self, state: Any, current: _State, data: dict[str, Any]) -> str | None:
        now = utcnow()
        kept = {k: v for k, v in data.items() if k not in ("operator", "developer")}
        async with state.sessions() as db:
            if (current.start is not None or current.end) and current.row is not None:
                await db.execute(delete(ConsoleSession).where(ConsoleSession.token_digest == current.row.token_digest))
            if current.start is not None:
                current.token, current.new_cookie = TOKEN_PREFIX + secrets.token_urlsafe(32), True
                operator, developer = current.start.get("operator") or {}, current.start.get("developer")
                db.add(ConsoleSession(
                    token_digest=digest(self.key, current.token), mall_id=operator.get("mall"),
                    operator_no=operator.get("no"), developer_no=developer, data=kept, created_at=now,
                    last_seen_at=now, expires_at=now + timedelta(seconds=self.max_age),
                ))  # fmt: skip
            elif current.end:
                current.token, current.new_cookie = TOKEN_PREFIX + secrets.token_urlsafe(32), True
            elif current.row is not None:
                values: dict[str, Any] = {}
                if kept != current.loaded:
                    values["data"] = kept
                if now - current.row.last_seen_at >= SEEN_EVERY:
                    values |= {"last_seen_at": now, "expires_at": now + timedelta(seconds=self.max_age)}
                if values:
                    await db.execute(
                        update(ConsoleSession)
                        .where(ConsoleSession.token_digest == current.row.token_digest)
                        .values(**values)
                    )
                    current.new_cookie = current.new_cookie or "expires_at" in values
            await db.commit()
        if not current.new_cookie:
            return None
        cookie: SimpleCookie = SimpleCookie()
        cookie[SESSION_COOKIE] = current.token
        morsel = cookie[SESSION_COOKIE]
        morsel.update({"path": "/", "max-age": str(self.max_age), "httponly": True, "samesite": "lax"})
        if self.https_only:
            morsel["secure"] = True
        return morsel.OutputString()


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed Cookie header is no session
                continue
            found = jar.get(SESSION_COOKIE)
            if found is not None and found.value.startswith(TOKEN_PREFIX) and len(found.value) < 100:
                return found.value
    return None


def _current(request: Request) -> _State:
    return request.scope["console_session"]


def session_token(request: Request) -> str:
    """The caller's own session token (to keep it when the account's other sessions end)."""
    return _current(request).token


def csrf_token(request: Request) -> str:
    """The session's CSRF token: an HMAC of its token, so that nothing needs storing for a visitor."""
    return digest(request.app.state.key, "csrf:" + _current(request).token)


def check_csrf(request: Request, form: Any) -> None:
    expected = csrf_token(request)
    given = form.get("csrf_token", "")
    if not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise Forbidden("The form expired or did not come from this site; reload the page and try again")


async def posted_form(request: Request) -> Any:
    """The form of a POST, after its CSRF token checked out."""
    form = await request.form()
    check_csrf(request, form)
    return form


def start_session(request: Request, **values: Any) -> None:
    """A fresh session on login (``operator={"mall", "no"}`` or ``developer=no``): a new token, a new CSRF
    token, nothing kept from before; the old token's session ends."""
    _current(request).start = values
    request.session.clear()
    request.session.update(values)


def end_session(request: Request) -> None:
    """Logout: the session's row goes, its token stops working wherever a copy of the cookie is."""
    _current(request).end = True
    request.session.clear()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_logins(request: Request, realm: str, account: str) -> None:
    """A console login or sign-up attempt for ``account`` in ``realm`` (``developers``, or the operator's mall):
    per IP and per account buckets (``OPENMALL_LOGIN_LIMIT_*``); TooManyCalls (429, Retry-After) over either."""
    settings = request.app.state.settings
    drain = 1 / settings.login_limit_drain_seconds
    await limit_attempts(request.app.state.buckets, "login attempts", [
        (f"login-ip:{client_ip(request)}", Policy(settings.login_limit_per_ip, drain)),
        (f"login-account:{realm}:{account_key(account)}", Policy(settings.login_limit_per_account, drain)),
    ])  # fmt: skip


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"  # the consent page must not be framed (clickjacking)
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def safe_next(target: str | None, default: str) -> str:
    """A redirect target after login: a path on this host only (never //evil.example or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def is_page(request: Request) -> bool:
    return request.url.path.startswith(SESSION_PATHS)


HEADINGS = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Please check the form", 429: "Slow down"}


async def page_errors(request: Request, exc: ApiError) -> Response:
    """Errors on the console pages are pages; everywhere else the API's JSON error format."""
    if not is_page(request):
        return await api_error(request, exc)
    page = render(request, "error.html", exc.status_code, heading=HEADINGS.get(exc.status_code, "Something is wrong"),
                  message=exc.message)  # fmt: skip
    page.headers.update(exc.headers or {})
    return page
