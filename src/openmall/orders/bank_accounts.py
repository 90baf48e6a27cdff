"""The mall's account for bank transfers: shown to the buyer with the amount and the due date of a bank-transfer
order (``Order.deposit``). A mall without one takes no bank transfers: reserving or confirming one is a 409 that
says so (a card still works)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.errors import Conflict
from openmall.orders.models import BankAccount


@dataclass(frozen=True)
class Account:
    bank: str
    account_number: str
    holder: str

    def as_deposit(self) -> dict[str, str]:
        """As a bank-transfer order shows it (``deposit``)."""
        return {"bank": self.bank, "account": self.account_number, "holder": self.holder}


async def get_account(session: AsyncSession) -> Account | None:
    row = await session.scalar(select(BankAccount))
    return Account(row.bank, row.account_number, row.holder) if row is not None else None


async def required_account(session: AsyncSession) -> Account:
    """The account, or a 409: this mall takes no bank transfers."""
    account = await get_account(session)
    if account is None:
        raise Conflict("This shop takes no bank transfers (it has no account for deposits); pay by card",
                       more_info={"field": "pay_type", "pay_type": "BANK_TRANSFER"})  # fmt: skip
    return account


async def put_account(session: AsyncSession, *, bank: str, account_number: str, holder: str) -> Account:
    """Create or replace the account; orders placed before keep the account they were told."""
    row = await session.scalar(select(BankAccount).with_for_update())
    if row is None:
        row = BankAccount()
        session.add(row)
    row.bank, row.account_number, row.holder = bank, account_number, holder
    await session.flush()
    return Account(bank, account_number, holder)


async def delete_account(session: AsyncSession) -> bool:
    """No more bank transfers; False when there was no account."""
    result = await session.execute(delete(BankAccount).execution_options(synchronize_session=False))
    return bool(result.rowcount)
