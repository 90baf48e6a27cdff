"""The developer console's webhook pages over HTTP: per installed mall, the subscription (secret shown once),
its checks (422 pages, nothing saved), 404 for what is not the developer's, CSRF, and the delivery log with
redelivery on a real loopback receiver that verifies every signature; and once in a real browser."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from openmall.demo_data import DEMO_DEVELOPER, DEMO_STOREFRONT
from openmall.kernel import passwords
from openmall.kernel.db import session_scope
from openmall.kernel.events import emit
from openmall.kernel.secrets import unseal
from openmall.oauth import service as oauth
from openmall.webhooks.models import Subscription
from openmall.webhooks.worker import Worker
from tests.conftest import add_mall, host
from tests.oauth.conftest import csrf_of
from tests.web.conftest import CHROMIUM, _free_port
from tests.webhooks import conftest as loopback
from tests.webhooks.conftest import Receiver

EMAIL, PASSWORD = "dev@hooks.example", "correct horse battery"
_SECRET = re.compile(r'id="webhook-secret">(whsec_[^<]+)<')
_ATTEMPT = re.compile(r'<tr data-attempt-no="(\d+)">')
receiver = loopback.receiver  # the webhook tests' real receiver on loopback (verifies every signature)


@dataclass
class Console:
    http: httpx.AsyncClient  # logged in as the developer
    client_id: str
    app_no: int
    rival_id: str  # another developer's app, installed on demo too

    def page(self, mall: str = "demo", client_id: str | None = None) -> str:
        return f"/developers/apps/{client_id or self.client_id}/webhooks/{mall}"

    async def form(self, mall: str = "demo") -> dict[str, str]:
        page = await self.http.get(self.page(mall))
        assert page.status_code == 200, page.text
        return {"csrf_token": csrf_of(page)}

    async def save(self, url: str, event_types: list[str], mall: str = "demo") -> httpx.Response:
        data = {**(await self.form(mall)), "url": url, "event_types": event_types}
        return await self.http.post(self.page(mall), data=data)


async def _new_app(app, email: str, name: str, scopes: list[str]) -> oauth.NewSecret:
    async with session_scope(app.state.sessions, "*") as s:
        developer = await oauth.create_developer(s, email, name, PASSWORD)
        return await oauth.create_app(s, app.state.key, developer, name=name, app_url="https://hooks.example/launch",
                                      redirect_uris=["https://hooks.example/cb"], scopes=scopes,
                                      test_malls=["demo", "other", "third"])  # fmt: skip


async def _install(app, mall: str, client_id: str, scopes: list[str]) -> None:
    async with session_scope(app.state.sessions, mall) as s:
        await oauth.install_app(s, await oauth.get_app(s, client_id), mall, None, scopes)


@pytest.fixture
async def console(app, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    """Malls demo, other and third; the developer's app installed on demo (products only) and other
    (apps only), not on third; a rival developer's app on demo."""
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app.state.settings.webhooks_allow_private = True
    for mall in ("demo", "other", "third"):
        await add_mall(app, mall, f"{mall.title()} Shop")
    made = await _new_app(app, EMAIL, "Stock Sync", ["mall.read_application", "mall.read_product"])
    rival = await _new_app(app, "rival@hooks.example", "Rival", ["mall.read_product"])
    await _install(app, "demo", made.app.client_id, ["mall.read_product"])
    await _install(app, "other", made.app.client_id, ["mall.read_application"])
    await _install(app, "demo", rival.app.client_id, ["mall.read_product"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo")) as http:
        login = await http.get("/developers/login")
        form = {"csrf_token": csrf_of(login), "login": EMAIL, "password": PASSWORD}
        assert (await http.post("/developers/login", data=form)).headers["location"] == "/developers/apps"
        yield Console(http, made.app.client_id, made.app.app_no, rival.app.client_id)


async def _subscription(app, mall: str = "demo") -> Subscription | None:
    async with session_scope(app.state.sessions, mall) as s:
        return await s.scalar(select(Subscription))


def _shown_secret(page: httpx.Response) -> str | None:
    found = _SECRET.search(page.text)
    return found.group(1) if found else None


async def test_the_app_page_leads_to_the_malls_it_is_installed_on(console):
    app_page = await console.http.get(f"/developers/apps/{console.client_id}")
    assert f'href="/developers/apps/{console.client_id}/webhooks"' in app_page.text
    listing = await console.http.get(f"/developers/apps/{console.client_id}/webhooks")
    assert listing.status_code == 200, listing.text
    assert 'data-mall-id="demo"' in listing.text and 'data-mall-id="other"' in listing.text
    assert 'data-mall-id="third"' not in listing.text  # not installed there
    assert f'href="{console.page("demo")}"' in listing.text


async def test_only_event_types_of_granted_scopes_are_selectable(console):
    page = await console.http.get(console.page("demo"))
    assert re.search(r'value="product.created"(?![^>]*disabled)[^>]*>', page.text)
    app_installed = re.search(r'<input[^>]*value="app.installed"[^>]*>[^\n]*', page.text).group(0)
    assert "disabled" in app_installed and "needs <code>mall.read_application</code>" in app_installed
    other = await console.http.get(console.page("other"))  # there the install granted the apps scope only
    assert re.search(r'value="app.installed"(?![^>]*disabled)[^>]*>', other.text)
    assert re.search(r'value="product.created"[^>]*disabled', other.text)


async def test_saving_makes_a_subscription_whose_secret_is_shown_once(app, console):
    saved = await console.save("https://hooks.example/in", ["product.created", "product.updated"])
    assert saved.status_code == 303 and saved.headers["location"] == console.page("demo")
    first = await console.http.get(console.page("demo"))
    secret = _shown_secret(first)
    assert secret and secret.startswith("whsec_")
    assert "Subscription created." in first.text and "enabled" in first.text
    again = await console.http.get(console.page("demo"))
    assert _shown_secret(again) is None and "whsec_" not in again.text
    sub = await _subscription(app)
    assert sub.url == "https://hooks.example/in" and sub.event_types == ["product.created", "product.updated"]
    assert unseal(app.state.key, sub.secret_sealed) == secret
    assert await _subscription(app, "other") is None  # each mall has its own

    changed = await console.save("https://hooks.example/v2", ["product.deleted"])
    assert changed.status_code == 303
    page = await console.http.get(console.page("demo"))
    assert "Saved." in page.text and _shown_secret(page) is None  # a change keeps the secret
    assert 'value="https://hooks.example/v2"' in page.text
    assert (await _subscription(app)).secret_sealed == sub.secret_sealed


async def test_rotating_shows_the_new_secret_once_and_says_until_when_the_old_one_signs(app, console):
    await console.save("https://hooks.example/in", ["product.created"])
    old = _shown_secret(await console.http.get(console.page("demo")))
    rotated = await console.http.post(console.page("demo") + "/rotate-secret", data=await console.form())
    assert rotated.status_code == 303
    page = await console.http.get(console.page("demo"))
    new = _shown_secret(page)
    assert new and new != old
    assert "the previous one also signs" in page.text
    assert _shown_secret(await console.http.get(console.page("demo"))) is None
    assert unseal(app.state.key, (await _subscription(app)).secret_sealed) == new


@pytest.mark.parametrize(
    ("url", "allow_private", "words"),
    [
        ("ftp://hooks.example/in", True, "http:// or https://"),
        ("http://127.0.0.1:9/hooks", False, "private, loopback or link-local"),
        ("http://10.1.2.3/hooks", False, "private, loopback or link-local"),
        ("", True, "enter the URL"),
    ],
)
async def test_a_bad_url_answers_422_on_the_page_and_saves_nothing(app, console, url, allow_private, words):
    app.state.settings.webhooks_allow_private = allow_private
    page = await console.save(url, ["product.created"])
    assert page.status_code == 422
    error = re.search(r'<p class="error" role="alert" id="error">(.*?)</p>', page.text).group(1)
    assert "Endpoint URL" in error and words in html.unescape(error)
    assert 'aria-invalid="true"' in page.text and f'value="{url}"' in page.text  # the form keeps what was typed
    assert await _subscription(app) is None


async def test_a_bad_change_leaves_the_saved_subscription_as_it_was(app, console):
    await console.save("https://hooks.example/in", ["product.created"])
    refused = await console.save("ftp://hooks.example/in", ["product.updated"])
    assert refused.status_code == 422
    sub = await _subscription(app)
    assert sub.url == "https://hooks.example/in" and sub.event_types == ["product.created"]


async def test_an_event_type_needing_an_ungranted_scope_is_refused(app, console):
    page = await console.save("https://hooks.example/in", ["product.created", "app.installed"])
    assert page.status_code == 422
    assert "Event types:" in page.text and "subscribing needs the scope mall.read_application" in page.text
    none = await console.save("https://hooks.example/in", [])
    assert none.status_code == 422 and "choose at least one event type" in none.text
    unknown = await console.save("https://hooks.example/in", ["order.teleported"])
    assert unknown.status_code == 422 and "unknown event types: order.teleported" in unknown.text
    assert await _subscription(app) is None


async def test_another_developers_app_or_a_mall_without_the_install_is_not_found(app, console):
    csrf = await console.form()
    for path in [
        console.page("demo", client_id=console.rival_id),  # installed on demo, but not this developer's
        f"/developers/apps/{console.rival_id}/webhooks",
        console.page("third"),  # the developer's app, not installed there
        console.page("nowhere"),  # no such mall
        console.page("*"),  # never a session over every mall
        console.page("%2A"),
    ]:
        page = await console.http.get(path)
        assert page.status_code == 404, (path, page.text)
        assert "Not found" in page.text
    for path in [console.page("demo", client_id=console.rival_id), console.page("third")]:
        posted = await console.http.post(path, data={**csrf, "url": "https://hooks.example/in",
                                                     "event_types": ["product.created"]})  # fmt: skip
        assert posted.status_code == 404
        assert (await console.http.post(path + "/rotate-secret", data=csrf)).status_code == 404
        assert (await console.http.post(path + "/logs/1/redeliver", data=csrf)).status_code == 404
    async with session_scope(app.state.sessions, "*") as s:
        assert list(await s.scalars(select(Subscription))) == []


async def test_posts_need_the_csrf_token_and_pages_need_a_login(app, console):
    no_token = await console.http.post(console.page("demo"), data={"url": "https://hooks.example/in",
                                                                   "event_types": ["product.created"]})  # fmt: skip
    assert no_token.status_code == 403 and "reload the page" in no_token.text
    wrong = await console.http.post(console.page("demo"), data={"csrf_token": "forged", "url": "https://hooks.example/in",
                                                                "event_types": ["product.created"]})  # fmt: skip
    assert wrong.status_code == 403
    assert await _subscription(app) is None

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=host("demo")) as stranger:
        for path in [console.page("demo"), f"/developers/apps/{console.client_id}/webhooks"]:
            page = await stranger.get(path)
            assert page.status_code == 303 and page.headers["location"] == "/developers/login"


@pytest.fixture
async def worker(app) -> AsyncIterator[Worker]:
    made = Worker(app.state.engine, app.state.settings, app.state.key, concurrency=10)
    yield made
    await made.close()


async def _deliver_all(worker: Worker) -> None:
    while await worker.step():
        pass


async def test_the_log_shows_attempts_and_redeliver_sends_the_same_webhook_id_again(app, console, receiver, worker):
    await console.save(receiver, ["product.created"])
    Receiver.secret = _shown_secret(await console.http.get(console.page("demo")))
    async with session_scope(app.state.sessions, "demo") as s:
        event_id = (await emit(s, "product.created", {"product_no": 7, "name": "Tee"})).event_id
    await _deliver_all(worker)
    assert [r["id"] for r in Receiver.received] == [event_id]

    page = await console.http.get(console.page("demo"))
    rows = _ATTEMPT.findall(page.text)
    assert len(rows) == 1
    row = page.text.split(f'<tr data-attempt-no="{rows[0]}">', 1)[1].split("</tr>", 1)[0]
    assert event_id in row and "product.created" in row and '<span class="status-code">200</span>' in row
    assert " ms" in row and '<code class="excerpt">ok</code>' in row and "succeeded" in row
    assert _ATTEMPT.findall((await console.http.get(console.page("demo") + "?status=failed")).text) == []
    assert _ATTEMPT.findall((await console.http.get(console.page("demo") + "?status=succeeded")).text) == rows
    bad = await console.http.get(console.page("demo") + "?status=lost")
    assert bad.status_code == 422 and "status must be one of succeeded, failed, pending" in bad.text

    again = await console.http.post(f"{console.page('demo')}/logs/{rows[0]}/redeliver", data=await console.form())
    assert again.status_code == 303 and again.headers["location"] == console.page("demo")
    assert "queued for delivery again" in (await console.http.get(console.page("demo"))).text
    await _deliver_all(worker)
    assert [r["id"] for r in Receiver.received] == [event_id, event_id]  # the same webhook-id, verified again
    assert len(_ATTEMPT.findall((await console.http.get(console.page("demo"))).text)) == 2

    missing = await console.http.post(f"{console.page('demo')}/logs/999999/redeliver", data=await console.form())
    assert missing.status_code == 404
    garbled = await console.http.post(f"{console.page('demo')}/logs/abc/redeliver", data=await console.form())
    assert garbled.status_code == 422


async def test_a_receiver_that_answers_410_shows_as_disabled_and_the_log_pages(app, console, receiver, worker):
    await console.save(receiver, ["product.created"])
    Receiver.secret = _shown_secret(await console.http.get(console.page("demo")))
    async with session_scope(app.state.sessions, "demo") as s:
        for n in range(21):
            await emit(s, "product.created", {"product_no": n})
    await _deliver_all(worker)
    first = await console.http.get(console.page("demo"))
    assert len(_ATTEMPT.findall(first.text)) == 20 and 'href="?page=2" rel="next"' in first.text
    second = await console.http.get(console.page("demo") + "?page=2")
    assert len(_ATTEMPT.findall(second.text)) == 1 and 'href="?page=1" rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    assert (await console.http.get(console.page("demo") + "?page=0")).status_code == 422

    Receiver.plan = [410]
    async with session_scope(app.state.sessions, "demo") as s:
        await emit(s, "product.created", {"product_no": 99})
    await _deliver_all(worker)
    page = await console.http.get(console.page("demo"))
    assert "<strong>disabled</strong> since" in page.text and "410 Gone" in page.text
    listing = await console.http.get(f"/developers/apps/{console.client_id}/webhooks")
    assert "<strong>disabled</strong>" in listing.text
    await console.save(receiver, ["product.created"])  # saving enables it again
    assert "<strong>disabled</strong>" not in (await console.http.get(console.page("demo"))).text


# ---- in a real browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hooks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`openmall serve` with the demo data and webhooks to loopback allowed; the demo storefront (the demo
    developer's app) is granted the products scope on the demo mall."""
    if CHROMIUM is None:
        pytest.skip("browser tests skipped: Debian's chromium is not installed (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("hooks-live")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    env |= {"OPENMALL_WEBHOOKS_ALLOW_PRIVATE": "true", "OPENMALL_WORKER_IN_PROCESS": "off"}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "openmall.cli", "serve", "--port", str(port)], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(base + "/")
                break
            except httpx.TransportError:
                time.sleep(0.3)
        grant = [sys.executable, "-m", "openmall.cli", "app", "install", DEMO_STOREFRONT, "--mall", "demo",
                 "--scope", "mall.read_product"]  # fmt: skip
        subprocess.run(grant, cwd=folder, env=env, check=True, capture_output=True, timeout=60)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_developer_saves_a_subscription_in_a_browser_and_sees_its_secret_once(browser, hooks_server):
    page = browser.new_page()
    try:
        page.goto(hooks_server + "/developers/login")
        page.fill("#login", DEMO_DEVELOPER[0])
        page.fill("#password", DEMO_DEVELOPER[1])
        page.click("button[type=submit]")
        page.wait_for_url("**/developers/apps")
        page.click("text=Demo storefront")
        page.click("#webhooks")
        page.wait_for_url("**/webhooks")
        page.click("tr[data-mall-id='demo'] a")
        page.wait_for_url("**/webhooks/demo")
        assert page.is_disabled("input[value='app.installed']")  # its scope was not granted
        page.fill("#url", "http://127.0.0.1:9/hooks")
        page.check("input[value='product.created']")
        page.click("#setting button[type=submit]")
        page.wait_for_selector("#webhook-secret")
        assert page.inner_text("#webhook-secret").startswith("whsec_")
        assert page.inner_text("#state") == "enabled"
        page.reload()  # shown once
        assert page.locator("#webhook-secret").count() == 0
        assert page.input_value("#url") == "http://127.0.0.1:9/hooks"
        assert page.is_checked("input[value='product.created']")
    finally:
        page.close()
