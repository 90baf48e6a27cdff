"""The `openmall` command as a newcomer runs it: a fresh folder, no settings, real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from openmall.demo_data import DEMO_STOREFRONT

CLI = [sys.executable, "-m", "openmall.cli"]

STOREFRONT_ID = {"X-Client-Id": DEMO_STOREFRONT}


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    environment.update(env or {})
    return subprocess.run([*CLI, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_request(port: int, data: bytes) -> bytes:
    """Send bytes as they are (httpx would refuse to) and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_mall_create_and_list(tmp_path):
    made = run(tmp_path, "mall", "create", "seoul-shop", "--name", "Seoul Shop", "--timezone", "Asia/Seoul")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "seoul-shop" in made.stdout
    assert (tmp_path / "openmall.db").exists()  # the embedded default, created on first use
    listed = run(tmp_path, "mall", "list")
    assert "seoul-shop\tSeoul Shop\tKRW\tAsia/Seoul" in listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad_ID", "--name", "x"], "mall_id must be"),
        (["shop", "--name", "x", "--timezone", "Mars/Olympus"], "unknown time zone"),
        (["shop", "--name", "x", "--currency", "XYZ"], "currency must be one of"),
    ],
)
def test_mall_create_refuses_bad_input(tmp_path, args, message):
    result = run(tmp_path, "mall", "create", *args)
    assert result.returncode == 1
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "shop" not in run(tmp_path, "mall", "list").stdout


def test_mall_create_twice_is_refused(tmp_path):
    assert run(tmp_path, "mall", "create", "twice", "--name", "A").returncode == 0
    again = run(tmp_path, "mall", "create", "twice", "--name", "B")
    assert again.returncode == 1 and "already exists" in again.stdout


def test_demo_data_loads_products_with_bulk_inserts(tmp_path):
    result = run(tmp_path, "demo-data", "--products", "1500", "--mall", "bulk")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "added 1500 products to mall bulk" in result.stdout


def test_serve_first_run_migrates_loads_demo_and_answers(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENMALL_")}
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v2/shop/products", params={"limit": 5}, headers=STOREFRONT_ID
                )
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert response is not None, "server did not start"
        assert response.status_code == 200, response.text
        assert len(response.json()["products"]) == 5
        # the Shop API wants an installed storefront's client id; the demo mall has one, printed at start
        anonymous = httpx.get(f"http://127.0.0.1:{port}/api/v2/shop/products")
        assert anonymous.status_code == 401 and "X-Client-Id" in anonymous.json()["error"]["message"]
        assert response.headers["x-api-version"]
        other = httpx.get(
            f"http://127.0.0.1:{port}/api/v2/shop/products", headers={"Host": "nope.localhost", **STOREFRONT_ID}
        )
        assert other.status_code == 404 and "nope" in other.json()["error"]["message"]
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json")
        assert "/api/v2/shop/products/{product_no}" in docs.json()["paths"]
        # what the HTTP parser refuses still answers in the error format: a 100 KB URL, a garbled request
        huge = raw_request(port, b"GET /api/v2/shop/products?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert huge.startswith(b"HTTP/1.1 414 "), huge[:200]
        assert json.loads(huge.split(b"\r\n\r\n", 1)[1])["error"]["more_info"] == {"maximum": 8192}
        garbled = raw_request(port, b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert garbled.startswith(b"HTTP/1.1 400 "), garbled[:200]
        assert "not valid HTTP" in json.loads(garbled.split(b"\r\n\r\n", 1)[1])["error"]["message"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/v2/shop/products", headers=STOREFRONT_ID).status_code == 200
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert f"http://localhost:{port}/docs" in output
    assert f"X-Client-Id: {DEMO_STOREFRONT}" in output
    assert "operator 'admin', password 'demo-admin-1234'" in output  # the demo operator's credentials
    assert (tmp_path / "openmall.db").exists()


def test_operator_developer_and_app_from_the_cli(tmp_path):
    assert run(tmp_path, "mall", "create", "shop1", "--name", "Shop").returncode == 0
    made = run(tmp_path, "operator", "create", "boss", "--mall", "shop1", "--name", "Boss", "--password", "x" * 12)
    assert made.returncode == 0, made.stdout + made.stderr
    run(tmp_path, "developer", "create", "dev@example.com", "--name", "Dev", "--password", "y" * 12)
    created = run(tmp_path, "app", "create", "--developer", "dev@example.com", "--name", "Reorder",
                  "--app-url", "https://a.example.com", "--redirect-uri", "https://a.example.com/cb",
                  "--scope", "mall.read_product")  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    lines = dict(line.split("\t") for line in created.stdout.splitlines() if "\t" in line)
    assert lines["client_secret"].startswith("om_cs_")
    assert (tmp_path / "openmall.key").stat().st_mode & 0o777 == 0o600
    approved = run(tmp_path, "app", "approve", lines["client_id"])
    assert approved.returncode == 0 and "published" in approved.stdout
    refused = run(tmp_path, "app", "create", "--developer", "dev@example.com", "--name", "Bad",
                  "--app-url", "https://a.example.com", "--redirect-uri", "http://evil.example.com/cb",
                  "--scope", "mall.read_product")  # fmt: skip
    assert refused.returncode == 1 and "must use https" in refused.stdout


def test_orders_expire_deposits_on_a_fresh_database(tmp_path):
    done = run(tmp_path, "orders", "expire-deposits")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 overdue bank-transfer order(s) cancelled" in done.stdout
