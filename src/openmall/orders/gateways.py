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
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Approval:
    tx_id: str
    amount: Decimal
    card_last4: str = ""


@dataclass(frozen=True)
class Decline:
    code: str  # card_declined, insufficient_funds, expired_card, incorrect_cvc, incorrect_number
    message: str


class Gateway(Protocol):
    name: str

    async def approve(self, amount: Decimal, card_number: str, *, reference: str) -> Approval | Decline:
        """Charge ``amount`` to the card; ``reference`` is the payment key (idempotency on the gateway's side)."""
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
    """Answers by card number (see the module's table); keeps what it approved and refunded, in memory."""

    name = "test"

    def __init__(self) -> None:
        self.approved: dict[str, Decimal] = {}
        self.cancelled: set[str] = set()
        self.refunded: dict[str, Decimal] = {}

    async def approve(self, amount: Decimal, card_number: str, *, reference: str) -> Approval | Decline:
        number = normalize_card(card_number)
        if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19) or not luhn_ok(number):
            return Decline("incorrect_number", "The card number is not a valid card number")
        if number in DECLINES:
            return DECLINES[number]
        tx_id = f"test_tx_{secrets.token_hex(12)}"
        if len(self.approved) > 100_000:  # a long-running test server: forget the oldest
            self.approved.clear()
        self.approved[tx_id] = amount
        return Approval(tx_id, amount, number[-4:])

    async def cancel(self, tx_id: str) -> None:
        self.cancelled.add(tx_id)

    async def refund(self, tx_id: str, amount: Decimal) -> None:
        self.refunded[tx_id] = self.refunded.get(tx_id, Decimal("0")) + amount


_GATEWAY: Gateway = TestGateway()


def gateway() -> Gateway:
    """The card gateway in use (the test gateway unless ``set_gateway`` installed another)."""
    return _GATEWAY


def set_gateway(new: Gateway) -> Gateway:
    """Install a card gateway (a real one, or a test double); returns the previous one."""
    global _GATEWAY
    previous, _GATEWAY = _GATEWAY, new
    return previous
