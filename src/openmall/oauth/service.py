"""Accounts and apps: who may log in, which apps exist, their secrets and their review status.

Passwords are hashed with argon2; repeated failed logins lock the account for a while, growing
with each further failure. Client secrets are shown once and stored as HMAC digests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, literal, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel import passwords
from openmall.kernel.db import UTCDateTime, utcnow
from openmall.kernel.errors import ApiError, Conflict, Forbidden, InvalidInput, NotFound
from openmall.kernel.events import emit
from openmall.kernel.identifiers import lookup_key
from openmall.kernel.passwords import hash_password
from openmall.kernel.secrets import digest, new_secret, seal, unseal
from openmall.malls import service as malls
from openmall.oauth import events as oauth_events
from openmall.oauth import scopes as scope_registry
from openmall.oauth.launch import launch_key
from openmall.oauth.launch import launch_url as signed_launch_url
from openmall.oauth.models import App, AuthorizationCode, Developer, Install, Operator, Token
from openmall.oauth.schemas import AppIn, DeveloperIn, OperatorIn

FREE_FAILURES = 5  # failures before the account locks
MAX_LOCK = timedelta(minutes=15)
FIRST_LOCK = timedelta(seconds=2)


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


def _locked(until: datetime, now: datetime) -> TooManyAttempts:
    wait = int((until - now).total_seconds()) + 1
    return TooManyAttempts(
        f"Too many failed logins; try again in {wait} seconds", headers={"Retry-After": str(wait)},
        more_info={"retry_after": wait},
    )  # fmt: skip


async def _check_password(session: AsyncSession, account: Operator | Developer | None, password: str) -> bool:
    """Each attempt first takes a numbered slot with one conditional UPDATE (refused while the account
    is locked, and locking it from the fifth on), then checks the password: parallel guesses cannot
    get more checks than sequential ones."""
    if account is None:
        await passwords.check_outside_transaction(session, None, password)  # as slow as a real check
        return False
    model = type(account)
    key = sa_inspect(model).primary_key[0]
    this = key == getattr(account, key.key)
    now = utcnow()
    slot = await session.execute(
        update(model)
        .where(this, or_(model.locked_until.is_(None), model.locked_until <= now))
        .values(
            failed_logins=model.failed_logins + 1,
            locked_until=case(
                (model.failed_logins + 1 >= FREE_FAILURES, literal(now + FIRST_LOCK, UTCDateTime())),
                else_=model.locked_until,
            ),
        )
        .returning(model.failed_logins)
        .execution_options(synchronize_session=False)
    )
    attempt = slot.scalar()
    if attempt is None:
        until = await session.scalar(select(model.locked_until).where(this))
        raise _locked(until or now, now)
    if await passwords.check_outside_transaction(session, account.password_hash, password):
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if passwords.needs_rehash(account.password_hash):
            values["password_hash"] = await hash_password(password)
        await session.execute(update(model).where(this).values(**values).execution_options(synchronize_session=False))
        await session.refresh(account, ["failed_logins", "locked_until", "password_hash"])
        return True
    if attempt >= FREE_FAILURES:  # the lock grows with each further failure
        lock = min(timedelta(seconds=2 ** (attempt - FREE_FAILURES + 1)), MAX_LOCK)
        await session.execute(
            update(model).where(this).values(locked_until=now + lock).execution_options(synchronize_session=False)
        )
    return False


async def create_operator(session: AsyncSession, login_id: str, name: str, password: str) -> Operator:
    data = _validated(OperatorIn, login_id=login_id, name=name, password=password)
    if await session.scalar(select(Operator.operator_no).where(Operator.login_id == data.login_id)):
        raise Conflict(f"Operator '{data.login_id}' already exists in this mall", more_info={"login_id": login_id})
    operator = Operator(login_id=data.login_id, name=data.name, password_hash=await hash_password(data.password))
    session.add(operator)
    await session.flush()
    return operator


async def authenticate_operator(session: AsyncSession, login_id: str, password: str) -> Operator | None:
    """The operator, or None for a wrong login or password (the caller cannot tell which)."""
    operator = await session.scalar(select(Operator).where(Operator.login_id == lookup_key(login_id)))
    return operator if await _check_password(session, operator, password) else None


async def get_operator(session: AsyncSession, operator_no: int | None) -> Operator | None:
    """The operator of the session's mall with this number (another mall's is not found)."""
    return await session.get(Operator, operator_no) if operator_no else None


async def get_developer(session: AsyncSession, developer_no: int | None) -> Developer | None:
    return await session.get(Developer, developer_no) if developer_no else None


async def create_developer(session: AsyncSession, email: str, name: str, password: str) -> Developer:
    data = _validated(DeveloperIn, email=email, name=name, password=password)
    password_hash = await hash_password(data.password)  # before any query: no connection held while hashing
    if await session.scalar(select(Developer.developer_no).where(Developer.email == data.email)):
        raise Conflict("A developer account with this email already exists", more_info={"field": "email"})
    developer = Developer(email=data.email, name=data.name, password_hash=password_hash)
    session.add(developer)
    await session.flush()
    return developer


async def authenticate_developer(session: AsyncSession, email: str, password: str) -> Developer | None:
    developer = await session.scalar(select(Developer).where(Developer.email == lookup_key(email)))
    return developer if await _check_password(session, developer, password) else None


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
        launch_key_sealed=seal(key, launch_key(secret)),
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


async def developer_apps(session: AsyncSession, developer: Developer) -> list[App]:
    rows = await session.scalars(select(App).where(App.developer_no == developer.developer_no).order_by(App.app_no))
    return list(rows)


# a published app that changes any of these goes back to review; a changed name or description waits for review
# while operators go on seeing the reviewed ones (App.listed_name), and the app stays published and installed
REVIEWED_FIELDS = ("app_url", "redirect_uris", "scopes")


async def update_app(session: AsyncSession, developer: Developer, client_id: str, **fields: Any) -> App:
    """Change an app's registration; its client_id and secret stay. A name or description changed after the
    first approval is shown to operators only once approved (``App.changes_pending_review`` until then)."""
    app = await developer_app(session, developer, client_id)
    data = _validated(AppIn, **fields).model_dump()
    reviewed = {name: getattr(app, name) for name in REVIEWED_FIELDS}
    for name, value in data.items():
        setattr(app, name, value)
    if app.status == "published" and any(data[name] != reviewed[name] for name in REVIEWED_FIELDS):
        app.status = "review"  # what operators consent to changed: it is reviewed again before new installs
    await session.flush()
    return app


async def rotate_secret(session: AsyncSession, key: bytes, developer: Developer, client_id: str) -> NewSecret:
    """A new secret; the old one stops working at once."""
    app = await developer_app(session, developer, client_id)
    secret = new_secret("om_cs_")
    app.client_secret_digest = digest(key, secret)
    app.launch_key_sealed = seal(key, launch_key(secret))
    app.secret_rotated_at = utcnow()
    await session.flush()
    return NewSecret(app, secret)


async def submit_for_review(session: AsyncSession, developer: Developer, client_id: str) -> App:
    app = await developer_app(session, developer, client_id)
    if app.status != "development":
        raise Conflict(f"The app is already {app.status}", more_info={"status": app.status})
    app.status = "review"
    await session.flush()
    return app


async def approve_app(session: AsyncSession, client_id: str) -> App:
    """Publish an app (any mall may install it from now on) with its present name and description."""
    app = await get_app(session, client_id)
    app.status = "published"
    app.reviewed_name, app.reviewed_description = app.name, app.description
    await session.flush()
    return app


def installable_on(app: App, mall_id: str) -> bool:
    """Published apps install anywhere; apps in development or review only on their test malls."""
    return app.status == "published" or mall_id in app.test_malls


# ---- installs ------------------------------------------------------------------------------------------


async def get_install(session: AsyncSession, app: App) -> Install | None:
    return await session.scalar(select(Install).where(Install.app_no == app.app_no))


def scopes_to_ask(install: Install | None, requested: list[str]) -> list[str]:
    """The scopes the operator has not granted yet (a granted write scope covers its read scope)."""
    granted = scope_registry.implied(install.scopes) if install else frozenset()
    return [s for s in requested if s not in granted]


async def install_app(
    session: AsyncSession, app: App, mall_id: str, operator: Operator | None, requested: list[str]
) -> Install:
    """Install the app on the session's mall, or add the newly granted scopes to its install.

    ``operator`` is who consented; None when an administrator installs from the CLI.
    """
    if not installable_on(app, mall_id):
        raise Forbidden(
            f"{app.listed_name} is in {app.status} and can only be installed on its test malls",
            more_info={"status": app.status},
        )
    install = await get_install(session, app)
    if install is None:
        operator_no = operator.operator_no if operator else None
        install = Install(app_no=app.app_no, scopes=sorted(set(requested)), operator_no=operator_no)
        try:
            async with session.begin_nested():  # two Allow clicks at once: the second adds to the first
                session.add(install)
            await _emit(session, oauth_events.APP_INSTALLED, app, install)
        except IntegrityError:
            install = await get_install(session, app)
            if install is None:
                raise
    install.scopes = sorted(set(install.scopes) | set(requested))
    if operator is not None:
        install.operator_no = operator.operator_no
    await session.flush()
    return install


async def is_installed(session: AsyncSession, client_id: str) -> bool:
    """Is the app with this client id installed on the session's mall?"""
    found = await session.scalar(
        select(Install.install_no).join(App, App.app_no == Install.app_no).where(App.client_id == client_id)
    )
    return found is not None


def launch_url(app: App, key: bytes, mall_id: str, operator: Operator) -> str:
    """The app URL with the signed launch parameters (see openmall.sdk.launch)."""
    if not app.launch_key_sealed:  # registered before launch keys existed: a new secret makes one
        raise Conflict(f"{app.listed_name} cannot be launched until its developer rotates its client secret")
    return signed_launch_url(app.app_url, unseal(key, app.launch_key_sealed), mall_id=mall_id,
                             user_id=operator.login_id, user_name=operator.name, now=utcnow())  # fmt: skip


async def find_developer(session: AsyncSession, email: str) -> Developer:
    developer = await session.scalar(select(Developer).where(Developer.email == lookup_key(email)))
    if developer is None:
        raise NotFound(f"No developer has the email {email}", more_info={"email": email})
    return developer


async def installed_apps(session: AsyncSession) -> list[tuple[Install, App]]:
    rows = await session.execute(
        select(Install, App).join(App, App.app_no == Install.app_no).order_by(Install.installed_at, Install.install_no)
    )
    return [(install, app) for install, app in rows.all()]


async def issue_operator_token(
    session: AsyncSession, key: bytes, client_id: str, operator_login: str, access_seconds: int, refresh_seconds: int
) -> tuple[str, list[str]]:  # fmt: skip
    """An access token for an installed app, as if the operator had just consented, with the scopes the
    install holds (the operator's own scripts, tours, load tests: no browser). Returns (token, scopes)."""
    app = await get_app(session, client_id)
    install = await get_install(session, app)
    if install is None:
        raise NotFound(f"App {client_id} is not installed on this mall", more_info={"client_id": client_id})
    operator = await session.scalar(select(Operator).where(Operator.login_id == lookup_key(operator_login)))
    if operator is None:
        raise NotFound(f"No operator {operator_login}", more_info={"operator": operator_login})
    access, now = new_secret("om_at_"), utcnow()
    session.add(Token(grant_id=secrets.token_hex(16), app_no=app.app_no, operator_no=operator.operator_no,
                      scopes=sorted(install.scopes), access_digest=digest(key, access),
                      refresh_digest=digest(key, new_secret("om_rt_")), issued_at=now,
                      access_expires_at=now + timedelta(seconds=access_seconds),
                      refresh_expires_at=now + timedelta(seconds=refresh_seconds)))  # fmt: skip
    await session.flush()
    return access, sorted(install.scopes)


async def installs_of_app(session: AsyncSession, app_no: int) -> list[tuple[Install, str]]:
    """Every mall the app is installed on, with the mall's name (``session`` spans all malls)."""
    from openmall.malls.models import Mall

    rows = await session.execute(
        select(Install, Mall.name).join(Mall, Mall.mall_id == Install.mall_id)
        .where(Install.app_no == app_no).order_by(Install.mall_id)
    )  # fmt: skip
    return [(install, name) for install, name in rows.all()]


async def uninstall_app(session: AsyncSession, client_id: str) -> App:
    """Remove the install; every token and unused code the app holds on this mall stops working at once."""
    app = await get_app(session, client_id)
    install = await get_install(session, app)
    if install is None:
        raise NotFound(f"{app.listed_name} is not installed on this mall", more_info={"client_id": client_id})
    now = utcnow()
    await session.execute(
        update(Token).where(Token.app_no == app.app_no, Token.revoked_at.is_(None)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await session.execute(
        update(AuthorizationCode).where(AuthorizationCode.app_no == app.app_no, AuthorizationCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    await _emit(session, oauth_events.APP_DELETED, app, install)
    from openmall.webhooks import service as webhooks  # webhooks build on apps: imported when needed

    await webhooks.remove_subscription(session, app.app_no)
    await session.delete(install)
    await session.flush()
    return app


async def _emit(session: AsyncSession, type: str, app: App, install: Install) -> None:
    mall = await malls.get_mall(session, session.info["mall_id"])
    await emit(session, type, oauth_events.install_data(app, install, mall.timezone))


# ---- bearer tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who calls the Admin API: an app, on behalf of an operator of this mall, with granted scopes."""

    app_no: int
    client_id: str
    operator_no: int
    scopes: frozenset[str]  # with the read scopes that write scopes imply
    expires_at: datetime


async def authenticate_bearer(session: AsyncSession, key: bytes, access_token: str) -> Caller | None:
    """The caller of a live access token of this mall, or None (unknown, expired, revoked, other mall)."""
    row = await session.execute(
        select(Token.app_no, Token.operator_no, Token.scopes, Token.access_expires_at, App.client_id)
        .join(App, App.app_no == Token.app_no)
        .where(Token.access_digest == digest(key, access_token), Token.revoked_at.is_(None))
    )
    found = row.first()
    if found is None or found.access_expires_at <= utcnow():
        return None
    return Caller(found.app_no, found.client_id, found.operator_no, scope_registry.implied(found.scopes),
                  found.access_expires_at)  # fmt: skip
