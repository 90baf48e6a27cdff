"""Schemathesis over the whole OpenAPI document, on SQLite and PostgreSQL: no 5xx, and every answer keeps the word
of the document (a declared status, a declared content type, a body that fits its declared schema).

The mall is the demo mall (catalog, a buyer with mileage, an address and coupons) beside a second mall. The Shop
API is called with the storefront's ``X-Client-Id`` and the buyer's member token, the Admin API with a token that
holds every scope, the OAuth token and revoke endpoints with the app's own client credentials (Basic).

The run is bounded for CI: ``EXAMPLES`` generated calls per operation and mode (valid data, then invalid data),
seeded (``derandomize``), no deadline, no shrinking (every failure is collected and reported, not just the first).
The app under test is a second app on the same database, run by schemathesis on its own event loop; the test's
own app only builds the mall.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openmall import demo_data
from openmall.app import create_app
from openmall.config import Settings
from openmall.kernel.db import session_scope
from openmall.oauth import scopes
from openmall.oauth import service as oauth
from tests.conftest import BASE_DOMAIN, STOREFRONT, add_mall, host
from tests.oauth.conftest import basic, bearer

# per operation and generation mode (101 operations x 2 modes on each database); raise it for a deeper local run
EXAMPLES = int(os.environ.get("OPENMALL_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# run last: they end the member's session or account, which every other Shop call needs
LAST = {("DELETE", "/api/v2/shop/oauth/token"), ("DELETE", "/api/v2/shop/profile")}


@dataclass
class Callers:
    member: str  # a member access token of the demo buyer
    admin: str  # an Admin access token with every scope
    client_id: str  # the app behind the Admin token (its credentials for /oauth/token and /oauth/revoke)
    client_secret: str


@dataclass
class Report:
    operations: int = 0
    calls: int = 0
    seconds: float = 0.0
    seconds_in_app: float = 0.0  # of which calls to the app (the rest: generating cases and checking answers)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, what failed) -> first example


@pytest.fixture
async def callers(app, client) -> Callers:
    await add_mall(app, "demo", demo_data.DEMO_MALL_NAME)
    await add_mall(app, "other", "Other Shop")
    async with session_scope(app.state.sessions, "demo") as s:
        await demo_data.load_catalog(s, 40)
        await demo_data.load_operator(s)
        await demo_data.load_shopping(s)
    async with session_scope(app.state.sessions, "demo") as s:
        developer = await oauth.create_developer(s, "fuzz@example.com", "Fuzz", "correct horse battery")
        every = sorted(scopes.ALL)
        made = await oauth.create_app(
            s, app.state.key, developer, name="Everything", app_url="https://everything.example/",
            redirect_uris=["https://everything.example/cb"], scopes=every, test_malls=["demo"],
        )  # fmt: skip
        await oauth.install_app(s, made.app, "demo", None, every)
    async with session_scope(app.state.sessions, "demo") as s:
        admin, granted = await oauth.issue_operator_token(s, app.state.key, made.app.client_id, "admin", 3600, 3600)
    assert granted == every
    member_id, password = demo_data.DEMO_BUYER
    login = await client.post("/api/v2/shop/oauth/token", json={"member_id": member_id, "password": password})
    assert login.status_code == 200, login.text
    return Callers(login.json()["access_token"], admin, made.app.client_id, made.client_secret)


def headers_for(path: str, who: Callers) -> dict[str, str]:
    if path.startswith("/api/v2/shop/"):
        return {"X-Client-Id": STOREFRONT} | bearer(who.member)
    if path.startswith("/api/v2/admin/"):
        return bearer(who.admin)
    if path in ("/api/v2/oauth/token", "/api/v2/oauth/revoke"):
        return basic(who.client_id, who.client_secret)
    return {}


def fuzz(database_url: str, who: Callers) -> Report:
    app = create_app(
        Settings(
            database_url=database_url, base_domain=BASE_DOMAIN, default_mall="demo", mall_cache_seconds=0,
            shop_cache_seconds=0, rate_limit_backend="off",
            worker_in_process="off",  # no webhook deliveries from fuzzed webhook settings
            webhooks_allow_private=True,  # no DNS lookups of fuzzed webhook hosts: nothing leaves loopback
        )  # fmt: skip
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    report, started = Report(operations=len(operations)), time.monotonic()
    try:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run_operation(operation, mode, who, report)
    finally:
        asgi.shutdown_lifespans()  # the app's engine and pools close on schemathesis' loop, where they were opened
    report.seconds = time.monotonic() - started
    return report


def run_operation(operation, mode: GenerationMode, who: Callers, report: Report) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    headers = headers_for(operation.path, who)

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
    )  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case) -> None:
        report.calls += 1
        sent = time.monotonic()
        try:
            response = case.call(base_url=host("demo"), headers=headers)
        except Exception as exc:  # the app raised: the client saw a 500
            report.failures.setdefault((label, f"500 {type(exc).__name__}"), _example(case, exc))
            return
        finally:
            report.seconds_in_app += time.monotonic() - sent
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:  # one or more checks failed
            for failure in group.exceptions:
                title = getattr(failure, "title", type(failure).__name__)
                report.failures.setdefault((label, f"{response.status_code} {title}"), _example(case, failure))

    try:
        call()
    except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
        if mode is not GenerationMode.NEGATIVE:
            raise


def _example(case, exc: BaseException) -> str:
    detail = getattr(exc, "message", None) or "".join(traceback.format_exception_only(exc)).strip()
    try:
        curl = case.as_curl_command()
    except Exception:  # noqa: BLE001
        curl = f"{case.method} {case.formatted_path}"
    return f"{detail[:800]}\n    {curl[:600]}"


def test_every_operation_answers_without_5xx_and_as_documented(database_url, callers):
    report = fuzz(database_url, callers)
    summary = (
        f"{database_url.split(':')[0]}: {report.operations} operations, {report.calls} calls, "
        f"{report.seconds:.0f} s ({report.seconds_in_app:.0f} s in the app), {len(report.failures)} failures"
    )
    print(summary)
    assert report.operations >= 100
    assert not report.failures, summary + "\n\n" + "\n\n".join(
        f"{op} -> {what}\n{example}" for (op, what), example in sorted(report.failures.items())
    )
