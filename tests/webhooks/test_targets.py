"""Where webhooks may go (server-side request forgery): no database, no network.

Host names are resolved through the running loop's ``getaddrinfo``, which the tests replace, so that
nothing here depends on DNS (the test machines have no internet).
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest

from openmall.webhooks.targets import UnsafeTarget, check_target


@dataclass
class Resolver:
    names: dict[str, list[str]] = field(default_factory=dict)  # name -> its addresses; others do not resolve
    asked: list[str] = field(default_factory=list)  # every name looked up

    async def getaddrinfo(self, host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        self.asked.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self.names[host]]  # fmt: skip


@pytest.fixture
async def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    """The running loop's getaddrinfo, replaced: no test here touches DNS."""
    fake = Resolver()
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake.getaddrinfo)
    return fake


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example.com/in", "http"),
        ("file:///etc/passwd", "http"),
        ("http:///no-host", "no host"),
        ("https://user:pass@hooks.example.com/in", "credentials"),
        ("https://user@hooks.example.com/in", "credentials"),
        ("http://hooks.example.com:99999/in", "port"),
    ],
)
async def test_urls_that_are_not_plain_http_to_a_host_are_refused(url: str, words: str) -> None:
    with pytest.raises(UnsafeTarget, match=words):
        await check_target(url, allow_private=False)
    with pytest.raises(UnsafeTarget, match=words):  # even where private addresses are allowed
        await check_target(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://LOCALHOST:8000/hooks",
        "http://x.localhost/hooks",
        "http://10.0.0.1/hooks",
        "http://192.168.1.1/hooks",
        "http://172.16.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]/hooks",
        "http://[fd00::1]/hooks",  # unique local
        "http://[fe80::1]/hooks",  # link-local
        "http://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped loopback
        "http://[::ffff:169.254.169.254]/hooks",
        "http://0.0.0.0/hooks",
        "http://100.64.0.1/hooks",  # carrier-grade NAT
        "http://224.0.0.1/hooks",  # multicast
        "https://127.0.0.1:443/hooks",
    ],
)
async def test_private_loopback_and_link_local_hosts_are_refused(url: str, resolver) -> None:
    with pytest.raises(UnsafeTarget, match="this machine|private"):
        await check_target(url, allow_private=False)


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["10.1.2.3"], ["::1"], ["93.184.216.34", "192.168.0.10"], ["169.254.169.254"]]
)
async def test_a_name_that_resolves_to_a_private_address_is_refused(resolver, addresses: list[str]) -> None:
    resolver.names["hooks.attacker.example"] = addresses  # any of the addresses being private is enough
    with pytest.raises(UnsafeTarget, match="private"):
        await check_target("https://hooks.attacker.example/in", allow_private=False)


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "localhost."])
async def test_other_spellings_of_loopback_are_refused(resolver, host: str) -> None:
    """Spellings ``ipaddress`` does not parse go to the resolver; what they resolve to is checked."""
    resolver.names[host] = ["127.0.0.1"]  # what the C resolver makes of them
    with pytest.raises(UnsafeTarget, match="this machine|private"):
        await check_target(f"http://{host}/hooks", allow_private=False)


async def test_a_name_that_does_not_resolve_is_refused(resolver) -> None:
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        await check_target("https://nowhere.invalid/in", allow_private=False)


async def test_a_name_that_resolves_to_a_public_address_is_accepted(resolver) -> None:
    resolver.names["hooks.example.com"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    await check_target("https://hooks.example.com/in", allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/", "https://93.184.216.34:8443/in", "http://[2606:2800:220:1:248:1893:25c8:1946]/"]
)
async def test_a_public_literal_address_is_accepted_without_dns(resolver, url: str) -> None:
    await check_target(url, allow_private=False)
    assert resolver.asked == []


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost:8000/hooks", "http://[::1]/hooks", "http://10.0.0.1/"]
)
async def test_private_hosts_are_accepted_when_allowed(resolver, url: str) -> None:
    await check_target(url, allow_private=True)
    assert resolver.asked == []  # nothing to look up
