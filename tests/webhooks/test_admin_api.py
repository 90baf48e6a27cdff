"""The webhooks' Admin API as an app uses it: its setting, its delivery log on a real loopback receiver,
redelivery, and the event catalog; another app sees none of it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope, utcnow
from openmall.kernel.events import emit
from openmall.kernel.secrets import digest, new_secret
from openmall.oauth import service as oauth
from openmall.oauth.models import Install, Token
from openmall.webhooks.models import Subscription
from openmall.webhooks.worker import Worker
from tests.conftest import add_mall, assert_error, host
from tests.webhooks.conftest import Receiver

ADMIN = "/api/v2/admin"
SETTING = f"{ADMIN}/webhooks/setting"
LOGS = f"{ADMIN}/webhooks/logs"
SCOPES = ["mall.read_application", "mall.write_application", "mall.read_product"]


@dataclass
class Tool:
    app_no: int
    operator_no: int


async def install_tool(app, scopes: list[str]) -> Tool:
    tag = secrets.token_hex(4)
    async with session_scope(app.state.sessions, "demo") as s:
        developer = await oauth.create_developer(s, f"dev-{tag}@example.com", "Dev", "correct horse battery")
        made = await oauth.create_app(
            s, app.state.key, developer, name=f"Hooks {tag}", app_url="https://hooks.example/launch",
            redirect_uris=["https://hooks.example/callback"], scopes=scopes, test_malls=["demo"],
        )  # fmt: skip
        operator = await oauth.create_operator(s, f"owner{tag}", "Owner", "correct horse battery")
        s.add(Install(app_no=made.app.app_no, scopes=scopes, operator_no=operator.operator_no))
        return Tool(made.app.app_no, operator.operator_no)


async def issue_token(app, tool: Tool, scopes: list[str]) -> str:
    token, now = new_secret("om_at_"), utcnow()
    async with session_scope(app.state.sessions, "demo") as s:
        s.add(Token(grant_id=secrets.token_hex(16), app_no=tool.app_no, operator_no=tool.operator_no,
                    scopes=sorted(scopes), access_digest=digest(app.state.key, token),
                    refresh_digest=digest(app.state.key, new_secret("om_rt_")), issued_at=now,
                    access_expires_at=now + timedelta(hours=2),
                    refresh_expires_at=now + timedelta(days=14)))  # fmt: skip
    return token


@dataclass
class Hooks:
    write: httpx.AsyncClient  # SCOPES
    read: httpx.AsyncClient  # mall.read_application only
    other: httpx.AsyncClient  # another app, with SCOPES
    worker: Worker
    url: str


@pytest.fixture
async def hooks(app, receiver) -> AsyncIterator[Hooks]:
    app.state.settings.webhooks_allow_private = True
    await add_mall(app, "demo")
    tool, other = await install_tool(app, SCOPES), await install_tool(app, SCOPES)
    tokens = [await issue_token(app, tool, SCOPES), await issue_token(app, tool, ["mall.read_application"]),
              await issue_token(app, other, SCOPES)]  # fmt: skip
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def make(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport, base_url=host("demo"), headers={"Authorization": f"Bearer {token}"}
        )

    worker = Worker(app.state.engine, app.state.settings, app.state.key, concurrency=10)
    async with make(tokens[0]) as write, make(tokens[1]) as read, make(tokens[2]) as other_client:
        yield Hooks(write, read, other_client, worker, receiver)
    await worker.close()


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def subscribe(hooks: Hooks, event_types: list[str] | None = None) -> dict:
    body = {"request": {"url": hooks.url, "event_types": event_types or ["product.created"]}}
    webhook = ok(await hooks.write.put(SETTING, json=body))["webhook"]
    Receiver.secret = webhook.get("secret", Receiver.secret)
    return webhook


async def product_created(app, product_no: int) -> str:
    async with session_scope(app.state.sessions, "demo") as s:
        return (await emit(s, "product.created", {"product_no": product_no})).event_id


async def test_the_secret_is_shown_once_and_a_delivery_shows_in_the_log(app, hooks):
    assert_error(await hooks.write.get(SETTING), 404, "PUT")
    made = await subscribe(hooks)
    assert made["secret"].startswith("whsec_")
    assert made["url"] == hooks.url and made["event_types"] == ["product.created"] and made["enabled"] is True
    changed = await subscribe(hooks, ["product.created", "product.updated", "product.created"])
    assert "secret" not in changed and changed["event_types"] == ["product.created", "product.updated"]
    shown = ok(await hooks.read.get(SETTING))["webhook"]
    assert "secret" not in shown and shown["event_types"] == changed["event_types"]
    assert shown["created_at"].endswith("+09:00")  # the mall's time zone (Asia/Seoul)

    event_id = await product_created(app, 7)
    assert await hooks.worker.step() >= 1
    assert [r["id"] for r in Receiver.received] == [event_id]  # signed with the secret shown once
    logs = ok(await hooks.read.get(LOGS))["logs"]
    assert len(logs) == 1
    log = logs[0]
    assert log["event_id"] == event_id and log["event_type"] == "product.created"
    assert log["status_code"] == 200 and log["response"] == "ok" and log["error"] == ""
    assert log["delivery_status"] == "succeeded" and log["attempts"] == 1 and log["latency_ms"] >= 0
    assert log["started_at"].endswith("+09:00")


async def test_a_failed_attempt_is_logged_and_redelivered_with_the_same_webhook_id(app, hooks):
    await subscribe(hooks)
    Receiver.plan = [500]
    event_id = await product_created(app, 1)
    await hooks.worker.step()
    [failed] = ok(await hooks.read.get(LOGS))["logs"]
    assert failed["status_code"] == 500 and failed["delivery_status"] == "pending" and failed["attempts"] == 1
    assert ok(await hooks.read.get(LOGS, params={"status": "succeeded"}))["logs"] == []
    assert await hooks.worker.step() == 0  # the retry waits 5 s

    redone = ok(await hooks.write.post(f"{LOGS}/{failed['attempt_no']}/redeliver"))["redelivery"]
    assert redone["delivery_no"] == failed["delivery_no"] and redone["status"] == "pending"
    assert await hooks.worker.step() == 1
    assert [r["id"] for r in Receiver.received] == [event_id, event_id]
    logs = ok(await hooks.read.get(LOGS))["logs"]
    assert [(entry["status_code"], entry["event_id"]) for entry in logs] == [(200, event_id), (500, event_id)]
    assert logs[0]["attempt_no"] != failed["attempt_no"] and logs[0]["delivery_no"] == failed["delivery_no"]
    assert {entry["delivery_status"] for entry in logs} == {"succeeded"} and logs[0]["attempts"] == 2
    newest = ok(await hooks.read.get(LOGS, params={"limit": "1"}))["logs"]
    assert [entry["attempt_no"] for entry in newest] == [logs[0]["attempt_no"]]
    second = ok(await hooks.read.get(LOGS, params={"limit": "1", "offset": "1"}))["logs"]
    assert [entry["attempt_no"] for entry in second] == [failed["attempt_no"]]
    assert len(ok(await hooks.read.get(LOGS, params={"status": "succeeded"}))["logs"]) == 2
    assert ok(await hooks.read.get(LOGS, params={"status": "failed"}))["logs"] == []
    assert_error(await hooks.read.get(LOGS, params={"status": "lost"}), 422, "status")
    assert_error(await hooks.read.get(LOGS, params={"limit": "501"}), 422, "limit")

    # a succeeded delivery can be sent again too
    ok(await hooks.write.post(f"{LOGS}/{failed['attempt_no']}/redeliver"))
    await hooks.worker.step()
    assert [r["id"] for r in Receiver.received] == [event_id] * 3


async def test_a_rotation_shows_the_new_secret_once_and_the_old_one_still_signs(app, hooks):
    assert_error(await hooks.write.post(f"{SETTING}/rotate-secret"), 404)
    made = await subscribe(hooks)
    rotated = ok(await hooks.write.post(f"{SETTING}/rotate-secret"))["webhook"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    assert rotated["previous_secret_until"] is not None
    shown = ok(await hooks.read.get(SETTING))["webhook"]
    assert "secret" not in shown and shown["previous_secret_until"] == rotated["previous_secret_until"]
    await product_created(app, 2)
    await hooks.worker.step()  # the receiver still checks with the old secret
    Receiver.secret = rotated["secret"]
    await product_created(app, 3)
    await hooks.worker.step()
    assert [r["payload"]["data"] for r in Receiver.received] == [{"product_no": 2}, {"product_no": 3}]


async def _stored(app) -> list[tuple]:
    async with session_scope(app.state.sessions, "demo") as s:
        rows = (await s.execute(select(Subscription.app_no, Subscription.url, Subscription.event_types,
                                       Subscription.secret_sealed))).all()  # fmt: skip
    return sorted(map(tuple, rows))


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"url": "{url}", "event_types": ["product.exploded"]}, "event_types"),
        ({"url": "{url}", "event_types": []}, "request.event_types"),
        ({"url": "ftp://x", "event_types": ["product.created"]}, "url"),
        ({"url": "not a url", "event_types": ["product.created"]}, "url"),
        ({"url": "{url}", "event_types": ["product.created"], "secret": "whsec_mine"}, "request.secret"),
        ({"url": "{url}"}, "request.event_types"),
        ({"url": "{url}", "event_types": "product.created"}, "request.event_types"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(app, hooks, request_body, field):
    await subscribe(hooks)
    before = await _stored(app)
    body = {k: (v.replace("{url}", hooks.url + "/new") if isinstance(v, str) else v) for k, v in request_body.items()}
    error = assert_error(await hooks.write.put(SETTING, json={"request": body}), 422)
    assert error["more_info"]["field"] == field, error
    assert await _stored(app) == before


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://169.254.169.254/", "http://[::1]/", "http://localhost/", "http://10.0.0.5/",
     "http://[64:ff9b::a9fe:a9fe]/", "http://[::169.254.169.254]/", "http://[2002:a9fe:a9fe::1]/",
     "http://[fec0::1]/"],  # IPv6 forms of the metadata address, and site-local
)  # fmt: skip
async def test_a_private_target_is_refused_unless_allowed(app, hooks, url):
    await subscribe(hooks)
    before = await _stored(app)
    app.state.settings.webhooks_allow_private = False
    body = {"request": {"url": url, "event_types": ["product.created"]}}
    error = assert_error(await hooks.write.put(SETTING, json=body), 422, "webhook")
    assert error["more_info"]["field"] == "url"
    assert await _stored(app) == before


async def test_other_shapes_and_missing_scopes_are_refused(app, hooks):
    assert_error(await hooks.write.put(SETTING, json={"url": hooks.url}), 422)
    assert_error(await hooks.write.put(SETTING, json={"request": {"url": hooks.url, "event_types": ["product.created"]},
                                                      "extra": 1}), 422)  # fmt: skip
    assert_error(await hooks.write.put(SETTING, content=b"not json", headers={"Content-Type": "application/json"}), 422)
    # an app holding only the application scopes cannot subscribe to product events
    tool = await install_tool(app, ["mall.read_application", "mall.write_application"])
    token = await issue_token(app, tool, ["mall.read_application", "mall.write_application"])
    body = {"request": {"url": hooks.url, "event_types": ["product.created"]}}
    refused = assert_error(await hooks.write.put(SETTING, json=body, headers={"Authorization": f"Bearer {token}"}),
                           422, "mall.read_product")  # fmt: skip
    assert refused["more_info"] == {"field": "event_types", "missing": ["mall.read_product"]}
    assert await _stored(app) == []


async def test_a_read_only_token_reads_but_cannot_change(app, hooks):
    await subscribe(hooks)
    await product_created(app, 5)
    await hooks.worker.step()
    [attempt] = ok(await hooks.read.get(LOGS))["logs"]
    for call in (
        hooks.read.put(SETTING, json={"request": {"url": hooks.url, "event_types": ["product.created"]}}),
        hooks.read.post(f"{SETTING}/rotate-secret"),
        hooks.read.post(f"{LOGS}/{attempt['attempt_no']}/redeliver"),
    ):
        error = assert_error(await call, 403, "mall.write_application")
        assert error["more_info"]["required_scope"] == "mall.write_application"
    assert_error(await hooks.read.get(LOGS, headers={"Authorization": ""}), 401)


async def test_another_app_sees_none_of_it_and_cannot_redeliver(app, hooks):
    await subscribe(hooks)
    await product_created(app, 6)
    await hooks.worker.step()
    [attempt] = ok(await hooks.read.get(LOGS))["logs"]
    assert ok(await hooks.other.get(LOGS))["logs"] == []
    assert_error(await hooks.other.get(SETTING), 404)
    assert_error(await hooks.other.post(f"{LOGS}/{attempt['attempt_no']}/redeliver"), 404)
    assert_error(await hooks.write.post(f"{LOGS}/999999/redeliver"), 404)
    # the other app's own subscription is its own, and its log stays empty of this app's deliveries
    theirs = {"request": {"url": hooks.url + "/other", "event_types": ["product.updated"]}}
    assert ok(await hooks.other.put(SETTING, json=theirs))["webhook"]["secret"].startswith("whsec_")
    assert ok(await hooks.read.get(SETTING))["webhook"]["url"] == hooks.url
    assert ok(await hooks.other.get(LOGS))["logs"] == []
    assert len(Receiver.received) == 1


async def test_the_event_catalog_names_each_type_and_its_scope(hooks):
    events = {e["type"]: e for e in ok(await hooks.read.get(f"{ADMIN}/webhooks/events"))["events"]}
    assert events["product.created"]["scope"] == "mall.read_product"
    assert events["app.installed"]["scope"] == "mall.read_application"
    assert all(e["description"] and isinstance(e["example"], dict) for e in events.values())
