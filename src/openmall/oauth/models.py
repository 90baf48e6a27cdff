from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmall.kernel.db import Base, IdType, MallOwned, UTCDateTime, utcnow


class Operator(MallOwned, Base):
    """A person who runs a mall: logs in to its back office and consents to apps."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("mall_id", "login_id"),)

    operator_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    login_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Developer(Base):
    """A person who builds apps; belongs to the platform, not to a mall."""

    __tablename__ = "developers"

    developer_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class App(Base):
    """A developer's app: its public client_id, its secret (as a digest), redirect URIs and scopes."""

    __tablename__ = "apps"
    __table_args__ = (Index("ix_apps_developer_no", "developer_no"),)

    app_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_digest: Mapped[str] = mapped_column(String(64))
    developer_no: Mapped[int] = mapped_column(IdType, ForeignKey("developers.developer_no", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    app_url: Mapped[str] = mapped_column(String(2000))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # development: installable only on test_malls; review: waiting for approval; published: any mall
    status: Mapped[str] = mapped_column(String(16), default="development")
    test_malls: Mapped[list[str]] = mapped_column(JSON, default=list)
    # the key that signs launch URLs: SHA-256 of the client secret, sealed with the server key
    launch_key_sealed: Mapped[str] = mapped_column(String(200), default="")
    secret_rotated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the name and description the platform last approved (None before the first approval): operators see these
    # until `openmall app approve` approves what the developer changed since, so a published app cannot rename
    # itself into "Official openmall Payments" unreviewed
    reviewed_name: Mapped[str | None] = mapped_column(String(100), nullable=True, default=None)
    reviewed_description: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)

    @property
    def listed_name(self) -> str:
        """The name shown to operators (consent, installed apps): the reviewed one, once there is one."""
        return self.name if self.reviewed_name is None else self.reviewed_name

    @property
    def listed_description(self) -> str:
        return self.description if self.reviewed_description is None else self.reviewed_description

    @property
    def changes_pending_review(self) -> bool:
        """The developer changed the name or description since the last approval."""
        return self.reviewed_name is not None and (self.name, self.description) != (
            self.reviewed_name, self.reviewed_description,
        )  # fmt: skip


class Install(MallOwned, Base):
    """An app installed on a mall: the scopes its operators granted it, so far."""

    __tablename__ = "installs"
    __table_args__ = (UniqueConstraint("mall_id", "app_no"),)

    install_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    app_no: Mapped[int] = mapped_column(IdType, ForeignKey("apps.app_no", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    operator_no: Mapped[int | None] = mapped_column(IdType, nullable=True)  # None: installed from the CLI
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class AuthorizationCode(MallOwned, Base):
    """A one-minute, single-use code, bound to its app, mall, redirect URI and PKCE challenge."""

    __tablename__ = "authorization_codes"

    code_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(String(32))  # the tokens issued from this code share it
    app_no: Mapped[int] = mapped_column(IdType, ForeignKey("apps.app_no", ondelete="CASCADE"))
    operator_no: Mapped[int] = mapped_column(IdType)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Token(MallOwned, Base):
    """An access token with its refresh token; a refresh makes a new row of the same grant."""

    __tablename__ = "tokens"
    __table_args__ = (
        Index("ix_tokens_mall_grant", "mall_id", "grant_id"),
        Index("ix_tokens_mall_app", "mall_id", "app_no"),
    )

    token_no: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    grant_id: Mapped[str] = mapped_column(String(32))
    app_no: Mapped[int] = mapped_column(IdType, ForeignKey("apps.app_no", ondelete="CASCADE"))
    operator_no: Mapped[int] = mapped_column(IdType)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # refresh used up
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsoleSession(Base):
    """A console login (operator or developer): the cookie carries only its token, stored here as an HMAC digest,
    so that logout, a password change or the account's removal (cascade) ends it at once."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        Index("ix_console_sessions_operator_no", "operator_no"),
        Index("ix_console_sessions_developer_no", "developer_no"),
    )

    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    mall_id: Mapped[str | None] = mapped_column(  # an operator's mall; None for a developer
        String(32), ForeignKey("malls.mall_id", ondelete="CASCADE"), nullable=True
    )
    operator_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("operators.operator_no", ondelete="CASCADE"), nullable=True
    )
    developer_no: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("developers.developer_no", ondelete="CASCADE"), nullable=True
    )
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # what pages keep between requests (flash messages)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
