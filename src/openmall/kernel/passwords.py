"""Passwords: argon2id hashes (argon2-cffi), checked off the event loop, a few at a time per process.

Operators, developers and members all go through here. ``check`` of an unknown account still spends a
full verification (against ``DUMMY``), so that "no such account" and "wrong password" take as long.
"""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
# argon2 runs off the event loop, at most this many at once per process, so that a burst of logins
# (for accounts that exist or not) queues password checks instead of stalling every other request
_SLOTS = threading.BoundedSemaphore(2)
DUMMY = HASHER.hash("not a password of anyone")


def _verify_blocking(password_hash: str, password: str) -> bool:
    with _SLOTS:
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _hash_blocking(password: str) -> str:
    with _SLOTS:
        return HASHER.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash_blocking, password)


async def check(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash (no such account) costs a full check and is False."""
    ok = await asyncio.to_thread(_verify_blocking, password_hash or DUMMY, password)
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than ours: store a new one at the next good login."""
    return HASHER.check_needs_rehash(password_hash)
