"""The rules for malls: creating one, finding one (cached briefly per process)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.errors import Conflict, InvalidInput, NotFound
from openmall.kernel.ratelimit import Policy
from openmall.malls.models import Mall
from openmall.malls.schemas import ApiLimitsIn, MallCreate


@dataclass(frozen=True, slots=True)
class MallInfo:
    """What a request needs of its mall; immutable so that it can be cached across requests."""

    mall_id: str
    name: str
    currency: str
    timezone: str
    admin_limit: Policy = Policy()  # the call bucket of each app on the Admin API
    shop_limit: Policy = Policy()  # the call bucket of each storefront client and IP on the Shop API


class MallCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._items: dict[str, tuple[float, MallInfo | None]] = {}

    def get(self, mall_id: str) -> tuple[bool, MallInfo | None]:
        hit = self._items.get(mall_id)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, mall_id: str, info: MallInfo | None) -> None:
        if self.ttl > 0:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[mall_id] = (time.monotonic() + self.ttl, info)


def _info(m: Mall) -> MallInfo:
    return MallInfo(
        mall_id=m.mall_id, name=m.name, currency=m.currency, timezone=m.timezone,
        admin_limit=Policy(m.admin_call_capacity, m.admin_call_drain),
        shop_limit=Policy(m.shop_call_capacity, m.shop_call_drain),
    )  # fmt: skip


async def find_mall(session: AsyncSession, mall_id: str, cache: MallCache | None = None) -> MallInfo | None:
    if cache is not None:
        hit, info = cache.get(mall_id)
        if hit:
            return info
    row = await session.get(Mall, mall_id)
    info = _info(row) if row else None
    if cache is not None:
        cache.put(mall_id, info)
    return info


async def get_mall(session: AsyncSession, mall_id: str, cache: MallCache | None = None) -> MallInfo:
    info = await find_mall(session, mall_id, cache)
    if info is None:
        raise NotFound(f"Mall '{mall_id}' does not exist on this server", more_info={"mall_id": mall_id})
    return info


async def create_mall(session: AsyncSession, mall_id: str, name: str, **settings: str) -> MallInfo:
    try:
        data = MallCreate(mall_id=mall_id, name=name, **settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "mall"
        raise InvalidInput(f"{field}: {err['msg'].removeprefix('Value error, ')}", field=field) from None
    if await session.get(Mall, data.mall_id) is not None:
        raise Conflict(f"Mall '{data.mall_id}' already exists", more_info={"mall_id": data.mall_id})
    mall = Mall(**data.model_dump())
    session.add(mall)
    await session.flush()
    return _info(mall)


async def set_api_limits(
    session: AsyncSession, mall_id: str, changes: dict[str, Any], cache: MallCache | None = None
) -> MallInfo:
    """Change a mall's call buckets: ``admin`` and/or ``shop``, each ``{"capacity", "drain_per_second"}``."""
    try:
        data = ApiLimitsIn.model_validate(changes)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "request"
        raise InvalidInput(f"{field}: {err['msg'].removeprefix('Value error, ')}", field=field) from None
    mall = await session.get(Mall, mall_id)
    if mall is None:
        raise NotFound(f"Mall '{mall_id}' does not exist on this server", more_info={"mall_id": mall_id})
    for surface in ("admin", "shop"):
        limit = getattr(data, surface)
        if limit is not None:
            setattr(mall, f"{surface}_call_capacity", limit.capacity)
            setattr(mall, f"{surface}_call_drain", limit.drain_per_second)
    await session.flush()
    info = _info(mall)
    if cache is not None:
        cache.put(mall_id, info)  # this process sees it at once; the others within their cache time
    return info


async def list_malls(session: AsyncSession) -> list[MallInfo]:
    rows = await session.scalars(select(Mall).order_by(Mall.mall_id))
    return [_info(m) for m in rows]


async def count_malls(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Mall)) or 0)
