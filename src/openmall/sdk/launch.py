"""Launch URLs, the app's side: is this request to my app URL a launch that openmall signed, recently?

openmall opens an installed app at its app URL with ``mall_id, user_id, user_name, timestamp`` and
``hmac`` = ``base64(HMAC-SHA256(key, message))``, where ``message`` is the four other parameters
sorted by name and URL-encoded, and ``key = SHA-256(client_secret)``. (openmall stores only digests
of client secrets, so it signs with this key derived from the secret; the app derives the same key
from the secret it holds.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode

FIELDS = ("mall_id", "timestamp", "user_id", "user_name")
MAX_AGE_SECONDS = 300  # refuse a launch signed longer ago (or further ahead) than this


def launch_key(client_secret: str) -> str:
    """The signing key, hex: SHA-256 of the client secret."""
    return hashlib.sha256(client_secret.encode()).hexdigest()


def signature(params: Mapping[str, str], key_hex: str) -> str:
    message = urlencode(sorted((k, params[k]) for k in FIELDS)).encode()
    return base64.b64encode(hmac.new(bytes.fromhex(key_hex), message, hashlib.sha256).digest()).decode()


def verify_launch(
    query: Mapping[str, str], client_secret: str, now: datetime | None = None, max_age: int = MAX_AGE_SECONDS
) -> bool:
    """True when ``query`` (the launch request's parameters) was signed with this app's secret, recently."""
    given = query.get("hmac", "")
    if not given or any(k not in query for k in FIELDS) or not str(query["timestamp"]).isdigit():
        return False
    moment = now.timestamp() if now is not None else time.time()
    if abs(moment - int(query["timestamp"])) > max_age:
        return False
    return hmac.compare_digest(signature(query, launch_key(client_secret)), given)
