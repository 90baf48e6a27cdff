"""kill -9 of a real server between the card's charge and the order's commit, then the reconciliation.

An ``openmall serve`` process runs on the test's PostgreSQL database with the test gateway keeping its charges in
a file (``OPENMALL_TEST_GATEWAY_FILE``) and pausing after each approval (``OPENMALL_TEST_GATEWAY_PAUSE``, the fault
injection point). The test confirms a payment there, kills the server with SIGKILL while the gateway pauses (the
card is charged, nothing is committed), then runs ``openmall payments reconcile`` as an operator would: the charge
must be cancelled at the gateway, the attempt marked, nothing half-written, and the sheet payable again.

PostgreSQL only (the server and the test share the database): skipped on SQLite, and without
``OPENMALL_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from openmall.kernel.db import session_scope
from openmall.orders import gateways
from openmall.orders.models import OrderSheet
from tests.conftest import BASE_DOMAIN
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import GOOD_CARD, PAY, counts, ok
from tests.orders.placing.test_attempts import attempts_of, payment_of, reserved

STARTUP_SECONDS = 60
CLI = [sys.executable, "-m", "openmall.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(app, database_url: str, gateway_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        OPENMALL_DATABASE_URL=database_url,
        OPENMALL_SECRET_KEY=app.state.key.decode(),  # the members' tokens were digested with the test app's key
        OPENMALL_BASE_DOMAIN=BASE_DOMAIN,
        OPENMALL_RATE_LIMIT_BACKEND="off",
        OPENMALL_WORKER_IN_PROCESS="off",  # no reconciliation but the one this test runs
        OPENMALL_TEST_GATEWAY_FILE=str(gateway_file),
        **extra,
    )
    return env


async def _wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=base, timeout=2) as c:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"openmall serve exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"openmall serve did not start in {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
            try:
                if (await c.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def test_a_server_killed_after_the_charge_leaves_no_charge_and_the_sheet_payable(
    app, database_url: str, shop: OrderShop, member_client, tmp_path: Path
):
    if not database_url.startswith("postgresql"):
        pytest.skip("the kill test runs on PostgreSQL only: a server process and the test share the database")
    gateway_file = tmp_path / "gateway.sqlite3"
    gateway = gateways.TestGateway(str(gateway_file))  # what the killed server charged, as any process sees it
    client = await member_client()
    s, key, _ = await reserved(client, shop)
    before = await counts(app)

    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--no-demo", "--port", str(port)], cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
            env=_env(app, database_url, gateway_file, OPENMALL_TEST_GATEWAY_PAUSE="120"), start_new_session=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await _wait_healthy(base, proc, log)
        headers = {**client.buyer.headers, "Host": f"demo.{BASE_DOMAIN}"}  # type: ignore[attr-defined]
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=180) as remote:
            confirming = asyncio.create_task(
                remote.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD})
            )
            deadline = time.monotonic() + 30
            while await gateway.lookup(key) is None:  # charged: the gateway now pauses before answering
                assert not confirming.done(), f"the confirmation ended before the kill: {confirming.result().text}"
                assert time.monotonic() < deadline, f"the server never charged the card:\n{log.read_text()[-3000:]}"
                await asyncio.sleep(0.05)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            with pytest.raises(httpx.TransportError):
                await confirming
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    charge = await gateway.lookup(key)
    assert charge is not None and charge.standing  # the card is charged ...
    assert await counts(app) == before  # ... and nothing of the order was written
    payment = await payment_of(app, key)
    assert (payment.status, payment.order_id, payment.gateway_tx_id) == ("RESERVED", None, None)
    [attempt] = await attempts_of(app, key)
    assert (attempt.status, attempt.gateway_tx_id) == ("PENDING", None)  # but the attempt was recorded before

    env = _env(app, database_url, gateway_file)
    for _ in range(20):  # PostgreSQL ends the killed server's transaction as it notices the closed connection
        done = await asyncio.to_thread(subprocess.run, [*CLI, "payments", "reconcile", "--lease-seconds", "0"],
                                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        if "1 payment attempt(s) settled" in done.stdout:
            break
        await asyncio.sleep(0.5)
    assert f"demo\t{key}\tCANCELLED\t{charge.tx_id}" in done.stdout, done.stdout + done.stderr

    assert (await gateway.lookup(key)).status == "CANCELLED"  # type: ignore[union-attr]  # the buyer pays nothing
    [attempt] = await attempts_of(app, key)
    assert (attempt.status, attempt.gateway_tx_id) == ("CANCELLED", charge.tx_id)
    assert await counts(app) == before
    async with session_scope(app.state.sessions, "demo") as session:
        status = await session.scalar(select(OrderSheet.status).where(OrderSheet.order_sheet_no == s["order_sheet_no"]))
    assert status == "OPEN"

    previous = gateways.set_gateway(gateway)  # the sheet is paid again, on the same gateway
    try:
        placed = ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 201)
    finally:
        gateways.set_gateway(previous)
    assert placed["order"]["status"] == "PAY_DONE"
    standing = [c for c in gateway.charges(key) if c.standing]
    assert len(standing) == 1 and standing[0].tx_id == (await payment_of(app, key)).gateway_tx_id
    assert [a.status for a in await attempts_of(app, key)] == ["CANCELLED", "APPROVED"]
    gateway.close()
