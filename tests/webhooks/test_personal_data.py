"""Order events carry the buyer's and the receiver's details: a subscriber whose install holds mall.read_personal
gets them as they are, one without it gets them masked, as the Admin API would show them to it."""

from __future__ import annotations

import json

from openmall.kernel.db import ALL_MALLS, session_scope
from openmall.kernel.events import emit
from openmall.oauth import service as oauth
from openmall.orders import events as order_events
from openmall.webhooks import service as webhooks
from openmall.webhooks.worker import Worker
from tests.conftest import add_mall


async def _subscriber(app, s, developer, name: str, scopes: list[str]) -> int:
    made = await oauth.create_app(s, app.state.key, developer, name=name, app_url="https://hooks.example/",
                                  redirect_uris=["https://hooks.example/cb"], scopes=scopes,
                                  test_malls=["demo"])  # fmt: skip
    await oauth.install_app(s, made.app, "demo", None, scopes)
    sub = await webhooks.set_subscription(s, app.state.key, made.app.app_no, frozenset(scopes),
                                          f"http://127.0.0.1:9/{name}", ["order.created"], allow_private=True)
    return sub.subscription.subscription_no


async def test_order_events_are_masked_for_subscribers_without_the_personal_scope(app):
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        developer = await oauth.create_developer(s, "hooks@example.com", "Hooks", "correct horse battery")
        plain = await _subscriber(app, s, developer, "plain", ["mall.read_order"])
        full = await _subscriber(app, s, developer, "full", ["mall.read_order", "mall.read_personal"])
        writer = await _subscriber(app, s, developer, "writer", ["mall.read_order", "mall.write_personal"])
        await emit(s, order_events.ORDER_CREATED, order_events.EXAMPLE)
    worker = Worker(app.state.engine, app.state.settings, app.state.key, concurrency=1)
    try:
        async with session_scope(app.state.sessions, ALL_MALLS) as s:
            await webhooks.dispatch(s)
            numbers = await webhooks.claim(s, 10)
            works = await webhooks.load_works(s, app.state.key, numbers, lambda e, spec: worker._body(s, e, spec))
    finally:
        await worker.close()
    sent = {w.subscription_no: json.loads(w.body)["data"] for w in works}
    assert sent[full]["orderer"] == order_events.EXAMPLE["orderer"]
    assert sent[full]["shipping_address"]["address2"] == "12F"
    assert sent[writer] == sent[full]  # a write scope brings its read scope, as on the Admin API
    assert sent[plain]["orderer"] == {"name": "K** ****i", "email": "m***@example.com", "mobile": "010-****-5678"}
    assert sent[plain]["shipping_address"]["receiver_phone"] == "010-****-5678"
    assert sent[plain]["shipping_address"]["address1"] == order_events.EXAMPLE["shipping_address"]["address1"]
    assert sent[plain]["shipping_address"]["address2"] != "12F"
    assert sent[plain]["pay_amount"] == sent[full]["pay_amount"] == "41600.00"  # the rest is the same
