"""Member tokens: issued at login, checked on every member call of the Shop API, revoked at logout.

Access tokens (``om_ma_``) and refresh tokens (``om_mr_``) last 12 hours, or 90 days with ``keep_login``
(as shopby does); a refresh within that time answers a new pair whose time counts from the refresh (a
session that is used stays open; one left alone ends). Both are stored as HMAC digests under the
server key and shown once. A member call sends ``Authorization: Bearer om_ma_…`` (shopby's own
``accessToken: om_ma_…`` header is accepted too).

A login starts a token family; refreshes continue it and carry the login's time (``authenticated_at``),
so that a refreshed token is never a fresh login (withdrawal without the password needs one). A refresh
token is used once: when a used one comes back, someone holds a copy, and the whole family is revoked
(RFC 9700 §4.14.2, as the Admin API's OAuth server does with its grants).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.customers.models import Member, MemberToken
from openmall.kernel.db import utcnow
from openmall.kernel.errors import KeepChanges, Unauthorized
from openmall.kernel.fastsql import Statement, attach, columns_of, in_mall
from openmall.kernel.secrets import digest, new_secret
from openmall.kernel.tenancy import DbSession

ACCESS = timedelta(hours=12)
ACCESS_KEEP = timedelta(days=90)


@dataclass(frozen=True)
class MemberTokens:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    keep_login: bool


class RefreshRefused(KeepChanges, Unauthorized):
    """401 for a refresh token that is not live; committed all the same, so that a replay's revocation
    of the family stays."""


async def issue_tokens(session: AsyncSession, key: bytes, member: Member, keep_login: bool) -> MemberTokens:
    """A login (password or OpenID): a new token family, authenticated now, for the member (in the session's
    mall)."""
    return await _issue(session, key, member.member_no, keep_login, secrets.token_hex(16), utcnow())


async def _issue(
    session: AsyncSession, key: bytes, member_no: int, keep_login: bool, family_id: str,
    authenticated_at: datetime | None,
) -> MemberTokens:  # fmt: skip
    now = utcnow()
    access, refresh = new_secret("om_ma_"), new_secret("om_mr_")
    row = MemberToken(member_no=member_no, access_digest=digest(key, access),
                      refresh_digest=digest(key, refresh), keep_login=keep_login, issued_at=now,
                      access_expires_at=now + (ACCESS_KEEP if keep_login else ACCESS),
                      refresh_expires_at=now + (ACCESS_KEEP if keep_login else ACCESS),
                      family_id=family_id, authenticated_at=authenticated_at)  # fmt: skip
    session.add(row)
    await session.flush()
    return MemberTokens(access, refresh, row.access_expires_at, row.refresh_expires_at, keep_login)


_MEMBER_OF_TOKEN = Statement(
    select(*columns_of(Member), MemberToken.access_expires_at.label("token_expires_at"))
    .join(MemberToken, MemberToken.member_no == Member.member_no)
    .where(MemberToken.access_digest == bindparam("digest"), MemberToken.revoked_at.is_(None),
           Member.status == "ACTIVE", in_mall(Member), in_mall(MemberToken))
)  # fmt: skip


async def member_of_token(session: AsyncSession, key: bytes, access_token: str) -> Member | None:
    """The active member holding this live access token in the session's mall, or None (one prebuilt
    statement: every Shop API call of a member asks this)."""
    found = await _MEMBER_OF_TOKEN.first(session, digest=digest(key, access_token))
    if found is None or found.token_expires_at <= utcnow():
        return None
    values = found._asdict()
    del values["token_expires_at"]
    return attach(session, Member, values)


async def revoke(session: AsyncSession, key: bytes, access_token: str) -> bool:
    """Logout: the token (access and its refresh) stops working. False: it was not a live token."""
    result = await session.execute(
        update(MemberToken).where(MemberToken.access_digest == digest(key, access_token),
                                  MemberToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )  # fmt: skip
    return bool(result.rowcount)


async def revoke_all(session: AsyncSession, member_no: int) -> None:
    """Every token of the member stops working (withdrawal, password change)."""
    await session.execute(
        update(MemberToken).where(MemberToken.member_no == member_no, MemberToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )  # fmt: skip


async def token_row(session: AsyncSession, key: bytes, access_token: str) -> MemberToken | None:
    """The stored row of an access token (live or not), or None."""
    return await session.scalar(select(MemberToken).where(MemberToken.access_digest == digest(key, access_token)))


async def revoke_others(session: AsyncSession, key: bytes, member_no: int, access_token: str) -> None:
    """Every token of the member but this one stops working (a password change)."""
    await session.execute(
        update(MemberToken).where(MemberToken.member_no == member_no, MemberToken.revoked_at.is_(None),
                                  MemberToken.access_digest != digest(key, access_token))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False)
    )  # fmt: skip


async def rotate(session: AsyncSession, key: bytes, refresh_token: str) -> tuple[Member, MemberTokens]:
    """A new access and refresh token for a live refresh token, which stops working (with its access
    token) in the same conditional UPDATE: a refresh token is used once. The new pair continues the
    family and keeps its login time. RefreshRefused (401) for a token that is not live; for one that was
    used already, after revoking every token of its family."""
    now = utcnow()
    hashed = digest(key, refresh_token)
    used = (await session.execute(
        update(MemberToken)
        .where(MemberToken.refresh_digest == hashed, MemberToken.revoked_at.is_(None),
               MemberToken.rotated_at.is_(None), MemberToken.refresh_expires_at > now)
        .values(rotated_at=now, revoked_at=now)
        .returning(MemberToken.member_no, MemberToken.keep_login, MemberToken.family_id,
                   MemberToken.authenticated_at)
        .execution_options(synchronize_session=False)
    )).first()  # fmt: skip
    if used is None:
        await _replayed(session, hashed, now)
        raise RefreshRefused("The refresh token is unknown, used already, revoked or expired; log in again",
                             more_info={"field": "refresh_token"})  # fmt: skip
    member = await session.scalar(select(Member).where(Member.member_no == used.member_no, Member.status == "ACTIVE"))
    if member is None:
        raise RefreshRefused("The member of this refresh token has withdrawn", more_info={"field": "refresh_token"})
    return member, await _issue(session, key, member.member_no, used.keep_login, used.family_id,
                                used.authenticated_at)  # fmt: skip


async def _replayed(session: AsyncSession, refresh_digest: str, now: datetime) -> None:
    """A refresh token that was rotated out came back (or lost a race): every token of its family stops."""
    family = await session.scalar(
        select(MemberToken.family_id).where(MemberToken.refresh_digest == refresh_digest,
                                            MemberToken.rotated_at.is_not(None))
    )  # fmt: skip
    if family is not None:
        await session.execute(
            update(MemberToken).where(MemberToken.family_id == family, MemberToken.revoked_at.is_(None))
            .values(revoked_at=now).execution_options(synchronize_session=False)
        )  # fmt: skip


def token_from(request: Request) -> str | None:
    raw = request.headers.get("authorization", "")
    if raw[:7].lower() == "bearer ":
        return raw[7:].strip() or None
    return request.headers.get("accesstoken", "").strip() or None


def _unauthorized() -> Unauthorized:
    return Unauthorized("Log in first: send the member's access token as Authorization: Bearer om_ma_…",
                        headers={"WWW-Authenticate": 'Bearer realm="shop"'})  # fmt: skip


async def optional_member(request: Request, session: DbSession) -> Member | None:
    """The calling member, None for a guest; a token that is sent but not live is a 401."""
    token = token_from(request)
    if token is None:
        return None
    member = await member_of_token(session, request.app.state.key, token)
    if member is None:
        raise _unauthorized()
    return member


async def current_member(member: Annotated[Member | None, Depends(optional_member)]) -> Member:
    """The calling member; 401 without a live member token."""
    if member is None:
        raise _unauthorized()
    return member


CurrentMember = Annotated[Member, Depends(current_member)]
MaybeMember = Annotated[Member | None, Depends(optional_member)]
