"""Passwords: argon2id hashes (argon2-cffi), checked off the event loop, a few at a time per process.

Operators, developers and members all go through here. ``check`` of an unknown account still spends a
full verification (against ``DUMMY``), so that "no such account" and "wrong password" take as long.

A login checks with ``check_outside_transaction``: the request's transaction ends (its connection goes back
to the pool) before argon2 runs, so that a flood of logins, which queue for the few hashing slots, never
holds the database connections every other request needs; the writes after the check open a new one.
"""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

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


async def check_outside_transaction(session: AsyncSession, password_hash: str | None, password: str) -> bool:
    """``check``, once the session's work so far is committed: its transaction ends and its connection returns
    to the pool while the password waits for a hashing slot and is hashed (what comes before is the account's
    lookup and its counted attempt, which must be kept anyway). The session opens a new transaction for
    whatever it does next. Refused when an ``on_rollback`` undo is pending: that work must not commit early."""
    if session.info.get("on_rollback"):
        raise RuntimeError("a password check would commit work that has an on_rollback undo pending")
    if session.in_transaction():
        await session.commit()
    return await check(password_hash, password)


async def hash_outside_transaction(session: AsyncSession, password: str) -> str:
    """``hash_password``, once the session's work so far is committed (as ``check_outside_transaction``): a
    sign-up or a new password never holds a pooled connection, or a row lock, while argon2 runs."""
    if session.info.get("on_rollback"):
        raise RuntimeError("hashing would commit work that has an on_rollback undo pending")
    if session.in_transaction():
        await session.commit()
    return await hash_password(password)


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with weaker parameters than ours: store a new one at the next good login."""
    return HASHER.check_needs_rehash(password_hash)
