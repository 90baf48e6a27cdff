"""OpenID login: a pluggable registry of verifiers, one per provider name.

A verifier turns the token the storefront got from the provider into who it is::

    class Kakao:
        async def verify(self, token: str) -> OpenIdIdentity: ...

    openid.register_provider("kakao", Kakao())

``dev`` is a built-in development provider for tests and local storefronts: its token is
``dev:<subject>:<email>`` (optionally ``dev:<subject>:<email>:<name>``), accepted as it is, with no
signature. Anyone could log in as anyone with it, so it is enabled only when the environment variable
``OPENMALL_OPENID_DEV`` is ``1`` (or ``true``); otherwise it is refused like an unknown provider.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol

from openmall.kernel.errors import InvalidInput, Unauthorized

DEV = "dev"
DEV_ENV = "OPENMALL_OPENID_DEV"


@dataclass(frozen=True)
class OpenIdIdentity:
    subject: str
    email: str | None = None
    name: str = ""


class OpenIdVerifier(Protocol):
    async def verify(self, token: str) -> OpenIdIdentity:
        """Who the token says the user is; raises InvalidProviderToken when the token is not good."""
        ...


class InvalidProviderToken(Unauthorized):
    """401: the provider (or the development provider's format) rejected the token."""


_PROVIDERS: dict[str, OpenIdVerifier] = {}
_DEV_TOKEN = re.compile(r"^dev:([A-Za-z0-9._-]{1,200}):([^:\s@]+@[^:\s@]+\.[^:\s@]+)(?::([^:]{0,100}))?$")


class DevProvider:
    """``dev:<subject>:<email>[:<name>]`` — for tests only (see the module doc)."""

    async def verify(self, token: str) -> OpenIdIdentity:
        match = _DEV_TOKEN.match(token)
        if match is None:
            raise InvalidProviderToken(
                "The dev provider's token looks like dev:<subject>:<email> (e.g. dev:u123:jane@example.com)",
                more_info={"field": "provider_token"},
            )
        return OpenIdIdentity(match.group(1), match.group(2), (match.group(3) or "").strip())


def register_provider(name: str, verifier: OpenIdVerifier) -> None:
    _PROVIDERS[name] = verifier


def dev_enabled() -> bool:
    return os.environ.get(DEV_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def enabled_providers() -> list[str]:
    names = [n for n in _PROVIDERS if n != DEV]
    return sorted(names + ([DEV] if dev_enabled() else []))


def verifier(name: str) -> OpenIdVerifier:
    """The provider's verifier; 422 naming the enabled ones when it is unknown or disabled."""
    found = _PROVIDERS.get(name)
    if found is None or (name == DEV and not dev_enabled()):
        enabled = enabled_providers()
        hint = f"enabled: {', '.join(enabled)}" if enabled else "no OpenID provider is enabled on this server"
        if name == DEV:
            hint += f" (the dev provider needs {DEV_ENV}=1)"
        raise InvalidInput(f"Unknown OpenID provider '{name}'; {hint}", field="provider", allowed=enabled)
    return found


register_provider(DEV, DevProvider())
