"""Accounts and apps: who may log in, which apps exist, their secrets and their review status.

Passwords are hashed with argon2; repeated failed logins lock the account for a while, growing
with each further failure. Client secrets are shown once and stored as HMAC digests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.db import utcnow
from openmall.kernel.errors import ApiError, Conflict, InvalidInput, NotFound
from openmall.kernel.secrets import digest, matches, new_secret
from openmall.oauth.models import App, Developer, Operator
from openmall.oauth.schemas import AppIn, DeveloperIn, OperatorIn

HASHER = PasswordHasher()
FREE_FAILURES = 5  # failures before the account locks
MAX_LOCK = timedelta(minutes=15)
# a hash to verify against when the account does not exist, so that both cases take as long
_DUMMY_HASH = HASHER.hash("not a password of anyone")


class TooManyAttempts(ApiError):
    status_code = 429


def _validated(schema: type[Any], **data: Any) -> Any:
    try:
        return schema(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "input"
        raise InvalidInput(f"{field}: {err['msg'].removeprefix('Value error, ')}", field=field) from None


# ---- passwords and lockout ---------------------------------------------------------------------------


def _check_password(account: Operator | Developer | None, password: str) -> bool:
    now = utcnow()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        wait = int((account.locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(
            f"Too many failed logins; try again in {wait} seconds", headers={"Retry-After": str(wait)},
            more_info={"retry_after": wait},
        )  # fmt: skip
    try:
        HASHER.verify(account.password_hash if account else _DUMMY_HASH, password)
        ok = account is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if account is None:
        return False
    if ok:
        account.failed_logins = 0
        account.locked_until = None
        if HASHER.check_needs_rehash(account.password_hash):
            account.password_hash = HASHER.hash(password)
        return True
    account.failed_logins += 1
    if account.failed_logins >= FREE_FAILURES:
        lock = min(timedelta(seconds=2 ** (account.failed_logins - FREE_FAILURES + 1)), MAX_LOCK)
        account.locked_until = now + lock
    return False


async def create_operator(session: AsyncSession, login_id: str, name: str, password: str) -> Operator:
    data = _validated(OperatorIn, login_id=login_id, name=name, password=password)
    if await session.scalar(select(Operator.operator_no).where(Operator.login_id == data.login_id)):
        raise Conflict(f"Operator '{data.login_id}' already exists in this mall", more_info={"login_id": login_id})
    operator = Operator(login_id=data.login_id, name=data.name, password_hash=HASHER.hash(data.password))
    session.add(operator)
    await session.flush()
    return operator


async def authenticate_operator(session: AsyncSession, login_id: str, password: str) -> Operator | None:
    """The operator, or None for a wrong login or password (the caller cannot tell which)."""
    operator = await session.scalar(select(Operator).where(Operator.login_id == login_id.strip().lower()))
    return operator if _check_password(operator, password) else None


async def create_developer(session: AsyncSession, email: str, name: str, password: str) -> Developer:
    data = _validated(DeveloperIn, email=email, name=name, password=password)
    if await session.scalar(select(Developer.developer_no).where(Developer.email == data.email)):
        raise Conflict("A developer account with this email already exists", more_info={"field": "email"})
    developer = Developer(email=data.email, name=data.name, password_hash=HASHER.hash(data.password))
    session.add(developer)
    await session.flush()
    return developer


async def authenticate_developer(session: AsyncSession, email: str, password: str) -> Developer | None:
    developer = await session.scalar(select(Developer).where(Developer.email == email.strip().lower()))
    return developer if _check_password(developer, password) else None


# ---- apps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSecret:
    """An app with its client secret, which is shown this once and never again."""

    app: App
    client_secret: str


async def create_app(session: AsyncSession, key: bytes, developer: Developer, **fields: Any) -> NewSecret:
    data = _validated(AppIn, **fields)
    secret = new_secret("om_cs_")
    app = App(
        client_id=secrets.token_urlsafe(16),
        client_secret_digest=digest(key, secret),
        developer_no=developer.developer_no,
        **data.model_dump(),
    )
    session.add(app)
    await session.flush()
    return NewSecret(app, secret)


async def get_app(session: AsyncSession, client_id: str) -> App:
    app = await session.scalar(select(App).where(App.client_id == client_id))
    if app is None:
        raise NotFound("No app has this client_id", more_info={"client_id": client_id})
    return app


async def developer_app(session: AsyncSession, developer: Developer, client_id: str) -> App:
    app = await get_app(session, client_id)
    if app.developer_no != developer.developer_no:
        raise NotFound("No app of yours has this client_id", more_info={"client_id": client_id})
    return app


async def rotate_secret(session: AsyncSession, key: bytes, developer: Developer, client_id: str) -> NewSecret:
    """A new secret; the old one stops working at once."""
    app = await developer_app(session, developer, client_id)
    secret = new_secret("om_cs_")
    app.client_secret_digest = digest(key, secret)
    app.secret_rotated_at = utcnow()
    await session.flush()
    return NewSecret(app, secret)


async def verify_client(session: AsyncSession, key: bytes, client_id: str, client_secret: str) -> App | None:
    app = await session.scalar(select(App).where(App.client_id == client_id))
    if app is None:
        matches(key, client_secret, "0" * 64)  # the same work whether or not the app exists
        return None
    return app if matches(key, client_secret, app.client_secret_digest) else None


async def submit_for_review(session: AsyncSession, developer: Developer, client_id: str) -> App:
    app = await developer_app(session, developer, client_id)
    if app.status != "development":
        raise Conflict(f"The app is already {app.status}", more_info={"status": app.status})
    app.status = "review"
    await session.flush()
    return app


async def approve_app(session: AsyncSession, client_id: str) -> App:
    """Publish an app: any mall may install it from now on."""
    app = await get_app(session, client_id)
    app.status = "published"
    await session.flush()
    return app


def installable_on(app: App, mall_id: str) -> bool:
    """Published apps install anywhere; apps in development or review only on their test malls."""
    return app.status == "published" or mall_id in app.test_malls
