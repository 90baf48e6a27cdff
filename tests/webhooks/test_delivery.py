"""Webhooks end to end on a real receiver on loopback that checks every signature with `standardwebhooks`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from openmall.kernel import clock
from openmall.kernel.db import session_scope
from openmall.kernel.events import emit
from openmall.kernel.events.models import Event
from openmall.webhooks import service as webhooks
from openmall.webhooks.models import Attempt, Delivery, Subscription
from tests.webhooks.conftest import Receiver, subscribe


@pytest.fixture
async def subscribed(app, receiver):
    Receiver.secret, worker = await subscribe(app, receiver)
    yield worker
    await worker.close()


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(app, subscribed):
    async with session_scope(app.state.sessions, "demo") as s:
        event = await emit(s, "product.created", {"product_no": 1, "name": "Tee"})
        event_id = event.event_id
    Receiver.plan = [500, 503]
    assert await subscribed.step() >= 1  # fan out and first attempt: 500
    assert await subscribed.step() == 0  # not due yet: the first retry waits 5 s
    with clock.travel(timedelta(seconds=6)):
        await subscribed.step()  # second attempt: 503
    with clock.travel(timedelta(seconds=6 + 301)):
        await subscribed.step()  # third attempt, five minutes later: 200
    assert [r["id"] for r in Receiver.received] == [event_id] * 3  # the same webhook-id every time
    assert Receiver.received[-1]["payload"] == {"id": event_id, "type": "product.created", "mall_id": "demo",
                                                "occurred_at": Receiver.received[-1]["payload"]["occurred_at"],
                                                "data": {"product_no": 1, "name": "Tee"}}  # fmt: skip
    async with session_scope(app.state.sessions, "*") as s:
        attempts = list(await s.scalars(select(Attempt.status_code).order_by(Attempt.attempt_no)))
        delivery = await s.scalar(select(Delivery))
    assert attempts == [500, 503, 200]
    assert delivery.status == "succeeded" and delivery.attempts == 3


async def test_a_change_that_rolled_back_sends_nothing(app, subscribed):
    await subscribed.step()  # the setup's own events (app.installed) are out of the way
    with pytest.raises(RuntimeError):
        async with session_scope(app.state.sessions, "demo") as s:
            await emit(s, "product.created", {"product_no": 2})
            raise RuntimeError("the change failed after its event was written")
    assert await subscribed.step() == 0
    async with session_scope(app.state.sessions, "*") as s:
        assert "product.created" not in [e.type for e in await s.scalars(select(Event))]
    assert Receiver.received == []


async def test_after_a_rotation_both_secrets_sign_for_a_while(app, subscribed):
    old_secret = Receiver.secret
    async with session_scope(app.state.sessions, "demo") as s:
        found = (await s.scalars(select(Subscription))).one()
        new_secret = await webhooks.rotate_secret(s, app.state.key, found)
        await emit(s, "product.created", {"product_no": 3})
    await subscribed.step()
    assert len(Receiver.received) == 1  # the receiver still verifies with the old secret
    Receiver.secret = new_secret
    async with session_scope(app.state.sessions, "demo") as s:
        await emit(s, "product.created", {"product_no": 4})
    await subscribed.step()
    assert [r["payload"]["data"] for r in Receiver.received] == [{"product_no": 3}, {"product_no": 4}]
    assert old_secret != new_secret and new_secret.startswith("whsec_")


async def test_the_log_keeps_attempts_for_the_configured_days(app, subscribed):
    async with session_scope(app.state.sessions, "demo") as s:
        await emit(s, "product.created", {"product_no": 5})
    await subscribed.step()
    app.state.settings.webhook_log_days = 30
    with clock.travel(timedelta(days=29)):
        assert await subscribed.housekeeping() == 0
    with clock.travel(timedelta(days=31)):
        assert await subscribed.housekeeping() == 1
    async with session_scope(app.state.sessions, "*") as s:
        assert list(await s.scalars(select(Attempt))) == []
