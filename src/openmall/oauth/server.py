"""Authlib's OAuth 2.0 server core (RFC 6749 grants, RFC 7636 PKCE, RFC 7009 revocation) on our storage.

Authlib calls its storage synchronously. polar gives its OAuth endpoints a second, synchronous
SQLAlchemy session (and so a second driver and pool). We run Authlib on the request's own
``AsyncSession`` through ``AsyncSession.run_sync``: inside it Authlib's calls get a plain ``Session``
whose I/O SQLAlchemy bridges to the async driver with greenlets, so there is one driver, one pool,
one transaction per request, the event loop is never blocked, and the mall scoping of
``kernel.db`` applies to every query Authlib's hooks make.

Everything that must happen once happens through a conditional UPDATE (``... WHERE used_at IS NULL``):
of two requests racing with the same code or refresh token, exactly one wins; the other is treated
as a replay, which revokes the whole grant (RFC 6749 §4.1.2, RFC 9700 §4.14).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openmall.config import Settings
from openmall.kernel.db import utcnow
from openmall.kernel.secrets import digest, matches, new_secret
from openmall.kernel.timeutil import iso
from openmall.malls.service import MallInfo
from openmall.oauth import scopes as scope_registry
from openmall.oauth.models import App, AuthorizationCode, Operator, Token

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# ---- the HTTP request, as Authlib sees it -------------------------------------------------------------


@dataclass
class HttpInput:
    """What Authlib needs of an HTTP request, read (including the form body) before entering sync code."""

    method: str
    url: str
    headers: Mapping[str, str]  # case-insensitive (Starlette's Headers): Authlib asks for "Authorization"
    args: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter


class _Payload(OAuth2Payload):
    def __init__(self, data: HttpInput):
        self._data = {**data.args, **data.form}
        if self._data.get("scope"):  # Cafe24 separates scopes with commas, OAuth with spaces: take both
            self._data["scope"] = " ".join(self._data["scope"].replace(",", " ").split())
        self._datalist = data.repeated

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):
    def __init__(self, data: HttpInput):
        # Authlib refuses plain-http URLs; TLS is the deployment's job (a proxy in front), and the
        # embedded default serves http on localhost, so the check is satisfied here, not bypassed globally.
        super().__init__(data.method, "https://" + data.url.split("://", 1)[-1], headers=data.headers)
        self._input = data
        self.payload = _Payload(data)

    @property
    def args(self) -> dict[str, str]:
        return self._input.args

    @property
    def form(self) -> dict[str, str]:
        return self._input.form


# ---- the client, as Authlib sees it ---------------------------------------------------------------------


class OAuthClient(ClientMixin):
    def __init__(self, app: App, key: bytes):
        self.app = app
        self._key = key

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str | None:
        # with one registered URI it is the default; with several the request must name one
        return self.app.redirect_uris[0] if len(self.app.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        if not scope:
            return " ".join(self.app.scopes)
        requested = scope_registry.parse(scope)
        if not set(requested) <= scope_registry.implied(self.app.scopes):
            return None  # asks for more than the app registered: invalid_scope
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris  # exact match, no prefixes or patterns

    def check_client_secret(self, client_secret: str) -> bool:
        return matches(self._key, client_secret, self.app.client_secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


# ---- storage hooks ---------------------------------------------------------------------------------------


class _Code:
    """An authorization code row, as Authlib's AuthorizationCodeMixin."""

    def __init__(self, row: AuthorizationCode):
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str | None:
        return self.row.redirect_uri or None

    def get_scope(self) -> str:
        return " ".join(self.row.scopes)


class _Token:
    """A token row, as Authlib's TokenMixin."""

    def __init__(self, row: Token):
        self.row = row

    def check_client(self, client: OAuthClient) -> bool:
        return self.row.app_no == client.app.app_no

    def get_scope(self) -> str:
        return " ".join(self.row.scopes)


class S256Challenge(CodeChallenge):
    """PKCE is optional for our confidential clients, but when used it is S256: ``plain`` is refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    server: OAuthServer

    def generate_authorization_code(self) -> str:
        return new_secret("om_ac_")

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        srv = self.server
        data = request.payload.data
        srv.db.add(
            AuthorizationCode(
                code_digest=digest(srv.key, code),
                grant_id=uuid.uuid4().hex,
                app_no=request.client.app.app_no,
                operator_no=request.user.operator_no,
                redirect_uri=request.payload.redirect_uri or "",
                scopes=request.scope.split(),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method") if data.get("code_challenge") else None,
                expires_at=utcnow() + timedelta(seconds=srv.settings.authorization_code_seconds),
            )
        )
        srv.db.flush()

    def query_authorization_code(self, code: str, client: OAuthClient) -> _Code | None:
        srv = self.server
        row = srv.db.scalar(select(AuthorizationCode).where(AuthorizationCode.code_digest == digest(srv.key, code)))
        if row is None or row.app_no != client.app.app_no:
            return None
        now = utcnow()
        if row.used_at is not None:
            srv.revoke_grant(row.grant_id)  # a replayed code: whoever holds its tokens loses them
            return None
        if row.expires_at <= now:
            return None
        return _Code(row)

    def validate_token_request(self) -> None:
        """Authlib's checks (client, redirect URI, PKCE), then spend the code: a request that fails a
        check leaves it usable for a corrected retry within its minute; of two that pass, one wins."""
        super().validate_token_request()
        row = self.request.authorization_code.row
        won = self.server.db.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_no == row.code_no, AuthorizationCode.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # another request spent it a moment ago
            self.server.revoke_grant(row.grant_id)
            raise InvalidGrantError("Invalid 'code' in request.")

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Nothing to do: the code was marked used when it was accepted, and is kept to detect replays."""

    def authenticate_user(self, authorization_code: _Code) -> Operator | None:
        return self.server.db.get(Operator, authorization_code.row.operator_no)


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh hands out a new refresh token
    server: OAuthServer

    def authenticate_refresh_token(self, refresh_token: str) -> _Token | None:
        srv = self.server
        row = srv.db.scalar(select(Token).where(Token.refresh_digest == digest(srv.key, refresh_token)))
        if row is None or row.app_no != self.request.client.app.app_no:
            return None
        if row.rotated_at is not None:
            srv.revoke_grant(row.grant_id)  # a rotated-out refresh token came back: RFC 9700 §4.14.2
            return None
        if row.revoked_at is not None or row.refresh_expires_at <= utcnow():
            return None
        return _Token(row)

    def validate_token_request(self) -> None:
        """Authlib's checks (client, token, scope), then spend the refresh token: a refused request
        (a wider scope, say) leaves it usable; of two concurrent refreshes that pass, one wins and the
        other is a replay, which revokes the grant (RFC 9700 §4.14.2)."""
        super().validate_token_request()
        row = self.request.refresh_token.row
        won = self.server.db.execute(
            update(Token)
            .where(Token.token_no == row.token_no, Token.rotated_at.is_(None), Token.revoked_at.is_(None))
            .values(rotated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:
            self.server.revoke_grant(row.grant_id)
            raise InvalidGrantError()

    def authenticate_user(self, refresh_token: _Token) -> Operator | None:
        return self.server.db.get(Operator, refresh_token.row.operator_no)

    def revoke_old_credential(self, refresh_token: _Token) -> None:
        """The old refresh token was spent when it was accepted; its access token ends now too."""
        self.server.db.execute(
            update(Token)
            .where(Token.token_no == refresh_token.row.token_no)
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    server: OAuthServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        srv = self.server
        hashed = digest(srv.key, token_string)
        row = srv.db.scalar(select(Token).where((Token.access_digest == hashed) | (Token.refresh_digest == hashed)))
        return _Token(row) if row is not None else None

    def revoke_token(self, token: _Token, request: OAuth2Request) -> None:
        """Revoking either token of a pair ends both; revoking a refresh token ends its whole grant."""
        row = token.row
        if digest(self.server.key, request.form["token"]) == row.refresh_digest:
            self.server.revoke_grant(row.grant_id)
        else:
            row.revoked_at = row.revoked_at or utcnow()
            self.server.db.flush()


# ---- the server ------------------------------------------------------------------------------------------


class OAuthServer(AuthorizationServer):
    """One per request: it carries the request's sync session, mall and key to the storage hooks."""

    def __init__(self, db: Session, mall: MallInfo, key: bytes, settings: Settings):
        super().__init__(scopes_supported=sorted(scope_registry.ALL))
        self.db = db
        self.mall = mall
        self.key = key
        self.settings = settings
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [S256Challenge(required=False)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)

    # framework glue
    def create_oauth2_request(self, request: HttpInput | OAuth2Request) -> OAuth2Request:
        return request if isinstance(request, OAuth2Request) else _Request(request)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("openmall's OAuth endpoints take forms, not JSON")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, list]:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def validate_requested_scope(self, scope: str | None) -> None:
        """Scopes may be separated by spaces (OAuth) or commas (Cafe24)."""
        if scope:
            try:
                scope_registry.parse(scope)
            except ValueError as exc:
                raise InvalidScopeError(description=str(exc)) from None

    # storage
    def query_client(self, client_id: str) -> OAuthClient | None:
        app = self.db.scalar(select(App).where(App.client_id == client_id))
        return OAuthClient(app, self.key) if app is not None else None

    def _generate_token(self, grant_type: str, client: Any, scope: str | None = None, **_: Any) -> dict[str, Any]:
        return {
            "access_token": new_secret("om_at_"),
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_seconds,
            "refresh_token": new_secret("om_rt_"),
            "scope": scope or "",
        }

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Store the pair as digests, and add the fields of the Cafe24 wire format to the response."""
        now = utcnow()
        grant_id = (request.authorization_code or request.refresh_token).row.grant_id
        scopes = token["scope"].split()
        row = Token(
            grant_id=grant_id,
            app_no=request.client.app.app_no,
            operator_no=request.user.operator_no,
            scopes=scopes,
            access_digest=digest(self.key, token["access_token"]),
            refresh_digest=digest(self.key, token["refresh_token"]),
            issued_at=now,
            access_expires_at=now + timedelta(seconds=self.settings.access_token_seconds),
            refresh_expires_at=now + timedelta(seconds=self.settings.refresh_token_seconds),
        )
        self.db.add(row)
        self.db.flush()
        tz = self.mall.timezone
        token.update(
            expires_at=iso(row.access_expires_at, tz),
            refresh_token_expires_at=iso(row.refresh_expires_at, tz),
            client_id=request.client.app.client_id,
            mall_id=self.mall.mall_id,
            user_id=request.user.login_id,
            scopes=scopes,
            issued_at=iso(now, tz),
        )

    def revoke_grant(self, grant_id: str) -> None:
        """End every token of a grant (one authorization and all its refreshes)."""
        self.db.execute(
            update(Token)
            .where(Token.grant_id == grant_id, Token.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )
