"""Settings, read from environment variables prefixed ``OPENMALL_``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENMALL_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./openmall.db",
        description="SQLAlchemy URL; sqlite+aiosqlite (embedded default) or postgresql+asyncpg.",
    )
    base_domain: str = Field(
        default="localhost",
        description="Malls are served at {mall_id}.{base_domain}; the bare domain serves the default mall.",
    )
    default_mall: str = Field(default="demo", description="The mall that the bare host name serves.")
    db_pool_size: int = Field(default=10, ge=1, description="Connections per process (PostgreSQL).")
    mall_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a process caches a mall's settings after reading them."
    )
    shop_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a process may serve the same public Shop API read (catalog) again; 0 disables.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key for the HMAC digests of stored secrets and tokens; unset: read or create secret_file.",
    )
    secret_file: str = Field(default="./openmall.key", description="Where the embedded default keeps its key.")
    access_token_seconds: int = Field(default=7200, ge=60, description="How long an access token lives (2 h).")
    refresh_token_seconds: int = Field(default=14 * 86400, ge=60, description="How long a refresh token lives.")
    authorization_code_seconds: int = Field(default=60, ge=5, le=600, description="How long a code lives.")
    session_seconds: int = Field(default=12 * 3600, ge=60, description="How long a console login lasts.")
    secure_cookies: bool = Field(
        default=False, description="Send session cookies over HTTPS only (set it when serving behind TLS)."
    )
    redis_url: str | None = Field(
        default=None, description="Redis for state shared by processes (call buckets); unset: this process only."
    )
    rate_limit_backend: Literal["auto", "memory", "redis", "off"] = Field(
        default="auto", description="Where call buckets live: auto = redis when redis_url is set, else memory."
    )
    rate_limit_fail_closed: bool = Field(
        default=False, description="When Redis is unreachable, refuse calls (503) instead of letting them through."
    )
    # leaky buckets (kernel/ratelimit.py, same backend as the call buckets) on guesses at secrets
    login_limit_per_ip: int = Field(default=30, ge=1, description="Console logins/sign-ups one IP may try at once.")
    login_limit_per_account: int = Field(default=10, ge=1, description="Console logins one account may get at once.")
    login_limit_drain_seconds: float = Field(
        default=6.0, gt=0, description="Both login buckets give back one attempt per this many seconds."
    )
    token_limit_per_ip: int = Field(default=300, ge=1, description="Token endpoint calls one IP may make at once.")
    token_limit_per_client: int = Field(
        default=20, ge=1, description="Token endpoint calls one client_id may make at once in one mall."
    )
    token_limit_drain_seconds: float = Field(
        default=0.5, gt=0, description="Both token endpoint buckets give back one call per this many seconds."
    )
    payment_attempts_synchronous_commit: bool = Field(
        default=False, description="PostgreSQL: wait for the WAL flush of each card payment attempt before the "
        "charge (durable even if PostgreSQL and the server crash together); off, the order's own commit flushes it",
    )
    worker_in_process: Literal["auto", "on", "off"] = Field(
        default="auto", description="Run a webhook worker inside `serve`: auto = on the embedded SQLite default."
    )
    webhook_log_days: int = Field(
        default=30, ge=1, le=3650, description="How many days the webhook delivery log keeps its attempts."
    )
    webhooks_allow_private: bool = Field(
        default=False, description="Let webhooks go to private, loopback and link-local addresses (development)."
    )
    debug_sql: bool = Field(default=False, description="Log every SQL statement.")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste (postgresql://, sqlite:///) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url
