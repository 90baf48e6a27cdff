"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers (nothing else is asked). ``/readyz``: the database answers a
query and, when it holds the call buckets, Redis answers a ping; 503 naming what is down otherwise.
With the buckets failing open (the default) an unreachable Redis is reported as ``degraded`` with a
200, since every process shares it and a 503 would take them all out of rotation at once.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from openmall.kernel.ratelimit import RedisBuckets

log = logging.getLogger("openmall.health")
router = APIRouter(include_in_schema=False)
TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def _database(request: Request) -> None:
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks = {"database": _database(request)}
    if isinstance(request.app.state.buckets, RedisBuckets):  # Redis is in use: it must answer
        checks["redis"] = request.app.state.buckets.ping()
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, TIMEOUT)
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 — any failure means not ready; say which
            log.warning("readiness: %s is not reachable (%s)", name, exc.__class__.__name__)
            results[name] = f"unreachable ({exc.__class__.__name__})"
    # Redis only holds the call buckets: when they fail open, a Redis outage must not take every process
    # out of rotation at once; it is reported (and counted in /metrics) but the process stays ready
    tolerated = {"redis"} if not request.app.state.settings.rate_limit_fail_closed else set()
    ready = all(v == "ok" for name, v in results.items() if name not in tolerated)
    degraded = any(v != "ok" for v in results.values())
    body = {"status": ("degraded" if degraded else "ready") if ready else "not ready", "checks": results}
    return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})
