"""Payment gateways: the interface an order's card payment goes through, and the built-in test gateway.

A gateway approves an amount on a card (``Approval`` with its transaction id) or declines it (``Decline`` with a
code such as ``card_declined``), cancels an approval (a payment voided before the order was placed) and refunds
part or all of an approved payment (claims). A real gateway is an object with these methods; the test gateway
answers by card number, like Stripe's test cards:

=====================  ==========================================
card number            answer
=====================  ==========================================
4242 4242 4242 4242    approved
4000 0000 0000 0002    declined: ``card_declined``
4000 0000 0000 9995    declined: ``insufficient_funds``
4000 0000 0000 0069    declined: ``expired_card``
4000 0000 0000 0127    declined: ``incorrect_cvc``
any other valid number approved (a Luhn-invalid one: ``incorrect_number``)
=====================  ==========================================

The ``reference`` of an approval is the payment key, and the gateway's idempotency key: asking again with a
reference whose charge stands answers that same charge (no second one); once that charge is cancelled, the
reference may be charged anew. ``lookup(reference)`` answers the reference's latest charge (or None), which is how
``orders.attempts`` settles a payment attempt that a crash left without an outcome.

The test gateway keeps its charges in a SQLite database: in memory by default, or in the file that
``OPENMALL_TEST_GATEWAY_FILE`` names, where every process sees them and a killed process leaves them behind (the
crash tests use that). ``OPENMALL_TEST_GATEWAY_PAUSE`` (seconds) makes it wait after recording an approval, before
answering: a fault-injection point, for a test to kill the server between the charge and the order's commit.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Approval:
    tx_id: str
    amount: Decimal
    card_last4: str = ""


@dataclass(frozen=True)
class Charge:
    """What the gateway holds for a reference: a charge, ``APPROVED`` (standing) or ``CANCELLED`` (voided)."""

    tx_id: str
    reference: str
    amount: Decimal
    status: str  # APPROVED, CANCELLED

    @property
    def standing(self) -> bool:
        return self.status == "APPROVED"


@dataclass(frozen=True)
class Decline:
    code: str  # card_declined, insufficient_funds, expired_card, incorrect_cvc, incorrect_number
    message: str


class Gateway(Protocol):
    name: str

    async def approve(self, amount: Decimal, card_number: str, *, reference: str) -> Approval | Decline:
        """Charge ``amount`` to the card; ``reference`` is the payment key, the idempotency key: a reference whose
        charge stands answers that charge again."""
        ...

    async def lookup(self, reference: str) -> Charge | None:
        """The latest charge made for ``reference`` (None: never charged)."""
        ...

    async def cancel(self, tx_id: str) -> None:
        """Void an approval whose order could not be placed."""
        ...

    async def refund(self, tx_id: str, amount: Decimal) -> None:
        """Give back part or all of an approved payment."""
        ...


DECLINES = {
    "4000000000000002": Decline("card_declined", "The card was declined"),
    "4000000000009995": Decline("insufficient_funds", "The card has insufficient funds"),
    "4000000000000069": Decline("expired_card", "The card has expired"),
    "4000000000000127": Decline("incorrect_cvc", "The card's security code is incorrect"),
}


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number]
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def normalize_card(raw: str) -> str:
    """Digits only (spaces and dashes dropped)."""
    return "".join(c for c in raw if c not in " -")


class TestGateway:
    """Answers by card number (see the module's table); keeps its charges and refunds in SQLite: in memory, or in
    the file ``path`` (shared by every process that opens it; it outlives them)."""

    name = "test"
    KEEP = 100_000  # a long-running test server: the oldest charges are forgotten beyond this many

    def __init__(self, path: str | None = None, *, pause_after_approve: float = 0.0) -> None:
        self.path = path
        self.pause_after_approve = pause_after_approve
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    @classmethod
    def from_env(cls) -> TestGateway:
        """As ``OPENMALL_TEST_GATEWAY_FILE`` and ``OPENMALL_TEST_GATEWAY_PAUSE`` say (see the module's docstring)."""
        pause = float(os.environ.get("OPENMALL_TEST_GATEWAY_PAUSE") or 0)
        return cls(os.environ.get("OPENMALL_TEST_GATEWAY_FILE") or None, pause_after_approve=pause)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():  # opened lazily, and again in a forked process
            db = sqlite3.connect(self.path or ":memory:", timeout=10, isolation_level=None, check_same_thread=False)
            if self.path:
                db.execute("PRAGMA journal_mode=WAL")  # a commit survives the kill of the process that made it
            db.execute("CREATE TABLE IF NOT EXISTS charges (n INTEGER PRIMARY KEY AUTOINCREMENT, tx_id TEXT UNIQUE,"
                       " reference TEXT, amount TEXT, status TEXT, refunded TEXT DEFAULT '0')")  # fmt: skip
            db.execute("CREATE INDEX IF NOT EXISTS charges_reference ON charges (reference, n)")
            self._db, self._pid = db, os.getpid()
        return self._db

    async def approve(self, amount: Decimal, card_number: str, *, reference: str) -> Approval | Decline:
        number = normalize_card(card_number)
        if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19) or not luhn_ok(number):
            return Decline("incorrect_number", "The card number is not a valid card number")
        if number in DECLINES:
            return DECLINES[number]
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")  # one charge per reference, even from two processes at once
        try:
            found = self._latest(reference)
            if found is not None and found.standing:
                db.execute("COMMIT")
                if found.amount != amount:
                    return Decline("reference_reused", f"The reference {reference} was charged {found.amount}, "
                                   f"not {amount}")  # fmt: skip
                return Approval(found.tx_id, found.amount, number[-4:])  # the same charge, not a second one
            tx_id = f"test_tx_{secrets.token_hex(12)}"
            db.execute("INSERT INTO charges (tx_id, reference, amount, status) VALUES (?, ?, ?, 'APPROVED')",
                       (tx_id, reference, str(amount)))  # fmt: skip
            db.execute("DELETE FROM charges WHERE n <= (SELECT max(n) FROM charges) - ?", (self.KEEP,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self.pause_after_approve:
            await asyncio.sleep(self.pause_after_approve)
        return Approval(tx_id, amount, number[-4:])

    def _latest(self, reference: str) -> Charge | None:
        row = self._conn().execute("SELECT tx_id, reference, amount, status FROM charges WHERE reference = ?"
                                   " ORDER BY n DESC LIMIT 1", (reference,)).fetchone()  # fmt: skip
        return None if row is None else Charge(row[0], row[1], Decimal(row[2]), row[3])

    async def lookup(self, reference: str) -> Charge | None:
        return self._latest(reference)

    async def cancel(self, tx_id: str) -> None:
        self._conn().execute("UPDATE charges SET status = 'CANCELLED' WHERE tx_id = ?", (tx_id,))

    async def refund(self, tx_id: str, amount: Decimal) -> None:
        db = self._conn()
        row = db.execute("SELECT refunded FROM charges WHERE tx_id = ?", (tx_id,)).fetchone()
        if row is not None:
            db.execute("UPDATE charges SET refunded = ? WHERE tx_id = ?", (str(Decimal(row[0]) + amount), tx_id))

    # what a test looks at
    @property
    def approved(self) -> dict[str, Decimal]:
        """Every charge approved (cancelled since or not): transaction id → amount."""
        return {tx: Decimal(a) for tx, a in self._conn().execute("SELECT tx_id, amount FROM charges ORDER BY n")}

    @property
    def cancelled(self) -> set[str]:
        return {tx for (tx,) in self._conn().execute("SELECT tx_id FROM charges WHERE status = 'CANCELLED'")}

    @property
    def refunded(self) -> dict[str, Decimal]:
        rows = self._conn().execute("SELECT tx_id, refunded FROM charges WHERE refunded != '0'")
        return {tx: Decimal(r) for tx, r in rows}

    def charges(self, reference: str) -> list[Charge]:
        """Every charge of ``reference``, oldest first."""
        rows = self._conn().execute("SELECT tx_id, reference, amount, status FROM charges WHERE reference = ?"
                                    " ORDER BY n", (reference,))  # fmt: skip
        return [Charge(r[0], r[1], Decimal(r[2]), r[3]) for r in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_GATEWAY: Gateway = TestGateway.from_env()


def gateway() -> Gateway:
    """The card gateway in use (the test gateway unless ``set_gateway`` installed another)."""
    return _GATEWAY


def set_gateway(new: Gateway) -> Gateway:
    """Install a card gateway (a real one, or a test double); returns the previous one."""
    global _GATEWAY
    previous, _GATEWAY = _GATEWAY, new
    return previous
