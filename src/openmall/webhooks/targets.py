"""Where webhooks may go: http(s) only, and never to this network's private, loopback or link-local
addresses (server-side request forgery), unless ``OPENMALL_WEBHOOKS_ALLOW_PRIVATE`` is set for local
development and tests. Checked when a subscription is saved, and again on every connection the worker
makes: its resolver refuses non-public answers, and the connection goes to the address it checked."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver


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


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052): IPv4 in the last 32 bits
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): where the IPv4 sits is site policy
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated "::a.b.c.d" (RFC 4291), with :: and ::1


def _public_ipv4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def _private(address: str) -> bool:
    """Whether a webhook may not go to this address: the one place that decides, for the check when a
    subscription is saved and for every connection the worker makes.

    IPv6 forms that carry an IPv4 address are judged by that address, since that is where the packets end up:
    IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::/48`` and Teredo
    (server and client). ``is_global`` alone passes the NAT64 and 6to4 forms of 169.254.169.254. Forms with
    no legitimate public use are refused outright: IPv4-compatible ``::a.b.c.d``, local-use NAT64
    ``64:ff9b:1::/48`` and deprecated site-local ``fec0::/10`` (still routed inside some networks).
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return not _public_ipv4(ip)
    if ip.ipv4_mapped is not None:
        return not _public_ipv4(ip.ipv4_mapped)
    if ip in _NAT64:
        return not _public_ipv4(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _IPV4_COMPATIBLE or ip in _LOCAL_NAT64 or ip.is_site_local:
        return True
    embedded = [ip.sixtofour] if ip.sixtofour is not None else list(ip.teredo or ())
    return not ip.is_global or ip.is_multicast or not all(_public_ipv4(v4) for v4 in embedded)


def _is_local_name(host: str) -> bool:
    return host.lower().rstrip(".") == "localhost" or host.lower().rstrip(".").endswith(".localhost")


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def check_without_dns(url: str, allow_private: bool) -> None:
    """What can be refused before any lookup: the URL's form, literal non-public addresses, localhost.
    (Names are checked when they resolve: ``PinnedResolver``.)"""
    host, _port = check_url(url)
    if allow_private:
        return
    literal = _literal(host)
    if literal is not None and _private(literal):
        raise UnsafeTarget(f"webhook host {host} is a private, loopback or link-local address")
    if _is_local_name(host):
        raise UnsafeTarget(f"webhook host {host} is this machine")


async def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host is, or resolves to, a non-public address (unless allowed)."""
    check_without_dns(url, allow_private)
    if allow_private:
        return
    host, port = check_url(url)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeTarget(f"webhook host {host} does not resolve ({exc.strerror})") from None
        addresses = [info[4][0] for info in infos]
    bad = [a for a in addresses if _private(a)]
    if bad:
        raise UnsafeTarget(f"webhook host {host} is a private, loopback or link-local address ({bad[0]})")


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to non-public addresses (unless allowed).

    The connector connects to exactly the addresses this returns, so the check and the connection
    look at the same answer: a name rebound to loopback after an earlier check gets nothing. TLS still
    verifies the certificate against the name.
    """

    def __init__(self, allow_private: bool):
        self._inner = ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        if not self._allow_private and _is_local_name(host):
            raise OSError(f"webhook host {host} is this machine")
        found = await self._inner.resolve(host, port, family)
        if not self._allow_private:
            bad = [r["host"] for r in found if _private(r["host"])]
            if bad:
                raise OSError(f"webhook host {host} resolves to a private, loopback or link-local address ({bad[0]})")
        return found

    async def close(self) -> None:
        await self._inner.close()
