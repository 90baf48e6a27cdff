"""Tenancy: which mall a request is for, and the database session bound to that mall.

The mall comes from the host name ``{mall_id}.{base_domain}``; the bare base domain, ``localhost``
and IP addresses serve the default mall. Routers take ``CurrentMall`` and ``DbSession``; the
session is bound to the mall here, so every query the services run through it is scoped
(see ``kernel.db``), and it commits once when the endpoint returns.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import bind_mall, session_scope
from openmall.kernel.errors import BadRequest, NotFound
from openmall.malls import service as malls
from openmall.malls.service import MallInfo

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def host_name(raw_host: str) -> str:
    host = raw_host.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def mall_id_for_host(raw_host: str, base_domain: str, default_mall: str) -> str | None:
    """The mall a host name asks for, or None when the host is not one of ours."""
    host = host_name(raw_host)
    base = base_domain.lower().rstrip(".")
    if not host or host == base or host in LOOPBACK_NAMES or _is_ip(host):
        return default_mall
    suffix = "." + base
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if label and "." not in label:
            return label
    return None


async def current_mall(request: Request) -> MallInfo:
    settings = request.app.state.settings
    if len(request.headers.getlist("host")) > 1:
        raise BadRequest("A request names one Host; this one has several", more_info={"header": "Host"})
    raw_host = request.headers.get("host", "")
    mall_id = mall_id_for_host(raw_host, settings.base_domain, settings.default_mall)
    if mall_id is None:
        raise NotFound(
            f"Host '{host_name(raw_host)}' is not served here; malls live at {{mall_id}}.{settings.base_domain}",
            more_info={"host": host_name(raw_host), "base_domain": settings.base_domain},
        )
    cache = request.app.state.mall_cache
    hit, mall = cache.get(mall_id)
    if not hit:
        async with request.app.state.read_sessions() as session:
            mall = await malls.find_mall(session, mall_id, cache)
    if mall is None:
        raise NotFound(f"Mall '{mall_id}' does not exist on this server", more_info={"mall_id": mall_id})
    request.state.mall = mall
    return mall


CurrentMall = Annotated[MallInfo, Depends(current_mall)]


async def get_session(request: Request, mall: CurrentMall) -> AsyncIterator[AsyncSession]:
    """The request's unit of work in its mall: commits once when the endpoint returns."""
    async with session_scope(request.app.state.sessions, mall.mall_id) as session:
        yield session


@asynccontextmanager
async def read_session(request: Request, mall: MallInfo) -> AsyncIterator[AsyncSession]:
    """For reads only: no transaction round trips (autocommit), and writes refused.

    Each statement sees committed data as of its start, which is what READ COMMITTED gives inside a
    transaction too; a GET needs nothing more.
    """
    async with request.app.state.read_sessions() as session:
        bind_mall(session, mall.mall_id)
        session.info["read_only"] = True
        yield session


async def get_read_session(request: Request, mall: CurrentMall) -> AsyncIterator[AsyncSession]:
    async with read_session(request, mall) as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
