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
    secret_rotated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
