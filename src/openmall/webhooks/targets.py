"""Where webhooks may go: http(s) only, and never to this network's private, loopback or link-local
addresses (server-side request forgery), unless ``OPENMALL_WEBHOOKS_ALLOW_PRIVATE`` is set for local
development and tests. Checked when a subscription is saved and again, on the resolved addresses,
before every attempt (a name may resolve elsewhere later)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


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
