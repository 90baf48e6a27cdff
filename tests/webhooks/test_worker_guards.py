"""What the delivery worker itself refuses, whatever was accepted when the subscription was saved: a target that
became private by a change of setting, a redirect, an old secret after its grace. Receivers on loopback only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from openmall.kernel import clock
from openmall.kernel.db import session_scope
from openmall.kernel.events import emit
from openmall.webhooks import service as webhooks
from openmall.webhooks.models import Attempt, Delivery, Subscription
from tests.webhooks.conftest import Receiver, subscribe


async def _product_created(app, product_no: int) -> None:
    async with session_scope(app.state.sessions, "demo") as s:
        await emit(s, "product.created", {"product_no": product_no})


async def _attempts(app) -> list[Attempt]:
    async with session_scope(app.state.sessions, "*") as s:
        return list(await s.scalars(select(Attempt).order_by(Attempt.attempt_no)))


async def test_a_loopback_target_is_refused_by_the_worker_once_private_targets_are_off(app, receiver):
    """Saved while private targets were allowed (local development), delivered after they were turned off: the
    worker checks the literal address itself (the resolver never sees an IP literal) and sends nothing."""
    Receiver.secret, worker = await subscribe(app, receiver)
    app.state.settings.webhooks_allow_private = False
    try:
        await _product_created(app, 1)
        await worker.step()
    finally:
        await worker.close()
    assert Receiver.received == []
    attempts = [a for a in await _attempts(app) if a.status_code is not None or a.error]
    assert attempts and all(a.status_code is None and "loopback" in a.error for a in attempts), attempts


class Redirecting(BaseHTTPRequestHandler):
    to = ""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(307)  # 307 keeps the method and the body: a POST would follow as a POST
        self.send_header("Location", type(self).to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def redirecting(receiver) -> Iterator[str]:
    """A receiver that answers every POST with a 307 to ``receiver`` (which records what reaches it)."""
    handler = type("RedirectingTo", (Redirecting,), {"to": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


async def test_a_redirect_is_not_followed(app, redirecting):
    """A receiver that redirects could send the signed request anywhere (a literal private address is never
    looked up, so the resolver's check would not see it): the worker records the 307 and goes no further."""
    Receiver.secret, worker = await subscribe(app, redirecting)
    try:
        await _product_created(app, 2)
        await worker.step()
    finally:
        await worker.close()
    assert Receiver.received == []  # the redirect's target got nothing
    assert 307 in [a.status_code for a in await _attempts(app)]
    async with session_scope(app.state.sessions, "*") as s:
        assert all(d.status != "succeeded" for d in await s.scalars(select(Delivery)))


async def test_after_the_grace_the_old_secret_no_longer_signs(app, receiver):
    """A receiver still verifying with the old secret accepts deliveries for a day after a rotation
    (``test_delivery``), and none after it; one verifying with the new secret accepts them."""
    Receiver.secret, worker = await subscribe(app, receiver)
    try:
        async with session_scope(app.state.sessions, "demo") as s:
            found = (await s.scalars(select(Subscription))).one()
            new_secret = await webhooks.rotate_secret(s, app.state.key, found)
        with clock.travel(webhooks.SECRET_GRACE + timedelta(minutes=1)):
            await _product_created(app, 3)
            await worker.step()  # the receiver, with the old secret, refuses what it cannot verify
            assert Receiver.received == []
            Receiver.secret = new_secret
            await _product_created(app, 4)
            await worker.step()
    finally:
        await worker.close()
    assert [r["payload"]["data"] for r in Receiver.received] == [{"product_no": 4}]
