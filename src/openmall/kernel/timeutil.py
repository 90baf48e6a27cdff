"""Times: stored in UTC, shown in ISO 8601 with the offset of the mall's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import PlainSerializer, SerializationInfo


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_mall_time(value: datetime, tz: str | ZoneInfo) -> datetime:
    tzinfo = zone(tz) if isinstance(tz, str) else tz
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tzinfo)


def iso(value: datetime, tz: str | ZoneInfo) -> str:
    return to_mall_time(value, tz).isoformat(timespec="seconds")


def _serialize(value: datetime, info: SerializationInfo) -> str:
    tz = (info.context or {}).get("timezone", "UTC")
    return iso(value, tz)


MallDateTime = Annotated[datetime, PlainSerializer(_serialize, return_type=str)]
"""A datetime rendered in the time zone passed as ``context={"timezone": ...}`` when dumping."""
