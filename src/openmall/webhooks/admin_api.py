"""Admin API of webhooks: the calling app's subscription, its delivery log, redelivery, the event catalog.

Thin: parse, call ``service``, render. Every query runs in the caller's mall (the session scopes it)
and is filtered by the calling app: an app never sees another app's subscription or log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from openmall.kernel.db import utcnow
from openmall.kernel.errors import NotFound
from openmall.kernel.events import REGISTRY
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.oauth.guard import AdminCaller, AdminRouter
from openmall.webhooks import service
from openmall.webhooks.models import Subscription
from openmall.webhooks.schemas import (
    EventTypeList,
    EventTypeOut,
    RedeliveryOne,
    RedeliveryOut,
    WebhookLogList,
    WebhookLogOut,
    WebhookOne,
    WebhookOut,
    WebhookSettingRequest,
)

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: webhooks"])

READ, WRITE = "mall.read_application", "mall.write_application"
AttemptNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The attempt's number (from GET /webhooks/logs).")]
StatusQuery = Annotated[
    str | None, Query(description=f"Only deliveries in this status: {', '.join(service.LOG_STATUSES)}.")
]


def _webhook(subscription: Subscription, timezone: str, secret: str | None = None) -> dict:
    until = subscription.previous_until
    out = WebhookOut(
        url=subscription.url, event_types=subscription.event_types, enabled=subscription.disabled_at is None,
        disabled_at=subscription.disabled_at, previous_secret_until=until if until and until > utcnow() else None,
        created_at=subscription.created_at, updated_at=subscription.updated_at, secret=secret,
    )  # fmt: skip
    dumped = out.model_dump(context={"timezone": timezone})
    if secret is None:
        dumped.pop("secret")
    return {"webhook": dumped}


def _no_subscription(client_id: str) -> NotFound:
    return NotFound("This app has no webhook setting on this mall; PUT /api/v2/admin/webhooks/setting makes one",
                    more_info={"client_id": client_id})  # fmt: skip


@router.get("/webhooks/setting", scope=READ, response_model=WebhookOne,
            summary="The calling app's webhook setting on this mall (never its secret)")  # fmt: skip
async def get_setting(mall: CurrentMall, session: ReadSession, caller: AdminCaller) -> JSONResponse:
    found = await service.get_subscription(session, caller.app_no)
    if found is None:
        raise _no_subscription(caller.client_id)
    return JSONResponse(_webhook(found, mall.timezone))


@router.put("/webhooks/setting", scope=WRITE, response_model=WebhookOne,
            summary="Create or change the calling app's webhook setting")  # fmt: skip
async def set_setting(
    request: Request, mall: CurrentMall, session: DbSession, caller: AdminCaller, body: WebhookSettingRequest
) -> JSONResponse:
    """Each event type needs the read scope of its group (see GET /webhooks/events). The answer that
    creates the setting carries its signing `secret` (whsec_…), shown this once; changes keep it."""
    made = await service.set_subscription(
        session, request.app.state.key, caller.app_no, caller.scopes, body.request.url, body.request.event_types,
        allow_private=request.app.state.settings.webhooks_allow_private,
    )  # fmt: skip
    return JSONResponse(_webhook(made.subscription, mall.timezone, made.secret))


@router.post("/webhooks/setting/rotate-secret", scope=WRITE, response_model=WebhookOne,
             summary="A new signing secret, shown once; the old one keeps signing for 24 hours")  # fmt: skip
async def rotate_secret(request: Request, mall: CurrentMall, session: DbSession, caller: AdminCaller) -> JSONResponse:
    """While both sign, each request carries two signatures in `webhook-signature`: switch the receiver
    to the new secret within the 24 hours."""
    found = await service.get_subscription(session, caller.app_no)
    if found is None:
        raise _no_subscription(caller.client_id)
    secret = await service.rotate_secret(session, request.app.state.key, found)
    return JSONResponse(_webhook(found, mall.timezone, secret))


@router.get("/webhooks/logs", scope=READ, response_model=WebhookLogList,
            summary="The calling app's delivery attempts on this mall, newest first")  # fmt: skip
async def list_logs(
    mall: CurrentMall, session: ReadSession, caller: AdminCaller, page: PageParams, status: StatusQuery = None
) -> JSONResponse:
    entries = await service.list_attempts(session, caller.app_no, limit=page.limit, offset=page.offset,
                                          since_no=page.since_no, status=status)  # fmt: skip
    logs = [
        WebhookLogOut(
            attempt_no=e.attempt.attempt_no, delivery_no=e.delivery.delivery_no, event_id=e.event_id,
            event_type=e.event_type, started_at=e.attempt.started_at, status_code=e.attempt.status_code,
            latency_ms=e.attempt.latency_ms, response=e.attempt.response_excerpt, error=e.attempt.error,
            delivery_status=e.delivery.status, attempts=e.delivery.attempts,
        ).model_dump(context={"timezone": mall.timezone})
        for e in entries
    ]  # fmt: skip
    return JSONResponse({"logs": logs})


@router.post("/webhooks/logs/{attempt_no}/redeliver", scope=WRITE, response_model=RedeliveryOne,
             summary="Deliver the attempt's event again, now (same webhook-id, a new attempt)")  # fmt: skip
async def redeliver(mall: CurrentMall, session: DbSession, caller: AdminCaller, attempt_no: AttemptNo) -> JSONResponse:
    delivery = await service.redeliver(session, caller.app_no, attempt_no)
    if delivery is None:
        raise NotFound(f"No webhook attempt {attempt_no} of this app on this mall",
                       more_info={"attempt_no": attempt_no})  # fmt: skip
    out = RedeliveryOut(attempt_no=attempt_no, delivery_no=delivery.delivery_no, status=delivery.status,
                        next_attempt_at=delivery.next_attempt_at)  # fmt: skip
    return JSONResponse({"redelivery": out.model_dump(context={"timezone": mall.timezone})})


@router.get("/webhooks/events", scope=READ, response_model=EventTypeList,
            summary="The event types an app can subscribe to, with the scope each needs")  # fmt: skip
async def event_catalog() -> JSONResponse:
    events = [
        EventTypeOut(type=t.name, scope=t.scope, description=t.description, example=t.example).model_dump()
        for t in sorted(REGISTRY.values(), key=lambda t: t.name)
    ]
    return JSONResponse({"events": events})
