"""Members: sign-up, logins (id and password, OpenID), profile, addresses, withdrawal, groups, and the
Admin API's search. Services don't commit (the request does); a failed login's count is kept even though the
call fails, because its errors are ``KeepChanges`` (the request commits before answering them).

Lockout: each password check first takes a numbered attempt with one conditional UPDATE, refused while
the member id is locked; the 10th failure in a row locks the id for 30 minutes (``LOCK_AFTER``,
``LOCK_FOR``); a success resets the count. Parallel guesses cannot get more checks than sequential ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.customers import events
from openmall.customers.models import Address, LoginGuess, Member, MemberGroup, MemberIdentity
from openmall.customers.openid import OpenIdIdentity
from openmall.customers.schemas import AddressIn, AddressUpdate, GroupIn, GroupUpdate, ProfileUpdate, SignUpIn
from openmall.kernel import passwords, secrets
from openmall.kernel.db import ALL_MALLS, UTCDateTime, session_scope, utcnow
from openmall.kernel.errors import ApiError, Conflict, Forbidden, InvalidInput, KeepChanges, NotFound, Unauthorized
from openmall.kernel.events import emit
from openmall.kernel.fastsql import Statement, in_mall
from openmall.kernel.identifiers import InvisibleCharacter, lookup_key, normalise_identifier
from openmall.kernel.pagination import Page
from openmall.kernel.passwords import hash_password

LOCK_AFTER = 10  # failed logins in a row
LOCK_FOR = timedelta(minutes=30)
RECENT_LOGIN = timedelta(minutes=10)  # withdrawal without the password needs a login this recent
MAX_ADDRESSES = 20
ACTIVE, WITHDRAWN = "ACTIVE", "WITHDRAWN"


class LoginFailed(KeepChanges, Unauthorized):
    pass


class MemberLocked(KeepChanges, ApiError):
    """429: the member id is locked after too many failed logins; says until when."""

    status_code = 429


class WrongPassword(KeepChanges, InvalidInput):
    pass


# ---- reads others call ------------------------------------------------------------------------------


async def get_member(session: AsyncSession, member_no: int) -> Member | None:
    """The member (any status) in the session's mall, or None."""
    return await session.scalar(select(Member).where(Member.member_no == member_no))


async def member_group(session: AsyncSession, member: Member) -> MemberGroup | None:
    """The member's group (its discount_rate and mileage_rate, in percent), or None."""
    if member.group_no is None:
        return None
    return await session.scalar(select(MemberGroup).where(MemberGroup.group_no == member.group_no))


def _no_member(member_no: int) -> NotFound:
    return NotFound(f"Member {member_no} does not exist in this mall", more_info={"member_no": member_no})


async def require_member(session: AsyncSession, member_no: int) -> Member:
    member = await get_member(session, member_no)
    if member is None:
        raise _no_member(member_no)
    return member


# ---- sign-up -------------------------------------------------------------------------------------------


async def _default_group_no(session: AsyncSession) -> int | None:
    return await session.scalar(select(MemberGroup.group_no).where(MemberGroup.is_default.is_(True)).limit(1))


async def sign_up(session: AsyncSession, data: SignUpIn) -> Member:
    """A new member with an id and password, in the default group if there is one; 409 for a taken id."""
    password_hash = await passwords.hash_outside_transaction(session, data.password)  # before any query
    if await session.scalar(select(Member.member_no).where(Member.member_id == data.member_id)):
        raise Conflict(f"Member id '{data.member_id}' is already taken in this mall (member ids are "
                       "case-insensitive); choose another", more_info={"field": "member_id"})  # fmt: skip
    member = Member(member_id=data.member_id, password_hash=password_hash, name=data.name,
                    email=data.email, mobile=data.mobile, group_no=await _default_group_no(session))  # fmt: skip
    session.add(member)
    await session.flush()
    await _registered(session, member, "password")
    return member


async def _registered(session: AsyncSession, member: Member, provider: str) -> None:
    await emit(session, events.MEMBER_REGISTERED, {
        "member_no": member.member_no, "member_id": member.member_id, "provider": provider,
        "group_no": member.group_no, "registered_at": await events.mall_time(session, member.created_at),
    })  # fmt: skip


# ---- passwords and lockout ---------------------------------------------------------------------------


def _locked(until: datetime, now: datetime, when: str) -> MemberLocked:
    wait = max(int((until - now).total_seconds()) + 1, 1)
    return MemberLocked(
        f"This member id is locked after {LOCK_AFTER} failed logins in a row, until {when} "
        f"(in {(wait + 59) // 60} minutes); the right password is refused until then too",
        headers={"Retry-After": str(wait)}, more_info={"locked_until": when, "retry_after": wait},
    )  # fmt: skip


async def _take_attempt(session: AsyncSession, model: type[Member] | type[LoginGuess], this: Any) -> int:
    """Counts an attempt before the password is checked (one conditional UPDATE of the row ``this`` picks: the
    member's, or the guesses at an id no member has); locks from the LOCK_AFTER-th on; refused (MemberLocked)
    while locked. An expired lock starts the count anew."""
    now = utcnow()
    expired = and_(model.locked_until.is_not(None), model.locked_until <= now)
    count = case((expired, 1), else_=model.failed_logins + 1)
    slot = await session.execute(
        update(model)
        .where(this, or_(model.locked_until.is_(None), model.locked_until <= now))
        .values(failed_logins=count,
                locked_until=case((count >= LOCK_AFTER, literal(now + LOCK_FOR, UTCDateTime())), else_=None))
        .returning(model.failed_logins)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    attempt = slot.scalar()
    if attempt is None:
        until = await session.scalar(select(model.locked_until).where(this)) or now
        raise _locked(until, now, await events.mall_time(session, until))
    return attempt


async def _guess_at_unknown_id(session: AsyncSession, key: bytes, member_id: str) -> int:
    """An attempt at an id no member has, counted as a member's would be (``LoginGuess``). The id is kept as an
    HMAC under the server key: people type passwords into id fields, and a plain hash is read back by guessing."""
    digest = secrets.digest(key, lookup_key(member_id) or member_id.strip())
    this = LoginGuess.id_digest == digest
    if await session.scalar(select(LoginGuess.guess_no).where(this)) is None:
        try:
            async with session.begin_nested():  # two first guesses at once: one row, both counted
                session.add(LoginGuess(id_digest=digest, failed_logins=0))
        except IntegrityError:
            pass
    return await _take_attempt(session, LoginGuess, this)


async def forget_old_guesses(sessions: Any) -> int:
    """Guesses at unknown ids whose last one is a day old are dropped (a housekeeping chore)."""
    async with session_scope(sessions, ALL_MALLS) as session:
        gone = await session.execute(delete(LoginGuess).where(LoginGuess.updated_at < utcnow() - timedelta(days=1))
                                     .execution_options(synchronize_session=False))  # fmt: skip
    return gone.rowcount or 0


async def _password_ok(session: AsyncSession, member: Member, password: str) -> tuple[bool, int]:
    """Checks the password against the lockout; (ok, attempt number). A success resets the count."""
    attempt = await _take_attempt(session, Member, Member.member_no == member.member_no)
    ok = await passwords.check_outside_transaction(session, member.password_hash, password)  # pool not held
    ok = ok and member.password_hash is not None
    if ok:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
        if member.password_hash and passwords.needs_rehash(member.password_hash):
            values["password_hash"] = await hash_password(password)
        await session.execute(update(Member).where(Member.member_no == member.member_no).values(**values)
                              .execution_options(synchronize_session=False))  # fmt: skip
    return ok, attempt


async def _failed(session: AsyncSession, attempt: int) -> None:
    if attempt >= LOCK_AFTER:
        now = utcnow()
        raise _locked(now + LOCK_FOR, now, await events.mall_time(session, now + LOCK_FOR))


def _login_failed() -> LoginFailed:
    """The one answer to a wrong password and to an unknown member id: nothing tells them apart."""
    return LoginFailed(
        f"Wrong member id or password; after {LOCK_AFTER} failed logins in a row a member id is locked for "
        f"{int(LOCK_FOR.total_seconds() // 60)} minutes", more_info={"field": "password"},
    )  # fmt: skip


async def _member_to_log_in(session: AsyncSession, member_id: str) -> Member | None:
    """The active member with this login id in its normal form (``CASE123`` is ``case123``); a member
    whose id kept another form in migration 0013 (it clashed with one already normal) by its exact id."""
    try:
        key = normalise_identifier(member_id)
    except InvisibleCharacter as exc:
        raise InvalidInput(f"member_id {exc}", field="member_id") from None
    exact = member_id.strip()
    found = (await session.scalars(select(Member).where(Member.member_id.in_({key, exact}), Member.status == ACTIVE)
                                   .limit(2))).all()  # fmt: skip
    return next((m for m in found if m.member_id == exact), found[0] if found else None)


async def login_with_password(session: AsyncSession, key: bytes, member_id: str, password: str) -> Member:
    """The member, once the id and password match; LoginFailed (401) or MemberLocked (429) otherwise.
    A wrong password and an unknown id answer alike and take as long (a full hash check each).
    The router commits after either error, so that the count of failures is kept."""
    member = await _member_to_log_in(session, member_id)
    if member is None or member.password_hash is None:
        attempt = await _guess_at_unknown_id(session, key, member_id)  # locked as a member would be
        await passwords.check_outside_transaction(session, None, password)  # as slow as a real check
        await _failed(session, attempt)
        raise _login_failed()
    ok, attempt = await _password_ok(session, member, password)
    if not ok:
        await _failed(session, attempt)
        raise _login_failed()
    await _logged_in(session, member)
    return member


async def _logged_in(session: AsyncSession, member: Member) -> None:
    await session.execute(update(Member).where(Member.member_no == member.member_no).values(last_login_at=utcnow())
                          .execution_options(synchronize_session=False))  # fmt: skip
    await session.refresh(member)


async def login_with_openid(session: AsyncSession, provider: str, identity: OpenIdIdentity) -> tuple[Member, bool]:
    """The member linked to (provider, subject); the first login creates the member and the link.
    (member, created)."""
    member = await session.scalar(
        select(Member).join(MemberIdentity, MemberIdentity.member_no == Member.member_no)
        .where(MemberIdentity.provider == provider, MemberIdentity.subject == identity.subject,
               Member.status == ACTIVE)
    )  # fmt: skip
    created = member is None
    if member is None:
        email = lookup_key(identity.email) if identity.email else None  # one that cannot be shown is left out
        member = Member(member_id=None, password_hash=None, name=identity.name[:100], email=email,
                        group_no=await _default_group_no(session))  # fmt: skip
        session.add(member)
        await session.flush()
        session.add(MemberIdentity(member_no=member.member_no, provider=provider, subject=identity.subject))
        await session.flush()
        await _registered(session, member, provider)
    await _logged_in(session, member)
    return member, created


async def after_login(
    session: AsyncSession, member: Member, *, provider: str, tracking_key: str | None, guest_key: str | None,
    server_key: bytes,
) -> int:  # fmt: skip
    """What every login does after the tokens: the ``member.logged_in`` event (with the campaign's
    tracking key) and the guest cart merged into the member's. How many cart lines were merged."""
    await emit(session, events.MEMBER_LOGGED_IN, {
        "member_no": member.member_no, "member_id": member.member_id, "tracking_key": tracking_key,
        "provider": provider, "logged_in_at": await events.mall_time(session, member.last_login_at or utcnow()),
    })  # fmt: skip
    if not guest_key:
        return 0
    try:
        from openmall.orders.cart import merge_guest_cart
    except ImportError:  # the cart is not built yet
        return 0
    return await merge_guest_cart(session, server_key, guest_key, member.member_no)


# ---- profile -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    member: Member
    group: MemberGroup | None


async def profile(session: AsyncSession, member: Member) -> dict[str, Any]:
    group = await member_group(session, member)
    return {**{c: getattr(member, c) for c in ("member_no", "member_id", "name", "email", "mobile",
                                                "mileage_balance", "last_login_at", "created_at")},
            "group": group, "has_password": member.password_hash is not None}  # fmt: skip


async def update_profile(session: AsyncSession, member: Member, data: ProfileUpdate) -> bool:
    """Changes the fields given; True when the password changed (the router then revokes other tokens)."""
    values: dict[str, Any] = {k: v for k, v in data.model_dump(exclude_unset=True).items()
                              if k in ("name", "email", "mobile")}  # fmt: skip
    changed_password = False
    if data.new_password is not None:
        if member.password_hash is None:
            raise InvalidInput("This member logs in through OpenID and has no password to change",
                               field="new_password")  # fmt: skip
        if data.current_password is None:
            raise InvalidInput("A new password needs current_password too", field="current_password")
        new_hash = await passwords.hash_outside_transaction(session, data.new_password)  # no row lock held meanwhile
        ok, attempt = await _password_ok(session, member, data.current_password)
        if not ok:
            await _failed(session, attempt)
            raise WrongPassword("current_password is wrong; nothing was changed", field="current_password")
        values["password_hash"] = new_hash
        changed_password = True
    elif data.current_password is not None:
        raise InvalidInput("current_password is only needed with new_password", field="current_password")
    if values:
        values["updated_at"] = utcnow()
        await session.execute(update(Member).where(Member.member_no == member.member_no).values(**values)
                              .execution_options(synchronize_session=False))  # fmt: skip
    await session.refresh(member)
    return changed_password


async def withdraw(
    session: AsyncSession, member: Member, *, password: str | None, authenticated_at: datetime | None
) -> datetime:
    """Erases the member's personal data (orders keep their own copies), deletes addresses and OpenID
    links; the router revokes the tokens. Needs the password, or a login within RECENT_LOGIN:
    ``authenticated_at`` is when the caller's token family began with a password or OpenID login (a
    refresh carries it on, it never renews it; None: not known, as for tokens from before 0013)."""
    if password is not None:
        ok, attempt = await _password_ok(session, member, password)
        if not ok:
            await _failed(session, attempt)
            raise WrongPassword("The password is wrong; the member was not withdrawn", field="password")
    elif authenticated_at is None or utcnow() - authenticated_at > RECENT_LOGIN:
        raise Forbidden(
            f"Withdrawal needs the password, or a login within the last {int(RECENT_LOGIN.total_seconds() // 60)} "
            "minutes (with the password or OpenID; refreshing the tokens does not count): send "
            "{\"password\": ...} or log in again", more_info={"field": "password"},
        )  # fmt: skip
    now = utcnow()
    no = member.member_no
    await session.execute(delete(Address).where(Address.member_no == no).execution_options(synchronize_session=False))
    await session.execute(
        delete(MemberIdentity).where(MemberIdentity.member_no == no).execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Member).where(Member.member_no == no)
        .values(member_id=None, name="", email=None, mobile=None, password_hash=None, status=WITHDRAWN,
                withdrawn_at=now, updated_at=now, failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    await emit(
        session, events.MEMBER_WITHDRAWN, {"member_no": no, "withdrawn_at": await events.mall_time(session, now)}
    )
    return now


# ---- addresses -----------------------------------------------------------------------------------------


async def list_addresses(session: AsyncSession, member_no: int) -> list[Address]:
    rows = await session.scalars(
        select(Address).where(Address.member_no == member_no).order_by(Address.is_default.desc(), Address.address_no)
    )
    return list(rows.all())


async def find_address(session: AsyncSession, member_no: int, address_no: int) -> Address | None:
    """One of the member's addresses, or None (another member's is None too)."""
    return await session.scalar(select(Address).where(Address.address_no == address_no, Address.member_no == member_no))


_DEFAULT_ADDRESS = Statement(
    select(Address.address_no, Address.receiver_name, Address.receiver_phone, Address.zip_code, Address.address1,
           Address.address2)
    .where(Address.member_no == bindparam("member_no"), Address.is_default.is_(True),
           in_mall(Address))
    .order_by(Address.address_no).limit(1)
)  # fmt: skip


async def default_address(session: AsyncSession, member_no: int) -> Any | None:
    """The member's default address, if any (a row with the address's fields, read-only)."""
    return await _DEFAULT_ADDRESS.first(session, member_no=member_no)


async def _address(session: AsyncSession, member_no: int, address_no: int) -> Address:
    found = await find_address(session, member_no, address_no)
    if found is None:
        raise NotFound(f"Address {address_no} is not one of your addresses", more_info={"address_no": address_no})
    return found


async def _undefault_others(session: AsyncSession, member_no: int, keep: int) -> None:
    await session.execute(
        update(Address).where(Address.member_no == member_no, Address.address_no != keep, Address.is_default.is_(True))
        .values(is_default=False).execution_options(synchronize_session=False)
    )  # fmt: skip


async def add_address(session: AsyncSession, member_no: int, data: AddressIn) -> Address:
    count = await session.scalar(select(func.count()).select_from(Address).where(Address.member_no == member_no))
    if (count or 0) >= MAX_ADDRESSES:
        raise InvalidInput(f"A member keeps at most {MAX_ADDRESSES} addresses; delete one first",
                           field="address", maximum=MAX_ADDRESSES)  # fmt: skip
    address = Address(member_no=member_no, **data.model_dump())
    address.is_default = data.is_default or not count
    session.add(address)
    await session.flush()
    if address.is_default:
        await _undefault_others(session, member_no, address.address_no)
    return address


async def update_address(session: AsyncSession, member_no: int, address_no: int, data: AddressUpdate) -> Address:
    address = await _address(session, member_no, address_no)
    values = data.model_dump(exclude_unset=True)
    if values.get("is_default") is False and address.is_default:
        raise InvalidInput("The default address stays the default until another one is made the default",
                           field="is_default")  # fmt: skip
    for key, value in values.items():
        setattr(address, key, value)
    await session.flush()
    if address.is_default:
        await _undefault_others(session, member_no, address.address_no)
    return address


async def delete_address(session: AsyncSession, member_no: int, address_no: int) -> None:
    """Deletes it; when it was the default, the oldest remaining address becomes the default."""
    address = await _address(session, member_no, address_no)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:
        oldest = await session.scalar(
            select(Address).where(Address.member_no == member_no).order_by(Address.address_no).limit(1)
        )
        if oldest is not None:
            oldest.is_default = True
            await session.flush()


# ---- groups --------------------------------------------------------------------------------------------


async def list_groups(session: AsyncSession) -> list[MemberGroup]:
    return list((await session.scalars(select(MemberGroup).order_by(MemberGroup.group_no))).all())


async def get_group(session: AsyncSession, group_no: int) -> MemberGroup:
    group = await session.scalar(select(MemberGroup).where(MemberGroup.group_no == group_no))
    if group is None:
        raise NotFound(f"Member group {group_no} does not exist in this mall", more_info={"group_no": group_no})
    return group


async def _name_free(session: AsyncSession, name: str, but: int | None = None) -> None:
    query = select(MemberGroup.group_no).where(MemberGroup.name == name)
    if but is not None:
        query = query.where(MemberGroup.group_no != but)
    if await session.scalar(query):
        raise Conflict(f"A member group named '{name}' exists already", more_info={"field": "name"})


async def _only_default(session: AsyncSession, group_no: int) -> None:
    await session.execute(
        update(MemberGroup).where(MemberGroup.group_no != group_no, MemberGroup.is_default.is_(True))
        .values(is_default=False).execution_options(synchronize_session=False)
    )  # fmt: skip


async def create_group(session: AsyncSession, data: GroupIn) -> MemberGroup:
    await _name_free(session, data.name)
    group = MemberGroup(**data.model_dump())
    session.add(group)
    await session.flush()
    if group.is_default:
        await _only_default(session, group.group_no)
    return group


async def update_group(session: AsyncSession, group_no: int, data: GroupUpdate) -> MemberGroup:
    group = await get_group(session, group_no)
    values = data.model_dump(exclude_unset=True)
    if "name" in values:
        await _name_free(session, values["name"], group_no)
    for key, value in values.items():
        setattr(group, key, value)
    await session.flush()
    if group.is_default:
        await _only_default(session, group_no)
    return group


async def set_member_group(session: AsyncSession, member_no: int, group_no: int | None) -> Member:
    member = await require_member(session, member_no)
    if member.status != ACTIVE:
        raise Conflict(f"Member {member_no} has withdrawn", more_info={"member_no": member_no})
    if group_no is not None:
        await get_group(session, group_no)
    member.group_no = group_no
    await session.flush()
    return member


# ---- Admin API search ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFilter:
    member_ids: list[str]
    name: str | None
    email: str | None
    group_nos: list[int]
    status: str | None


def _where(f: CustomerFilter) -> list[Any]:
    conds: list[Any] = []
    if f.member_ids:
        keys = {k for k in map(lookup_key, f.member_ids) if k}  # and the exact ids, for any kept in another form
        conds.append(Member.member_id.in_(sorted(keys | set(f.member_ids))))
    if f.name:
        conds.append(Member.name.contains(f.name, autoescape=True))
    if f.email:
        conds.append(func.lower(Member.email) == (lookup_key(f.email) or f.email.lower()))
    if f.group_nos:
        conds.append(Member.group_no.in_(f.group_nos))
    if f.status:
        conds.append(Member.status == f.status)
    return conds


def _customer(member: Member, group_name: str | None) -> dict[str, Any]:
    return {**{c: getattr(member, c) for c in (
        "member_no", "member_id", "name", "email", "mobile", "group_no", "status", "mileage_balance",
        "failed_logins", "locked_until", "last_login_at", "created_at", "withdrawn_at")},
        "group_name": group_name}  # fmt: skip


async def search_customers(session: AsyncSession, f: CustomerFilter, page: Page) -> list[dict[str, Any]]:
    query = (select(Member, MemberGroup.name).outerjoin(MemberGroup, MemberGroup.group_no == Member.group_no)
             .where(*_where(f)))  # fmt: skip
    if page.since_no is not None:
        query = query.where(Member.member_no > page.since_no).order_by(Member.member_no)
    else:
        query = query.order_by(Member.member_no.desc()).offset(page.offset)
    return [_customer(m, g) for m, g in (await session.execute(query.limit(page.limit))).all()]


async def count_customers(session: AsyncSession, f: CustomerFilter) -> int:
    return await session.scalar(select(func.count()).select_from(Member).where(*_where(f))) or 0


async def get_customer(session: AsyncSession, member_no: int) -> dict[str, Any]:
    found = (await session.execute(
        select(Member, MemberGroup.name).outerjoin(MemberGroup, MemberGroup.group_no == Member.group_no)
        .where(Member.member_no == member_no)
    )).first()  # fmt: skip
    if found is None:
        raise _no_member(member_no)
    return _customer(found[0], found[1])
