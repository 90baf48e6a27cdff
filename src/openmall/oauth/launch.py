"""Launch URLs, the platform's side: opening an installed app from the back office, signed.

The signature and the app's check are in ``openmall.sdk.launch`` (what an app imports).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from openmall.sdk.launch import launch_key, signature

__all__ = ["launch_key", "launch_url"]


def launch_url(app_url: str, key_hex: str, *, mall_id: str, user_id: str, user_name: str, now: datetime) -> str:
    params = {"mall_id": mall_id, "user_id": user_id, "user_name": user_name, "timestamp": str(int(now.timestamp()))}
    params["hmac"] = signature(params, key_hex)
    parts = urlsplit(app_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
