"""Shapes of the webhooks' Admin API: the app's subscription, its delivery log and the event catalog."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openmall.kernel.timeutil import MallDateTime


class WebhookSettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=2000, description="Where events go: an http(s) URL on a public host.",
                     examples=["https://app.example/webhooks"])  # fmt: skip
    event_types: list[str] = Field(min_length=1, max_length=100, description="Types from GET /webhooks/events.",
                                   examples=[["product.created", "product.updated"]])  # fmt: skip


class WebhookSettingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request: WebhookSettingIn


class WebhookOut(BaseModel):
    url: str
    event_types: list[str]
    enabled: bool = Field(description="False once the receiver answered 410 Gone; saving the setting again enables it")
    disabled_at: MallDateTime | None
    previous_secret_until: MallDateTime | None = Field(
        description="After a rotation, the old secret also signs until then (a second signature)"
    )
    created_at: MallDateTime
    updated_at: MallDateTime
    secret: str | None = Field(
        default=None, description="The signing secret (whsec_…): only in the answer that created or rotated it"
    )


class WebhookOne(BaseModel):
    webhook: WebhookOut


class WebhookLogOut(BaseModel):
    attempt_no: int
    delivery_no: int
    event_id: str = Field(description="The event's id: the webhook-id header of every attempt of its delivery")
    event_type: str
    started_at: MallDateTime
    status_code: int | None = Field(description="The receiver's HTTP status; null when there was no answer")
    latency_ms: int
    response: str = Field(description="The first 1 KB of the receiver's answer")
    error: str = Field(description="Why there was no answer (timeout, refused, unsafe target), else empty")
    delivery_status: str = Field(description="pending, succeeded or failed")
    attempts: int = Field(description="The attempts of the delivery so far")


class WebhookLogList(BaseModel):
    logs: list[WebhookLogOut]


class RedeliveryOut(BaseModel):
    attempt_no: int
    delivery_no: int
    status: str
    next_attempt_at: MallDateTime


class RedeliveryOne(BaseModel):
    redelivery: RedeliveryOut


class EventTypeOut(BaseModel):
    type: str
    scope: str = Field(description="The scope an app must hold to subscribe")
    description: str
    example: dict[str, Any] = Field(description="An example of the event's `data`")


class EventTypeList(BaseModel):
    events: list[EventTypeOut]
