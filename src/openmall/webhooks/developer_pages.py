"""The developer console's webhook pages: per mall an app is installed on, its subscription, signing secret
(shown once), and delivery log with redelivery.

Thin: the rules live in ``service`` and ``console``. The console answers on any host, so each page opens
its own session bound to the mall in the path (never the host's); the developer must own the app and the
app must be installed on that mall, else 404. Included by ``openmall.oauth.developer_pages`` under
``/developers``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import ALL_MALLS, bind_mall, session_scope
from openmall.kernel.errors import ApiError, Conflict, NotFound
from openmall.kernel.params import MAX_INT, parse_int
from openmall.kernel.secrets import seal, unseal
from openmall.kernel.timeutil import iso
from openmall.malls import service as malls
from openmall.malls.service import MallInfo
from openmall.oauth import service as oauth
from openmall.oauth.models import App, Install
from openmall.web.pages import posted_form, render, see_other
from openmall.webhooks import console, service

router = APIRouter(prefix="/apps/{client_id}/webhooks", include_in_schema=False)
FLASH = "webhooks_flash"  # what the next GET of one webhook page shows once: a message, a sealed new secret
FIELDS = {"url": "Endpoint URL", "event_types": "Event types"}


def _to_login() -> Response:
    return RedirectResponse("/developers/login", status_code=303)


@asynccontextmanager
async def _session(request: Request, mall_id: str, write: bool) -> AsyncIterator[AsyncSession]:
    """A unit of work bound to ``mall_id`` (committed at the end), or for a GET a read-only session."""
    if write:
        async with session_scope(request.app.state.sessions, mall_id) as session:
            yield session
        return
    async with request.app.state.read_sessions() as session:
        bind_mall(session, mall_id)
        session.info["read_only"] = True
        yield session


@dataclass(frozen=True)
class Target:
    """The page's subject: the developer's app, installed on this mall."""

    session: AsyncSession
    app: App
    install: Install
    mall: MallInfo

    @property
    def path(self) -> str:
        return f"/developers/apps/{self.app.client_id}/webhooks/{self.mall.mall_id}"


@asynccontextmanager
async def _target(request: Request, client_id: str, mall_id: str, write: bool = False) -> AsyncIterator[Target | None]:
    """The target in a session of its mall; None when nobody is logged in. 404 unless the developer owns the
    app and it is installed on the mall."""
    if mall_id == ALL_MALLS or not console.is_mall_id(mall_id):
        raise NotFound(f"No mall '{mall_id}' has this app installed", more_info={"mall_id": mall_id})
    async with _session(request, mall_id, write) as session:
        developer = await oauth.get_developer(session, request.session.get("developer"))
        if developer is None:
            yield None
            return
        app = await oauth.developer_app(session, developer, client_id)
        install = await oauth.get_install(session, app)
        mall = await malls.find_mall(session, mall_id, request.app.state.mall_cache) if install else None
        if install is None or mall is None:
            raise NotFound(f"{app.name} is not installed on a mall '{mall_id}'", more_info={"mall_id": mall_id})
        yield Target(session, app, install, mall)


def _flash(request: Request, target: Target, message: str, secret: str | None = None) -> Response:
    """Back to the page (a reload cannot post twice), which shows the message and the new secret once."""
    # the session cookie is signed, not encrypted: the secret rides in it sealed under the server key
    sealed = seal(request.app.state.key, secret) if secret else None
    request.session[FLASH] = {"at": target.path, "message": message, "sealed": sealed}
    return see_other(target.path)


def _popped_flash(request: Request, target: Target) -> tuple[str | None, str | None]:
    shown = request.session.pop(FLASH, None)
    if not shown or shown.get("at") != target.path:
        return None, None
    secret = unseal(request.app.state.key, shown["sealed"]) if shown.get("sealed") else None
    return shown.get("message"), secret


async def _page(
    request: Request, target: Target, status_code: int = 200, *, form: dict[str, Any] | None = None,
    error: ApiError | None = None, page: int = 1, status: str | None = None, **context: Any,
) -> Response:  # fmt: skip
    tz = target.mall.timezone
    sub = await service.get_subscription(target.session, target.app.app_no)
    log = await console.log_page(target.session, target.app.app_no, page, status)
    previous = console.previous_secret_until(sub) if sub else None
    form = form or {"url": sub.url if sub else "", "event_types": sub.event_types if sub else []}
    field = error.more_info.get("field") if error else None
    query = {"status": status} if status else {}
    return render(
        request, "dev_webhook.html", status_code, app=target.app, mall=target.mall, path=target.path,
        granted=sorted(target.install.scopes), choices=console.event_choices(target.install.scopes), sub=sub,
        form=form, error=error.message if error else None, error_field=field, error_label=FIELDS.get(field or ""),
        disabled_at=iso(sub.disabled_at, tz) if sub and sub.disabled_at else None,
        previous_until=iso(previous, tz) if previous else None, log=log, statuses=service.LOG_STATUSES,
        when=lambda value: iso(value, tz),
        prev_url=f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"?{urlencode({**query, 'page': page + 1})}" if log.has_next else None, **context,
    )  # fmt: skip


@router.get("")
async def mall_list(request: Request, client_id: str) -> Response:
    """The malls the app is installed on (read across malls, filtered by the app)."""
    async with _session(request, ALL_MALLS, write=False) as session:
        developer = await oauth.get_developer(session, request.session.get("developer"))
        if developer is None:
            return _to_login()
        app = await oauth.developer_app(session, developer, client_id)
        installs = await console.installed_malls(session, app.app_no)
    return render(request, "dev_webhooks.html", app=app, installs=installs)


@router.get("/{mall_id}")
async def webhook_page(
    request: Request, client_id: str, mall_id: str, page: str | None = None, status: str | None = None
) -> Response:
    async with _target(request, client_id, mall_id) as target:
        if target is None:
            return _to_login()
        number, wanted = console.log_query(page, status)
        message, secret = _popped_flash(request, target)
        return await _page(request, target, page=number, status=wanted, message=message, new_secret=secret)


@router.post("/{mall_id}")
async def save(request: Request, client_id: str, mall_id: str) -> Response:
    form = await posted_form(request)
    async with _target(request, client_id, mall_id, write=True) as target:
        if target is None:
            return _to_login()
        values = {"url": str(form.get("url", "")).strip(), "event_types": [str(t) for t in form.getlist("event_types")]}
        try:
            async with target.session.begin_nested():  # a refused change leaves nothing behind
                made = await console.save_setting(
                    target.session, request.app.state.key, target.app.app_no, target.install.scopes, values["url"],
                    values["event_types"], allow_private=request.app.state.settings.webhooks_allow_private,
                )  # fmt: skip
        except ApiError as exc:
            return await _page(request, target, exc.status_code, form=values, error=exc)
        made_now = made.secret is not None
        return _flash(request, target, "Subscription created." if made_now else "Saved.", made.secret)


@router.post("/{mall_id}/rotate-secret")
async def rotate(request: Request, client_id: str, mall_id: str) -> Response:
    await posted_form(request)
    async with _target(request, client_id, mall_id, write=True) as target:
        if target is None:
            return _to_login()
        sub = await service.get_subscription(target.session, target.app.app_no)
        if sub is None:
            raise Conflict("There is no subscription on this mall yet; save one first (it gets a secret)")
        secret = await service.rotate_secret(target.session, request.app.state.key, sub)
        until = iso(sub.previous_until, target.mall.timezone) if sub.previous_until else ""
        return _flash(request, target, f"New secret made; the previous one also signs until {until}.", secret)


@router.post("/{mall_id}/logs/{attempt_no}/redeliver")
async def redeliver(request: Request, client_id: str, mall_id: str, attempt_no: str) -> Response:
    await posted_form(request)
    number = parse_int("attempt_no", attempt_no, default=None, low=1, high=MAX_INT, hint="a positive integer")
    async with _target(request, client_id, mall_id, write=True) as target:
        if target is None:
            return _to_login()
        delivery = await service.redeliver(target.session, target.app.app_no, number or 0)
        if delivery is None:
            raise NotFound(f"No webhook attempt {attempt_no} of this app on this mall",
                           more_info={"attempt_no": attempt_no})  # fmt: skip
        return _flash(request, target, f"Attempt {number}'s event is queued for delivery again (same webhook-id).")
