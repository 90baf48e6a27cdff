"""Launch URLs: opening an installed app from the back office, signed so the app can trust who opens it.

The platform redirects to the app URL with ``mall_id, user_id, user_name, timestamp`` and ``hmac``,
as Cafe24 and Shopify do. ``hmac`` is ``base64(HMAC-SHA256(key, message))`` where ``message`` is the
other parameters sorted by name and URL-encoded (``mall_id=demo&timestamp=…&user_id=…&user_name=…``)
and ``key = SHA-256(client_secret)``. openmall keeps only digests of client secrets, so it signs
with this derived key, which it stores encrypted under the server key; the app derives the same key
from the secret it holds. ``verify`` below is the check an app's SDK runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

MAX_AGE_SECONDS = 300  # an app should refuse a launch signed longer ago than this


def launch_key(client_secret: str) -> str:
    return hashlib.sha256(client_secret.encode()).hexdigest()


def signature(params: Mapping[str, str], key_hex: str) -> str:
    message = urlencode(sorted((k, v) for k, v in params.items() if k != "hmac"))
    return base64.b64encode(hmac.new(bytes.fromhex(key_hex), message.encode(), hashlib.sha256).digest()).decode()


def launch_url(app_url: str, key_hex: str, *, mall_id: str, user_id: str, user_name: str, now: datetime) -> str:
    params = {"mall_id": mall_id, "user_id": user_id, "user_name": user_name, "timestamp": str(int(now.timestamp()))}
    params["hmac"] = signature(params, key_hex)
    parts = urlsplit(app_url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def verify(query: Mapping[str, str], client_secret: str, now: datetime, max_age: int = MAX_AGE_SECONDS) -> bool:
    """The app's side: is this launch signed by the platform, recently?"""
    given = query.get("hmac", "")
    ours = {k: v for k, v in query.items() if k in ("mall_id", "user_id", "user_name", "timestamp")}
    if not given or len(ours) != 4 or not ours["timestamp"].isdigit():
        return False
    if abs(now.timestamp() - int(ours["timestamp"])) > max_age:
        return False
    return hmac.compare_digest(signature(ours, launch_key(client_secret)), given)
