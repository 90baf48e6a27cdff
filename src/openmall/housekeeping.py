"""Chores that every background worker does now and then (``openmall worker``, and the embedded one of
``openmall serve``), besides delivering webhooks: each domain's periodic work, listed here in one place —
overdue bank transfers cancelled, guest carts nobody came back to dropped, card charges a crash left without an
outcome settled, failed logins at unknown member ids forgotten, expired console sessions deleted.

A chore takes the worker's session factory and returns how many things it handled; a chore that fails is logged
and tried again at the next round (every ``housekeeping_every`` seconds of the worker's loop, 10 minutes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Chore = Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]


async def expire_deposits(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Bank-transfer orders past their deposit's due date are cancelled (``orders.deposits``)."""
    from openmall.orders import deposits

    return len(await deposits.expire(sessions))


async def forget_stale_guest_carts(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Guest cart lines untouched for 30 days are dropped (``orders.cart``)."""
    from openmall.orders import cart

    return await cart.forget_stale_guest_lines(sessions)


async def reconcile_payments(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Card charges a crash left without an outcome are settled, cancelled if no order kept them
    (``orders.attempts``)."""
    from openmall.orders import attempts

    return len(await attempts.reconcile(sessions))


async def forget_old_login_guesses(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Failed logins at unknown member ids, a day after the last one, are forgotten (``customers.service``)."""
    from openmall.customers import service

    return await service.forget_old_guesses(sessions)


async def forget_expired_console_sessions(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Console sessions past their expiry are deleted (``oauth.sessions``)."""
    from openmall.oauth import sessions as console

    return await console.forget_expired(sessions)


CHORES: Sequence[Chore] = (expire_deposits, forget_stale_guest_carts, reconcile_payments, forget_old_login_guesses,
                           forget_expired_console_sessions)  # fmt: skip
