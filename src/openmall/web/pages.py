"""The HTML pages' plumbing: templates, the signed session cookie, CSRF tokens, safe redirects.

Sessions are Starlette's signed cookie (itsdangerous): HttpOnly, SameSite=Lax, Secure when
``OPENMALL_SECURE_COOKIES`` is set, and limited to the console paths (never sent to the APIs).
Every form carries the session's CSRF token, checked in constant time before anything changes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from openmall.kernel.errors import ApiError, Forbidden, api_error
from openmall.kernel.ratelimit import Policy, account_key, limit_attempts

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "openmall_session"
# the paths whose requests carry the session cookie; the APIs never read or set it
SESSION_PATHS = ("/admin", "/developers", "/api/v2/oauth/authorize")


class ConsoleSessions:
    """Starlette's SessionMiddleware, for the console paths only (API requests skip the cookie work)."""

    def __init__(self, app: ASGIApp, *, key: bytes, max_age: int, https_only: bool):
        self.app = app
        secret = hmac.new(key, b"openmall session cookie", hashlib.sha256).hexdigest()
        self.sessions = SessionMiddleware(
            app, secret_key=secret, session_cookie=SESSION_COOKIE, max_age=max_age,
            same_site="lax", https_only=https_only,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(SESSION_PATHS):
            await self.sessions(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, form: Any) -> None:
    expected = request.session.get("csrf", "")
    given = form.get("csrf_token", "")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise Forbidden("The form expired or did not come from this site; reload the page and try again")


async def posted_form(request: Request) -> Any:
    """The form of a POST, after its CSRF token checked out."""
    form = await request.form()
    check_csrf(request, form)
    return form


def start_session(request: Request, **values: Any) -> None:
    """A fresh session on login (a new CSRF token too), keeping nothing from before."""
    request.session.clear()
    request.session.update(values)
    request.session["csrf"] = secrets.token_urlsafe(32)


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
