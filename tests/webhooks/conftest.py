"""A real webhook receiver on loopback that checks every request's signature with `standardwebhooks`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from openmall.kernel.db import session_scope
from openmall.oauth import service as oauth
from openmall.webhooks import service as webhooks
from openmall.webhooks.worker import Worker
from tests.conftest import add_mall


class Receiver(BaseHTTPRequestHandler):
    """Answers the statuses queued in ``plan`` (then 200), verifying each request's signature."""

    secret: str = ""
    plan: list[int] = []
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k: v for k, v in self.headers.items()}
        verified = Webhook(type(self).secret).verify(body, headers)  # raises on a bad signature
        type(self).received.append({"id": headers["webhook-id"], "payload": verified})
        status = type(self).plan.pop(0) if type(self).plan else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    """The receiver's URL; set ``Receiver.secret`` before anything is delivered."""
    Receiver.plan, Receiver.received, Receiver.secret = [], [], ""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()


async def subscribe(app, url: str) -> tuple[str, Worker]:
    """An app of mall demo subscribed to product.created at ``url``: (its signing secret, a worker)."""
    app.state.settings.webhooks_allow_private = True  # loopback receivers: allowed while the subscription is saved
    await add_mall(app, "demo")
    async with session_scope(app.state.sessions, "demo") as s:
        developer = await oauth.create_developer(s, "hooks@example.com", "Hooks", "correct horse battery")
        made = await oauth.create_app(s, app.state.key, developer, name="Hooks", app_url="https://hooks.example/",
                                      redirect_uris=["https://hooks.example/cb"], scopes=["mall.read_product"],
                                      test_malls=["demo"])  # fmt: skip
        await oauth.install_app(s, made.app, "demo", None, ["mall.read_product"])
        sub = await webhooks.set_subscription(s, app.state.key, made.app.app_no, frozenset({"mall.read_product"}),
                                              url, ["product.created"], allow_private=True)  # fmt: skip
    return sub.secret, Worker(app.state.engine, app.state.settings, app.state.key, concurrency=10)
