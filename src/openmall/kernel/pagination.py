"""Lists: ``limit`` (default 10, at most 500), ``offset`` (at most 10,000) and the ``since_no`` cursor.

A bound that is crossed answers 422 with a message that states the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from openmall.kernel.errors import InvalidInput
from openmall.kernel.params import MAX_INT, parse_int

DEFAULT_LIMIT = 10
MAX_LIMIT = 500
MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    since_no: int | None = None


def page_params(
    limit: Annotated[
        str | None,
        Query(description=f"How many to return: 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).", examples=["10"]),
    ] = None,
    offset: Annotated[
        str | None,
        Query(description=f"How many to skip: 0 to {MAX_OFFSET}; read deeper with since_no.", examples=["0"]),
    ] = None,
    since_no: Annotated[
        str | None,
        Query(description="Cursor: only items numbered above this, in ascending order. Not with offset."),
    ] = None,
) -> Page:
    lim = parse_int(
        "limit", limit, default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, hint=f"an integer from 1 to {MAX_LIMIT}"
    )
    off = parse_int(
        "offset",
        offset,
        default=0,
        low=0,
        high=MAX_OFFSET,
        hint=f"an integer from 0 to {MAX_OFFSET} (use since_no to read further)",
    )
    since = parse_int("since_no", since_no, default=None, low=0, high=MAX_INT, hint="a non-negative integer")
    if since is not None and off:
        raise InvalidInput("since_no and offset cannot be used together; since_no replaces offset", field="offset")
    return Page(limit=lim or DEFAULT_LIMIT, offset=off or 0, since_no=since)


PageParams = Annotated[Page, Depends(page_params)]
