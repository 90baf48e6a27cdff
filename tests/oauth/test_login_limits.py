"""Call limits on guesses at secrets: console logins and sign-ups (per IP and per account) and the token endpoint
(per IP and per client_id in a mall), on the configured bucket backend (memory; Redis when
OPENMALL_TEST_REDIS_URL names one). The N+1st attempt is a 429 with Retry-After."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest

from openmall.kernel.ratelimit import MemoryBuckets, Policy, RedisBuckets
from tests.conftest import host
from tests.oauth.conftest import OPERATOR, PASSWORD, TOKEN, basic, csrf_of

REDIS_URL = os.environ.get("OPENMALL_TEST_REDIS_URL")


class Prefixed:
    """A backend whose keys are this test's own (a Redis is shared by test runs)."""

    def __init__(self, buckets, prefix: str):
        self.buckets, self.prefix, self.keys = buckets, prefix, []

    async def hit(self, key: str, policy: Policy):
        self.keys.append(self.prefix + key)
        return await self.buckets.hit(self.prefix + key, policy)


@pytest.fixture(params=["memory", "redis"])
async def limits(request, app):
    """Small limits on the app: tests set the capacities they need."""
    if request.param == "memory":
        backend = MemoryBuckets()
    elif not REDIS_URL:
        pytest.skip("Redis run skipped: set OPENMALL_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    else:
        backend = RedisBuckets(REDIS_URL, timeout=2.0)
    app.state.buckets = Prefixed(backend, f"test-{uuid.uuid4().hex}:")
    settings = app.state.settings
    settings.login_limit_per_ip = settings.login_limit_per_account = 100
    settings.token_limit_per_ip = settings.token_limit_per_client = 100
    settings.login_limit_drain_seconds = settings.token_limit_drain_seconds = 600  # nothing drains during a test
    yield settings
    if request.param == "redis":
        keys = {RedisBuckets.PREFIX + k for k in app.state.buckets.keys}
        await backend._redis.delete(*keys)  # noqa: SLF001
        await backend.close()


async def _login(client, path: str, login: str, password: str, mall: str = "demo", **extra: str):
    page = await client.get(host(mall) + path)
    return await client.post(host(mall) + path, data={"csrf_token": csrf_of(page), "login": login,
                                                      "password": password, **extra})  # fmt: skip


def _assert_slow_down_page(response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"].startswith("text/html")
    assert "Too many login attempts" in response.text and "try again in" in response.text


async def test_an_operator_account_gets_n_login_attempts_then_429(oauth, client, limits):
    limits.login_limit_per_account = 3
    for _ in range(3):
        assert (await _login(client, "/admin/login", OPERATOR, "wrong password!")).status_code == 401
    _assert_slow_down_page(await _login(client, "/admin/login", OPERATOR, PASSWORD))  # the right one too, for now
    # another mall's operator of the same name is another account
    assert (await _login(client, "/admin/login", OPERATOR, PASSWORD, mall="other")).status_code == 303


async def test_a_developer_account_gets_n_login_attempts_then_429(oauth, client, limits):
    limits.login_limit_per_account = 2
    for email in ("dev@app.example", " DEV@app.example"):
        assert (await _login(client, "/developers/login", email, "wrong password!")).status_code == 401
    _assert_slow_down_page(await _login(client, "/developers/login", "dev@app.example", PASSWORD))


async def test_one_ip_gets_n_login_attempts_whatever_the_accounts(oauth, client, limits):
    limits.login_limit_per_ip = 3
    for i in range(3):
        assert (await _login(client, "/developers/login", f"nobody{i}@x.example", "guess guess")).status_code == 401
    _assert_slow_down_page(await _login(client, "/developers/login", "dev@app.example", PASSWORD))
    _assert_slow_down_page(await _login(client, "/admin/login", OPERATOR, PASSWORD))  # one budget per IP


async def test_sign_ups_count_against_the_ip(oauth, client, limits):
    limits.login_limit_per_ip = 2
    for i in range(2):
        made = await _login(client, "/developers/signup", f"new{i}@x.example", "a long password", name="New")
        assert made.status_code == 303, made.text
    refused = await _login(client, "/developers/signup", "new9@x.example", "a long password", name="New")
    _assert_slow_down_page(refused)


async def test_the_token_endpoint_answers_n_wrong_secrets_then_429(oauth, client, limits):
    limits.token_limit_per_client = 5
    form = {"grant_type": "refresh_token", "refresh_token": "om_rt_nothing"}
    for _ in range(5):
        wrong = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, "om_cs_wrong"))
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    refused = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, "om_cs_wrong"))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == 429 and "try again in" in error["message"] and error["more_info"]["retry_after"] >= 1
    # client_secret_post names the same client: the same bucket
    post = form | {"client_id": oauth.client_id, "client_secret": oauth.client_secret}
    assert (await client.post(host("demo") + TOKEN, data=post)).status_code == 429
    # another app is not held back
    other = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.rival_id, oauth.rival_secret))
    assert other.status_code == 400


async def test_wrong_secrets_from_elsewhere_do_not_use_up_the_apps_own_token_calls(app, oauth, client, limits):
    """A client_id is public: whoever sends it with wrong secrets fills the bucket of their own address only."""
    limits.token_limit_per_client = 5
    form = {"grant_type": "refresh_token", "refresh_token": "om_rt_nothing"}
    for _ in range(6):
        last = await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, "om_cs_wrong"))
    assert last.status_code == 429
    app_server = httpx.ASGITransport(app=app, client=("127.0.0.2", 40000))
    async with httpx.AsyncClient(transport=app_server) as own:
        answer = await own.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, oauth.client_secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"  # heard, not refused


async def test_the_token_endpoint_limits_one_ip_across_clients(oauth, client, limits):
    limits.token_limit_per_ip = 3
    form = {"grant_type": "refresh_token", "refresh_token": "om_rt_nothing"}
    for i in range(3):
        response = await client.post(host("demo") + TOKEN, data=form, headers=basic(f"client-{i}", "om_cs_x"))
        assert response.status_code == 401
    assert (await client.post(host("demo") + TOKEN, data=form, headers=basic(oauth.client_id, "x"))).status_code == 429
