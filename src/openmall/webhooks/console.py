"""What the developer console's webhook pages need beyond ``service``: the malls an app is installed on,
the event types an install may subscribe to, the setting form's checks, and one page of the delivery log.

No HTTP here. ``installed_malls`` reads across malls (a session bound to ``ALL_MALLS``), always filtered
by the app; everything else runs in a session bound to the one mall the page is about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import utcnow
from openmall.kernel.errors import InvalidInput
from openmall.kernel.events import REGISTRY
from openmall.kernel.pagination import MAX_OFFSET
from openmall.kernel.params import parse_int
from openmall.malls.schemas import MALL_ID
from openmall.oauth import scopes as scope_registry
from openmall.oauth import service as oauth
from openmall.webhooks import service
from openmall.webhooks.models import Subscription
from openmall.webhooks.schemas import WebhookSettingIn

LOG_PAGE_SIZE = 20
MAX_LOG_PAGE = MAX_OFFSET // LOG_PAGE_SIZE + 1


@dataclass(frozen=True)
class MallInstall:
    """One mall the app is installed on, and its subscription there (if any)."""

    mall_id: str
    mall_name: str
    scopes: list[str]
    installed_at: datetime
    url: str | None
    enabled: bool | None  # None: no subscription


def is_mall_id(mall_id: str) -> bool:
    """A well-formed mall id (so that nothing like ``*`` ever binds a session)."""
    return bool(MALL_ID.match(mall_id))


async def installed_malls(session: AsyncSession, app_no: int) -> list[MallInstall]:
    """The malls where the app is installed, with its subscription on each; ``session`` spans all malls."""
    subs = {s.mall_id: s for s in await session.scalars(select(Subscription).where(Subscription.app_no == app_no))}
    found = []
    for install, name in await oauth.installs_of_app(session, app_no):
        sub = subs.get(install.mall_id)
        url, enabled = (sub.url, sub.disabled_at is None) if sub else (None, None)
        found.append(MallInstall(install.mall_id, name, sorted(install.scopes), install.installed_at, url, enabled))
    return found


@dataclass(frozen=True)
class EventChoice:
    name: str
    scope: str
    description: str
    allowed: bool  # the install granted the scope it needs


def event_choices(granted: Iterable[str]) -> list[EventChoice]:
    """Every event type, and whether an install with these scopes may subscribe to it."""
    allowed = scope_registry.implied(granted)
    return [
        EventChoice(t.name, t.scope, t.description, t.scope in allowed)
        for t in sorted(REGISTRY.values(), key=lambda t: t.name)
    ]


def checked_setting(url: str, event_types: list[str]) -> WebhookSettingIn:
    """The form's values under the Admin API's own rules (an http(s) URL of at most 2000 characters,
    at least one event type); raises InvalidInput naming the field."""
    try:
        return WebhookSettingIn(url=url, event_types=event_types)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "url"
        if err.get("type") in ("too_short", "string_too_short"):
            what = "choose at least one event type" if field == "event_types" else "enter the URL events go to"
            raise InvalidInput(what, field=field) from None
        raise InvalidInput(str(err["msg"]), field=field) from None


async def save_setting(
    session: AsyncSession, key: bytes, app_no: int, granted: Iterable[str], url: str, event_types: list[str],
    allow_private: bool,
) -> service.SubscriptionSecret:  # fmt: skip
    """Check the form, then create or change the subscription in the session's mall."""
    setting = checked_setting(url, event_types)
    return await service.set_subscription(session, key, app_no, frozenset(granted), setting.url,
                                          setting.event_types, allow_private=allow_private)  # fmt: skip


def previous_secret_until(subscription: Subscription, now: datetime | None = None) -> datetime | None:
    """Until when the secret before the last rotation still signs (a second signature); None: it does not."""
    until = subscription.previous_until
    return until if subscription.previous_secret_sealed and until and until > (now or utcnow()) else None


@dataclass(frozen=True)
class LogPage:
    entries: list[service.LogEntry]
    page: int
    status: str | None
    has_next: bool


def log_query(raw_page: str | None, raw_status: str | None) -> tuple[int, str | None]:
    """``?page=`` (1 to MAX_LOG_PAGE) and ``?status=`` (one of service.LOG_STATUSES, or empty for all)."""
    page = parse_int("page", raw_page, default=1, low=1, high=MAX_LOG_PAGE,
                     hint=f"an integer from 1 to {MAX_LOG_PAGE}") or 1  # fmt: skip
    status = (raw_status or "").strip() or None
    if status is not None and status not in service.LOG_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(service.LOG_STATUSES)}; got '{status}'",
                           field="status", allowed=list(service.LOG_STATUSES))  # fmt: skip
    return page, status


async def log_page(session: AsyncSession, app_no: int, page: int, status: str | None) -> LogPage:
    """One page of the app's attempts in the session's mall, newest first."""
    entries = await service.list_attempts(session, app_no, limit=LOG_PAGE_SIZE + 1,
                                          offset=(page - 1) * LOG_PAGE_SIZE, status=status)  # fmt: skip
    return LogPage(entries[:LOG_PAGE_SIZE], page, status, len(entries) > LOG_PAGE_SIZE)
