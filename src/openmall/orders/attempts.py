"""Payment attempts: a card charge is recorded, committed on its own, before the gateway is asked for it; a crash
between the charge and the order's commit then leaves a record that the workers settle.

``payments.confirm`` places an order in one transaction and charges the card inside it. Were the process killed
after the charge and before the commit, the database would roll back and nothing would say that the card was
charged. So, before the charge:

1. ``AttemptLog.start`` inserts a ``payment_attempts`` row (mall, payment key, order sheet, amount, pay type,
   gateway, ``PENDING``) with ONE prebuilt statement in autocommit, off the order's transaction: on PostgreSQL on a
   small asyncpg pool of its own (two connections, never the requests' pool: a request holding one of those and
   waiting for another could wait for ever), elsewhere on a connection of its own. It is made before the sheet is
   claimed (SQLite has one writer: the order's transaction holds the lock from its first write to its commit);
2. the gateway is asked with the payment key as the ``reference``, its idempotency key (a retry of a confirmation
   whose process died answers the same charge, not a second one);
3. the order's transaction marks the attempt ``APPROVED`` with the charge and the order id, so both commit
   together; a rollback (a decline, a conflict, the commit failing) cancels the charge if there was one and marks
   the attempt ``CANCELLED`` (else ``FAILED``) in a short transaction of its own (``kernel.db.on_rollback``).

On PostgreSQL the attempt commits asynchronously by default (``synchronous_commit=off`` on its pool): committed
and visible at once, it survives the API process's crash — the case this module is for. Its WAL reaches the disk
within 3 × ``wal_writer_delay`` or with the order's own (synchronous) commit, whichever comes first; only
PostgreSQL *and* the API process dying together in that window lose it (if PostgreSQL alone dies, the order's
commit fails and the living process cancels the charge). Waiting for that flush cost order placement 15–25 % of
its throughput on the bench machine; ``OPENMALL_PAYMENT_ATTEMPTS_SYNCHRONOUS_COMMIT=true`` waits for it.

What no Python code ran for — a kill, a power cut, a compensation that failed — stays ``PENDING``. ``reconcile``
(every worker's housekeeping, and ``openmall payments reconcile``) settles each attempt PENDING for longer than a
lease (``LEASE``, 2 minutes: no confirmation takes that long), in a transaction of its own that first locks the
attempt and the order sheet (skipping either while another holds it: a live confirmation holds its sheet until it
commits), then asks the gateway for the reference's latest charge:

- the charge is the one the payment committed with (a retry placed the order): ``APPROVED``;
- a charge stands and no order kept it: the charge is **cancelled** at the gateway, the attempt ``CANCELLED``.
  Cancelling rather than completing the order: the buyer saw no success, the sheet is still open, and placing the
  order minutes later would take stock and coupons the buyer may have used elsewhere meanwhile; they pay again;
- the charge was cancelled already (a compensation that ran but could not record it): ``CANCELLED``;
- no charge: ``FAILED``.

A gateway call that fails leaves the attempt PENDING for the next round.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from openmall.kernel.db import ALL_MALLS, asyncpg_pool, create_engine, on_rollback, session_scope, utcnow
from openmall.kernel.fastsql import Statement, in_mall
from openmall.orders import gateways
from openmall.orders.models import OrderSheet, Payment, PaymentAttempt

log = logging.getLogger("openmall.orders")

PENDING, APPROVED, FAILED, CANCELLED = "PENDING", "APPROVED", "FAILED", "CANCELLED"
LEASE = timedelta(minutes=2)  # a confirmation's attempt is left alone this long
BATCH = 200  # attempts looked at per round

_T = PaymentAttempt.__table__
_INSERT = insert(_T).returning(_T.c.attempt_no)
_INSERT_KEYS = ("mall_id", "payment_key", "order_sheet_no", "pay_type", "amount", "status", "gateway", "note",
                "created_at", "updated_at")  # fmt: skip
_FINISH = (
    update(_T)
    .where(_T.c.attempt_no == bindparam("b_attempt_no"), _T.c.mall_id == bindparam("b_mall_id"),
           _T.c.status == PENDING)
    .values(status=bindparam("b_status"), gateway_tx_id=bindparam("b_tx_id"), note=bindparam("b_note"),
            updated_at=bindparam("b_now"))
)  # fmt: skip


@dataclass
class Attempt:
    """An attempt of the request in progress: its row, and the charge once the gateway made one."""

    mall_id: str
    attempt_no: int
    tx_id: str | None = None
    note: str = ""
    asked: bool = False  # the gateway was asked to charge: without its answer (it raised), the outcome is unknown


class AttemptLog:
    """Writes attempts off the order's transaction, each statement committed at once (see the module's docstring):
    on PostgreSQL prebuilt statements on an autocommit asyncpg pool of its own (made on first use), elsewhere
    SQLAlchemy Core on an engine of its own (the app's pragmas: WAL, synchronous=NORMAL)."""

    def __init__(self, database_url: str, engine: AsyncEngine | None = None, *, synchronous: bool = False):
        self._url = database_url
        self._synchronous = synchronous
        self._pg = engine is None and database_url.startswith(("postgresql", "postgres"))
        self._pool: Any = None
        self._engine = engine
        self._own_engine = engine is None
        self._opening = asyncio.Lock()
        self._sql: dict[str, tuple[str, tuple[str, ...], dict[str, Any], dict[str, Any]]] = {}
        if self._pg:
            dialect = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
            for name, stmt, keys in (("insert", _INSERT, list(_INSERT_KEYS)), ("finish", _FINISH, None)):
                compiled = stmt.compile(dialect=dialect, column_keys=keys)
                constants = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}
                processors = compiled._bind_processors  # noqa: SLF001 - money and times convert as in any execute
                self._sql[name] = (str(compiled), tuple(compiled.positiontup or ()), processors, constants)

    @classmethod
    def on_engine(cls, engine: AsyncEngine) -> AttemptLog:
        """A log whose statements take a connection of ``engine``'s pool: for a confirmation called outside a
        request (a script, a test); the app's log never waits on the requests' pool."""
        return cls(engine.url.render_as_string(hide_password=False), engine)

    async def start(self, session: AsyncSession, payment: Payment, gateway: gateways.Gateway) -> Attempt:
        """Record (and commit) the attempt to charge ``payment``; if the request's unit of work does not commit,
        the charge the attempt made (if any) is cancelled and the attempt settled (``kernel.db.on_rollback``)."""
        mall_id = session.info["mall_id"]
        now = utcnow()
        values = {"mall_id": mall_id, "payment_key": payment.payment_key, "order_sheet_no": payment.order_sheet_no,
                  "pay_type": payment.pay_type, "amount": payment.amount, "status": PENDING, "gateway": gateway.name,
                  "note": "", "created_at": now, "updated_at": now}  # fmt: skip
        attempt = Attempt(mall_id, int(await self._run("insert", _INSERT, values)))
        on_rollback(session, lambda: self._after_rollback(attempt, gateway))
        return attempt

    async def _after_rollback(self, attempt: Attempt, gateway: gateways.Gateway) -> None:
        if attempt.tx_id is not None:
            await gateway.cancel(attempt.tx_id)  # raises: the attempt stays PENDING, the workers settle it
            await self.finish(attempt, CANCELLED, "the order was not placed: the charge was cancelled")
        elif attempt.asked and not attempt.note:
            return  # the gateway was asked and never answered (a time-out): it may have charged; PENDING, the
            # workers ask it by reference and cancel what it made
        else:
            await self.finish(attempt, FAILED, attempt.note or "the order was not placed: nothing was charged")

    async def finish(self, attempt: Attempt, status: str, note: str) -> None:
        await self._run("finish", _FINISH, {"b_attempt_no": attempt.attempt_no, "b_mall_id": attempt.mall_id,
                                            "b_status": status, "b_tx_id": attempt.tx_id, "b_note": note[:300],
                                            "b_now": utcnow()})  # fmt: skip

    async def _run(self, name: str, stmt: Any, values: dict[str, Any]) -> Any:
        if self._pg:
            sql, names, processors, constants = self._sql[name]
            values = {**constants, **values}
            args = [processors[n](values[n]) if n in processors else values[n] for n in names]
            pool = self._pool or await self._open()
            async with pool.acquire() as conn:
                return await conn.fetchval(sql, *args)
        engine = self._engine or await self._open()
        async with engine.begin() as conn:
            result = await conn.execute(stmt, values)
            return result.scalar() if result.returns_rows else None

    async def _open(self) -> Any:
        async with self._opening:
            if self._pg and self._pool is None:
                # asynchronous commit (unless told otherwise): the row is visible and committed at once, and it
                # survives the server process; only its WAL flush is left to PostgreSQL's WAL writer (≤ 3 ×
                # wal_writer_delay) or to the order's own commit, which flushes it. Measured: waiting for that
                # flush here cost order placement 15–25 % of its throughput (bench/orders.py).
                settings = None if self._synchronous else {"synchronous_commit": "off"}
                self._pool = await asyncpg_pool(self._url, max_size=2, server_settings=settings)
            elif not self._pg and self._engine is None:  # an engine of its own, set up as the app's (pragmas)
                self._engine = create_engine(self._url)
        return self._pool if self._pg else self._engine

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._engine is not None and self._own_engine:
            await self._engine.dispose()
            self._engine = None


_APPROVED = Statement(
    update(PaymentAttempt).where(PaymentAttempt.attempt_no == bindparam("b_attempt_no"), in_mall(PaymentAttempt))
    .values(status=APPROVED, gateway_tx_id=bindparam("b_tx_id"), order_id=bindparam("b_order_id"),
            updated_at=bindparam("b_now"))
)  # fmt: skip


async def approved(session: AsyncSession, attempt: Attempt, order_id: str) -> None:
    """In the order's transaction: the attempt's charge is the order's (both commit together)."""
    await _APPROVED.execute(session, b_attempt_no=attempt.attempt_no, b_tx_id=attempt.tx_id, b_order_id=order_id,
                            b_now=utcnow())  # fmt: skip


# ---- reconciliation ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    mall_id: str
    attempt_no: int
    payment_key: str
    status: str
    gateway_tx_id: str | None
    note: str


async def reconcile(sessions: async_sessionmaker[AsyncSession], *, gateway: gateways.Gateway | None = None,
                    now: datetime | None = None, lease: timedelta = LEASE) -> list[Settled]:  # fmt: skip
    """Settle every attempt of every mall left PENDING for longer than ``lease`` (see the module's docstring);
    the attempts settled."""
    gw = gateway or gateways.gateway()
    cutoff = (now or utcnow()) - lease
    done: list[Settled] = []
    after = 0  # attempt_no: each round goes on past the last, so an attempt that cannot be settled blocks none
    while True:
        async with session_scope(sessions, ALL_MALLS) as session:
            due = (await session.execute(
                select(PaymentAttempt.attempt_no, PaymentAttempt.mall_id)
                .where(PaymentAttempt.status == PENDING, PaymentAttempt.created_at <= cutoff,
                       PaymentAttempt.attempt_no > after)
                .order_by(PaymentAttempt.attempt_no).limit(BATCH)
            )).all()  # fmt: skip
        for attempt_no, mall_id in due:
            after = attempt_no
            try:
                settled = await _settle(sessions, gw, mall_id, attempt_no, cutoff)
            except Exception:  # noqa: BLE001 - one attempt's trouble (the gateway down) must not keep the others
                log.exception("could not settle payment attempt %s of mall %s", attempt_no, mall_id)
                continue
            if settled is not None:
                done.append(settled)
        if len(due) < BATCH:
            return done


async def _settle(sessions: async_sessionmaker[AsyncSession], gateway: gateways.Gateway, mall_id: str,
                  attempt_no: int, cutoff: datetime) -> Settled | None:  # fmt: skip
    async with session_scope(sessions, mall_id) as session:
        attempt = await session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.attempt_no == attempt_no, PaymentAttempt.status == PENDING,
                                         PaymentAttempt.created_at <= cutoff)
            .with_for_update(skip_locked=True)
        )  # fmt: skip
        if attempt is None:
            return None  # settled meanwhile, or another worker is at it
        if session.bind.dialect.name == "sqlite":  # no row locks there: take the one writer's lock before deciding,
            # so that a confirmation of the same sheet waits for this settlement (or this one fails and is retried)
            await session.execute(update(PaymentAttempt).where(PaymentAttempt.attempt_no == attempt_no)
                                  .values(updated_at=utcnow()).execution_options(synchronize_session=False))
        of_sheet = OrderSheet.order_sheet_no == attempt.order_sheet_no
        locked = await session.scalar(select(OrderSheet.sheet_no).where(of_sheet).with_for_update(skip_locked=True))
        if locked is None and await session.scalar(select(func.count()).select_from(OrderSheet).where(of_sheet)):
            return None  # a confirmation of the sheet is under way: it decides, or the next round does
        payment = await session.scalar(select(Payment).where(Payment.payment_key == attempt.payment_key))
        kept = payment.gateway_tx_id if payment is not None and payment.order_id is not None else None
        charge = await gateway.lookup(attempt.payment_key)
        if charge is None:
            status, tx_id, note = FAILED, None, "the gateway has no charge for it"
        elif kept is not None and charge.tx_id == kept:
            status, tx_id, note = APPROVED, charge.tx_id, f"the charge of order {payment.order_id}"  # type: ignore[union-attr]
            attempt.order_id = payment.order_id  # type: ignore[union-attr]
        elif charge.standing:
            await gateway.cancel(charge.tx_id)
            status, tx_id, note = CANCELLED, charge.tx_id, "left without an order: the charge was cancelled"
        else:
            status, tx_id, note = CANCELLED, charge.tx_id, "left without an order: the charge was cancelled already"
        attempt.status, attempt.gateway_tx_id, attempt.note, attempt.updated_at = status, tx_id, note, utcnow()
        log.warning("payment attempt %s (%s) of mall %s settled: %s, %s", attempt_no, attempt.payment_key, mall_id,
                    status, note)  # fmt: skip
        return Settled(mall_id, attempt_no, attempt.payment_key, status, tx_id, note)
