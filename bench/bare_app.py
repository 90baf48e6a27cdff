"""The reference point of bench/shop_api.py: a bare FastAPI endpoint with nothing behind it.

Served by uvicorn with exactly the same flags as openmall, so that the ratio between the two
isolates what openmall adds (tenancy, session, queries, rendering) on top of FastAPI + uvicorn.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(title="bare")


@app.get("/ping")
async def ping() -> dict[str, object]:
    return {"ok": True, "name": "bare", "version": 1}
