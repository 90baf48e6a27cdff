"""Secrets and tokens: prefixed so that scanners recognise a leaked one, stored only as HMAC digests.

``om_cs_`` client secret, ``om_at_`` access token, ``om_rt_`` refresh token, ``om_ac_`` authorization
code, ``whsec_`` webhook secret. A new value is shown once; the database keeps
``HMAC-SHA256(server key, value)``, which is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

PREFIXES = ("om_cs_", "om_at_", "om_rt_", "om_ac_", "whsec_", "om_ma_", "om_mr_")


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A fresh secret of ``nbytes`` random bytes (256 bits by default), URL-safe, with its prefix."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown secret prefix {prefix!r}")
    return prefix + secrets.token_urlsafe(nbytes)


def digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def matches(key: bytes, value: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key, value), stored_digest)


def server_key(secret_key: str | None, secret_file: str) -> bytes:
    """The configured key, or the embedded default's key file (created with mode 0600 on first use)."""
    if secret_key:
        return secret_key.encode()
    path = Path(secret_file)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"openmall seal\x00" + key).digest()))


def seal(key: bytes, value: str) -> str:
    """Encrypt a value the server must read back later (authenticated encryption under the server key)."""
    return _fernet(key).encrypt(value.encode()).decode()


def unseal(key: bytes, sealed: str) -> str:
    return _fernet(key).decrypt(sealed.encode()).decode()
