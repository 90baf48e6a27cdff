"""Where webhooks may go: http(s) only, and never to this network's private, loopback or link-local
addresses (server-side request forgery), unless ``OPENMALL_WEBHOOKS_ALLOW_PRIVATE`` is set for local
development and tests. Checked when a subscription is saved and again, on the resolved addresses,
before every attempt (a name may resolve elsewhere later)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx


class UnsafeTarget(ValueError):
    pass


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an acceptable webhook URL; raises UnsafeTarget naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("webhook URLs must be http:// or https://")
    if not parts.hostname:
        raise UnsafeTarget("webhook URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("webhook URLs may not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeTarget("webhook URL has an invalid port") from None
    return parts.hostname, port


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address (unless allowed)."""
    host, port = check_url(url)
    if allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        if host.lower() in ("localhost",) or host.lower().endswith(".localhost"):
            raise UnsafeTarget(f"webhook host {host} is this machine")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeTarget(f"webhook host {host} does not resolve ({exc.strerror})") from None
        addresses = [info[4][0] for info in infos]
    bad = [a for a in addresses if _private(a)]
    if bad:
        raise UnsafeTarget(f"webhook host {host} is a private, loopback or link-local address ({bad[0]})")


async def checked_address(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``: resolved once and checked, so that the connection goes
    exactly where the check looked (a name that resolves elsewhere a moment later changes nothing)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        bad = [a for a in addresses if _private(a)]
        if bad or host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeTarget(f"webhook host {host} resolves to a private, loopback or link-local address")
    if not addresses:
        raise UnsafeTarget(f"webhook host {host} does not resolve")
    return addresses[0]


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to the checked address of each name (TLS still verifies
    the certificate against the name: httpcore passes the URL's host as the server name)."""

    def __init__(self, allow_private: bool):
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:  # fmt: skip
        address = await checked_address(host, port, self._allow_private)
        return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)  # fmt: skip

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:  # fmt: skip
        raise UnsafeTarget("webhooks do not go to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the pinned backend (no proxies from the environment: webhooks go direct)."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits):
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allow_private),
        )  # fmt: skip
