"""In a real browser: a developer registers an app; an operator logs in, consents, lands on the app's
redirect URI (served by this test); the app exchanges the code with a stock OAuth client; the
operator uninstalls it and its token stops working. The app's side is Authlib's requests client,
as an app developer would write it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session

from openmall.demo_data import DEMO_DEVELOPER, DEMO_OPERATOR


class _Callback(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        body = b"<!doctype html><title>Stock sync</title><h1>Connected to openmall</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def app_site() -> Iterator[str]:
    """The app's own web server: its redirect URI and its app URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _register_app(page, live_server: str, app_site: str) -> tuple[str, str]:
    """The developer console: log in, register an app, read the secret that is shown once."""
    page.goto(live_server + "/developers/login")
    page.fill("#login", DEMO_DEVELOPER[0])
    page.fill("#password", DEMO_DEVELOPER[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/developers/apps")
    page.click("text=Register a new app")
    page.fill("#name", "Stock sync")
    page.fill("#description", "Keeps stock in step with the warehouse.")
    page.fill("#app_url", app_site + "/launch")
    page.fill("#redirect_uris", app_site + "/callback")
    page.fill("#test_malls", "demo")
    page.check("input[value='mall.read_product']")
    page.check("input[value='mall.write_product']")
    page.check("input[value='mall.read_store']")
    page.click("button[type=submit]")
    client_id = page.inner_text("#client-id")
    secret = page.inner_text("#client-secret")
    assert secret.startswith("om_cs_")
    page.reload()  # shown once: a second look no longer has it
    assert page.locator("#client-secret").count() == 0
    return client_id, secret


def test_install_consent_token_and_uninstall_in_a_browser(browser, live_server, app_site):
    context = browser.new_context()
    page = context.new_page()
    try:
        client_id, secret = _register_app(page, live_server, app_site)
        oauth = OAuth2Session(
            client_id, secret, scope="mall.read_product,mall.write_product,mall.read_store",
            redirect_uri=app_site + "/callback", code_challenge_method="S256",
        )  # fmt: skip
        verifier = "v" * 64
        url, state = oauth.create_authorization_url(live_server + "/api/v2/oauth/authorize", code_verifier=verifier)

        page.goto(url)  # not logged in to the mall: the operator logs in first
        page.wait_for_url("**/admin/login**")
        page.fill("#login", DEMO_OPERATOR[0])
        page.fill("#password", DEMO_OPERATOR[1])
        page.click("button[type=submit]")

        page.wait_for_url("**/api/v2/oauth/authorize**")
        asked = page.locator("#scopes li").all_inner_texts()
        assert any(a.startswith("See and change products") for a in asked), asked
        assert any(a.startswith("See shop settings") for a in asked), asked
        page.click("button[value=allow]")

        page.wait_for_url(app_site + "/callback**")
        assert page.inner_text("h1") == "Connected to openmall"
        landed = page.url
        query = parse_qs(urlsplit(landed).query)
        assert query["state"] == [state] and query["code"][0].startswith("om_ac_")

        token = oauth.fetch_token(
            live_server + "/api/v2/oauth/token", authorization_response=landed, code_verifier=verifier
        )
        assert token["mall_id"] == "demo" and token["user_id"] == DEMO_OPERATOR[0]
        store = oauth.get(live_server + "/api/v2/admin/store")  # the client sends its bearer token
        assert store.status_code == 200 and store.json()["store"]["mall_id"] == "demo"
        first = token["refresh_token"]
        token = oauth.refresh_token(live_server + "/api/v2/oauth/token")  # sends the comma-separated scope again
        assert token["refresh_token"] != first
        assert oauth.get(live_server + "/api/v2/admin/products?limit=1").json()["products"][0]["product_no"] >= 1

        # the back office lists the app; launching it opens the app URL, signed
        page.goto(live_server + "/admin/apps")
        row = page.locator(f"tr[data-client-id='{client_id}']")
        assert "Stock sync" in row.inner_text()
        row.locator("text=Open app").click()
        page.wait_for_url(app_site + "/launch**")
        assert set(parse_qs(urlsplit(page.url).query)) == {"mall_id", "user_id", "user_name", "timestamp", "hmac"}

        page.goto(live_server + "/admin/apps")
        page.locator(f"tr[data-client-id='{client_id}'] button", has_text="Uninstall").click()
        page.wait_for_url("**/admin/apps")
        assert "was uninstalled" in page.inner_text("[role=status]")
        assert page.locator(f"tr[data-client-id='{client_id}']").count() == 0
        after = oauth.get(live_server + "/api/v2/admin/store")
        assert after.status_code == 401 and 'error="invalid_token"' in after.headers["www-authenticate"]
    finally:
        context.close()
