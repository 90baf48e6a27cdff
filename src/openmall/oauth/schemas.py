"""Shapes of accounts and apps, with the checks that belong to the shape (URLs, scopes, lengths)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from openmall.kernel.identifiers import normalise_identifier
from openmall.kernel.schemas import NoControls, Strict
from openmall.oauth import scopes as scope_registry

LOGIN_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Password = Annotated[str, Field(min_length=10, max_length=200)]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> str:
    """Exact URIs only: https anywhere, http on loopback only; no fragment, no wildcard."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(f"redirect URI {uri!r} must use https (http only on localhost or 127.0.0.1)")
    if parts.fragment or "*" in uri:
        raise ValueError(f"redirect URI {uri!r} must be exact: no fragment, no wildcard")
    return uri


class OperatorIn(Strict):
    login_id: str
    name: Annotated[str, Field(min_length=1, max_length=100), NoControls]
    password: Password

    @field_validator("login_id")
    @classmethod
    def _login(cls, v: str) -> str:
        v = normalise_identifier(v)  # "Admin" and "ａｄｍｉｎ" are "admin"; invisible characters refused
        if not LOGIN_ID.match(v):
            raise ValueError("login_id is 3 to 64 lowercase letters, digits, '_', '.' or '-'")
        return v


class DeveloperIn(Strict):
    email: Annotated[str, Field(max_length=254)]
    name: Annotated[str, Field(min_length=1, max_length=100), NoControls]
    password: Password

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        v = normalise_identifier(v)  # full-width letters folded, case-folded; invisible characters refused
        if not EMAIL.match(v):
            raise ValueError("email must look like name@example.com")
        return v


class AppIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100), NoControls]
    description: Annotated[str, Field(max_length=2000)] = ""
    app_url: Annotated[str, Field(max_length=2000)]
    redirect_uris: Annotated[list[str], Field(min_length=1, max_length=10)]
    scopes: Annotated[list[str], Field(min_length=1)]
    test_malls: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)

    @field_validator("redirect_uris")
    @classmethod
    def _uris(cls, v: list[str]) -> list[str]:
        return [check_redirect_uri(u) for u in v]

    @field_validator("app_url")
    @classmethod
    def _app_url(cls, v: str) -> str:
        return check_redirect_uri(v)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        return scope_registry.parse(v)
