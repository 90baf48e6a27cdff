"""The "Change password" page of both consoles (back office and developer console): one form, one rule
(``oauth.sessions.change_password``: the caller's session stays, every other session of the account ends)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.errors import ApiError, InvalidInput
from openmall.oauth import sessions
from openmall.oauth.models import Developer, Operator
from openmall.oauth.schemas import Password
from openmall.web.pages import limit_logins, render, see_other, session_token

MIN_LENGTH = TypeAdapter(Password).json_schema()["minLength"]
CHANGED = "Your password was changed. Every other session of your account was logged out; this one stays."


@dataclass(frozen=True)
class Console:
    """Where the page sits: its console's brand and paths, and the account as the login limit knows it."""

    brand: str
    base: str  # "/admin" or "/developers"
    home: str  # the console's first page, linked back to
    home_label: str
    realm: str  # the login limit's realm: the operator's mall, or "developers"
    login: str  # the account's login (operator ID or email)

    @property
    def action(self) -> str:
        return f"{self.base}/account/password"


def show(request: Request, console: Console, status_code: int = 200, **context: Any) -> Response:
    return render(request, "password.html", status_code, console=console, min_length=MIN_LENGTH,
                  message=request.session.pop("flash", None), **context)  # fmt: skip


async def change(
    request: Request, session: AsyncSession, console: Console, account: Operator | Developer, form: Any
) -> Response:
    """Change the password from the posted form; a wrong current password counts as a failed login, under the
    console login limit (the account's bucket). Success comes back to the page (a reload cannot post twice)."""
    current, new, repeat = (str(form.get(k, "")) for k in ("current_password", "new_password", "repeat_password"))
    try:
        if new != repeat:
            raise InvalidInput("The two new passwords differ; type the same one twice", field="repeat_password")
        await limit_logins(request, console.realm, console.login)
        await sessions.change_password(session, request.app.state.key, account, current, new,
                                       keep=session_token(request))  # fmt: skip
    except ApiError as exc:
        page = show(request, console, exc.status_code, error=exc.message)
        page.headers.update(exc.headers or {})
        return page
    request.session["flash"] = CHANGED
    return see_other(console.action)
