"""Console sessions as a rule of the accounts: a password change ends every other session of its account (a
removed account's sessions go with it, by the table's cascade); logout ends one (``web.pages.end_session``)."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from openmall.kernel.db import utcnow
from openmall.kernel.errors import InvalidInput
from openmall.kernel.passwords import hash_outside_transaction
from openmall.kernel.secrets import digest
from openmall.oauth import service
from openmall.oauth.models import ConsoleSession, Developer, Operator
from openmall.oauth.schemas import Password


async def end_sessions(
    session: AsyncSession, key: bytes, account: Operator | Developer, *, keep: str | None = None
) -> None:
    """Every console session of ``account`` ends, but the one whose token is ``keep`` (the caller's own)."""
    if isinstance(account, Operator):
        mine = ConsoleSession.operator_no == account.operator_no
    else:
        mine = ConsoleSession.developer_no == account.developer_no
    query = delete(ConsoleSession).where(mine)
    if keep is not None:
        query = query.where(ConsoleSession.token_digest != digest(key, keep))
    await session.execute(query.execution_options(synchronize_session=False))


async def change_password(
    session: AsyncSession, key: bytes, account: Operator | Developer, current: str, new: str, *, keep: str | None = None
) -> None:
    """A new password, once the current one checks out (a wrong one counts as a failed login); every other
    session of the account ends (whoever copied a cookie is out), the caller's (``keep``) stays."""
    try:
        TypeAdapter(Password).validate_python(new)
    except ValidationError as exc:
        words = exc.errors()[0]["msg"].replace("String", "The new password", 1)  # "... at least 10 characters"
        raise InvalidInput(words, field="new_password") from None
    new_hash = await hash_outside_transaction(session, new)  # no connection or row lock held while hashing
    if not await service._check_password(session, account, current):  # noqa: SLF001 - the accounts' own check
        raise InvalidInput("The current password is wrong; nothing was changed", field="current_password")
    account.password_hash = new_hash
    await end_sessions(session, key, account, keep=keep)
    await session.flush()


async def forget_expired(sessions_factory: async_sessionmaker[AsyncSession]) -> int:
    """Console sessions past their expiry are deleted (they are refused already); how many."""
    async with sessions_factory() as session:
        result = await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= utcnow()))
        await session.commit()
    return result.rowcount or 0
