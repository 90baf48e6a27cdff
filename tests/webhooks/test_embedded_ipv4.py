"""IPv6 addresses that carry an IPv4 address are judged by it (server-side request forgery): no database, no
network — literal addresses are never looked up, and nothing is sent to any of them."""

from __future__ import annotations

import asyncio
import socket

import pytest

from openmall.webhooks.targets import PinnedResolver, UnsafeTarget, _private, check_target

REFUSED = [
    "64:ff9b::a9fe:a9fe",  # NAT64 (well-known prefix) of 169.254.169.254, the cloud metadata address
    "64:ff9b::169.254.169.254",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64: refused whatever it carries
    "64:ff9b:1::808:808",
    "::a9fe:a9fe",  # IPv4-compatible (deprecated) 169.254.169.254
    "::169.254.169.254",
    "::7f00:1",
    "::8.8.8.8",  # IPv4-compatible: refused whatever it carries
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "fec0::1",  # deprecated site-local
    "feff:ffff::1",
    "2001:0:4136:e378:8000:63bf:3f57:fdf2",  # Teredo (client 192.168.2.13)
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "::ffff:0:0",
    "::",
    "::1",
    "fe80::1",
    "fd00::1",
    "ff0e::1",  # global-scope multicast
    "169.254.169.254",
    "127.0.0.1",
    "100.64.0.1",
]
ALLOWED = [
    "93.184.216.34",
    "2606:2800:220:1:248:1893:25c8:1946",
    "::ffff:93.184.216.34",  # IPv4-mapped public address
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34 (how IPv6-only hosts reach IPv4 receivers)
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
]


@pytest.mark.parametrize(("address", "refused"), [(a, True) for a in REFUSED] + [(a, False) for a in ALLOWED])
def test_the_table_of_addresses(address: str, refused: bool) -> None:
    assert _private(address) is refused


@pytest.fixture
async def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any lookup is recorded and fails: literal addresses must not need one."""
    asked: list[str] = []

    async def getaddrinfo(host: str, *args: object, **kwargs: object) -> list:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("address", [a for a in REFUSED if ":" in a])
async def test_a_url_with_such_an_ipv6_literal_is_refused(no_dns: list[str], address: str) -> None:
    with pytest.raises(UnsafeTarget, match="private"):
        await check_target(f"https://[{address}]:8443/hooks", allow_private=False)
    assert no_dns == []


@pytest.mark.parametrize("address", [a for a in ALLOWED if ":" in a])
async def test_a_url_with_a_public_ipv6_literal_is_accepted(no_dns: list[str], address: str) -> None:
    await check_target(f"https://[{address}]/hooks", allow_private=False)
    assert no_dns == []


async def test_the_workers_resolver_refuses_a_name_that_resolves_to_nat64_metadata() -> None:
    """The worker's connections go through the same decision: a name answering 64:ff9b::a9fe:a9fe gets nothing."""
    resolver = PinnedResolver(allow_private=False)

    async def resolve(host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        return [{"hostname": host, "host": "64:ff9b::a9fe:a9fe", "port": port, "family": socket.AF_INET6,
                 "proto": 0, "flags": 0}]  # fmt: skip

    resolver._inner.resolve = resolve  # type: ignore[method-assign]
    with pytest.raises(OSError, match="private"):
        await resolver.resolve("hooks.attacker.example", 443)
    await resolver.close()
