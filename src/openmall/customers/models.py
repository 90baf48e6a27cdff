"""Members of a mall: accounts, member groups (grades), addresses, member tokens, OpenID links, mileage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, MoneyType, UTCDateTime, utcnow


class MemberGroup(MallOwned, Base):
    """A grade: its members get ``discount_rate`` % off (the additional discount) and earn
    ``mileage_rate`` % of what they paid when a purchase is confirmed."""

    __tablename__ = "member_groups"
    __table_args__ = (UniqueConstraint("mall_id", "name"),)

    group_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(50))
    discount_rate: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # percent
    mileage_rate: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # percent
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # new members join it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Member(MallOwned, Base):
    """A shopper's account. Withdrawal erases the personal fields (orders keep their own copies)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("mall_id", "member_id"), Index("ix_members_mall_email", "mall_id", "email"))

    member_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_id: Mapped[str | None] = mapped_column(String(100), nullable=True)  # login id; None once withdrawn
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: OpenID only
    name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    mobile: Mapped[str | None] = mapped_column(String(30), nullable=True)
    group_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("member_groups.group_no", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")  # ACTIVE, WITHDRAWN
    mileage_balance: Mapped[Decimal] = mapped_column(MoneyType(), default=Decimal("0"))  # never below 0
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginGuess(MallOwned, Base):
    """Failed logins at a member id that no member has, counted and locked exactly as a member's own
    (``Member.failed_logins``/``locked_until``): a lock must not tell which ids exist. Keyed by a digest of the
    id in its normal form (what was typed is not kept); rows past their lock are dropped by the workers."""

    __tablename__ = "member_login_guesses"
    __table_args__ = (UniqueConstraint("mall_id", "id_digest"),)

    guess_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    id_digest: Mapped[str] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class MemberIdentity(MallOwned, Base):
    """An OpenID login linked to a member: (provider, subject) → member."""

    __tablename__ = "member_identities"
    __table_args__ = (UniqueConstraint("mall_id", "provider", "subject"),)

    identity_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MemberToken(MallOwned, Base):
    """A member's access token and its refresh token (HMAC digests; the tokens are shown once).

    A login starts a family; each refresh adds a row to it, with the same ``family_id`` and the same
    ``authenticated_at`` (when the password or OpenID login happened: a refresh never renews it). A used
    refresh token that comes back revokes its whole family."""

    __tablename__ = "member_tokens"
    __table_args__ = (Index("ix_member_tokens_mall_member", "mall_id", "member_no"),
                      Index("ix_member_tokens_family", "family_id"))  # fmt: skip

    token_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"))
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    keep_login: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    family_id: Mapped[str] = mapped_column(String(32))
    # None: not known (tokens issued before migration 0013), never a fresh login
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Address(MallOwned, Base):
    """A member's shipping address."""

    __tablename__ = "member_addresses"

    address_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(50), default="")
    receiver_name: Mapped[str] = mapped_column(String(100))
    receiver_phone: Mapped[str] = mapped_column(String(30))
    zip_code: Mapped[str] = mapped_column(String(10))
    address1: Mapped[str] = mapped_column(String(300))
    address2: Mapped[str] = mapped_column(String(300), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MileageEntry(MallOwned, Base):
    """The mileage ledger: every change of a member's balance, with the balance after it."""

    __tablename__ = "mileage_entries"
    __table_args__ = (Index("ix_mileage_entries_mall_member", "mall_id", "member_no", "entry_no"),)

    entry_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    member_no: Mapped[int] = mapped_column(IdType, ForeignKey("members.member_no", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # EARN, SPEND, RESTORE, ADJUST, REVOKE
    amount: Mapped[Decimal] = mapped_column(MoneyType())  # signed: + earns, - spends
    balance_after: Mapped[Decimal] = mapped_column(MoneyType())
    order_id: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
