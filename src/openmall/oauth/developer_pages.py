"""The developer console: sign up, log in, register apps, see the secret once, rotate it, submit for review;
its webhook pages live in ``openmall.webhooks.developer_pages`` (included here).

Developers belong to the platform, not to a mall, so the console answers on any host of the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.errors import ApiError
from openmall.kernel.ratelimit import TooManyCalls
from openmall.kernel.secrets import seal, unseal
from openmall.kernel.tenancy import DbSession
from openmall.oauth import password_pages, service
from openmall.oauth import scopes as scope_registry
from openmall.oauth.models import App, Developer
from openmall.web.pages import end_session, limit_logins, posted_form, render, see_other, start_session
from openmall.webhooks import developer_pages as webhook_pages

router = APIRouter(prefix="/developers", include_in_schema=False)
BRAND = "openmall developers"
ALL_SCOPES = [(s, scope_registry.describe(s)) for s in sorted(scope_registry.ALL)]


async def _developer(request: Request, session: AsyncSession) -> Developer | None:
    return await service.get_developer(session, request.session.get("developer"))


def _to_login() -> Response:
    return RedirectResponse("/developers/login", status_code=303)


def _password_console(developer: Developer) -> password_pages.Console:
    return password_pages.Console(BRAND, "/developers", "/developers/apps", "Your apps", "developers", developer.email)


def _account_page(request: Request, signup: bool, status_code: int = 200, **context: Any) -> Response:
    if signup:
        return render(request, "login.html", status_code, brand=BRAND, heading="Create a developer account",
                      login_label="Email", submit="Sign up", action="/developers/signup", signup=True,
                      alternative='Have an account? <a href="/developers/login">Log in</a>', **context)  # fmt: skip
    return render(request, "login.html", status_code, brand=BRAND, heading="Developer log in", login_label="Email",
                  submit="Log in", action="/developers/login",
                  alternative='New here? <a href="/developers/signup">Create an account</a>', **context)  # fmt: skip


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    return _account_page(request, signup=True)


@router.post("/signup")
async def signup(request: Request, session: DbSession) -> Response:
    form = await posted_form(request)
    email, name = str(form.get("login", "")), str(form.get("name", ""))
    try:
        await limit_logins(request, "developers", email)
        developer = await service.create_developer(session, email, name, str(form.get("password", "")))
    except ApiError as exc:
        page = _account_page(request, True, exc.status_code, error=exc.message, login=email, name=name)
        page.headers.update(exc.headers or {})
        return page
    start_session(request, developer=developer.developer_no)
    return see_other("/developers/apps")


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _account_page(request, signup=False)


@router.post("/login")
async def login(request: Request, session: DbSession) -> Response:
    form = await posted_form(request)
    email = str(form.get("login", ""))
    try:
        await limit_logins(request, "developers", email)
        developer = await service.authenticate_developer(session, email, str(form.get("password", "")))
    except (service.TooManyAttempts, TooManyCalls) as exc:
        page = _account_page(request, False, 429, error=exc.message, login=email)
        page.headers.update(exc.headers or {})
        return page
    if developer is None:
        return _account_page(request, False, 401, error="Wrong email or password.", login=email)
    start_session(request, developer=developer.developer_no)
    return see_other("/developers/apps")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await posted_form(request)
    end_session(request)
    return see_other("/developers/login")


@router.get("/account/password")
async def password_form(request: Request, session: DbSession) -> Response:
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    return password_pages.show(request, _password_console(developer))


@router.post("/account/password")
async def change_password(request: Request, session: DbSession) -> Response:
    form = await posted_form(request)
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    return await password_pages.change(request, session, _password_console(developer), developer, form)


@router.get("")
async def home() -> Response:
    return see_other("/developers/apps")


@router.get("/apps")
async def apps(request: Request, session: DbSession) -> Response:
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    return render(request, "dev_apps.html", developer=developer, apps=await service.developer_apps(session, developer))


def _form_values(form: Any) -> dict[str, Any]:
    def lines(name: str) -> list[str]:
        return [line.strip() for line in str(form.get(name, "")).splitlines() if line.strip()]

    return {
        "name": str(form.get("name", "")),
        "description": str(form.get("description", "")),
        "app_url": str(form.get("app_url", "")),
        "redirect_uris": lines("redirect_uris"),
        "scopes": [str(s) for s in form.getlist("scopes")],
        "test_malls": lines("test_malls"),
    }


def _form_page(request: Request, heading: str, action: str, values: dict[str, Any], status_code: int = 200,
               error: str | None = None, submit: str = "Register") -> Response:  # fmt: skip
    shown = {**values, **{k: "\n".join(values[k]) for k in ("redirect_uris", "test_malls")}}
    return render(request, "dev_app_form.html", status_code, heading=heading, action=action, form=shown,
                  all_scopes=ALL_SCOPES, error=error, submit=submit)  # fmt: skip


def _app_page(request: Request, app: App, **context: Any) -> Response:
    host = f"https://{{mall_id}}.{request.app.state.settings.base_domain}"
    query = urlencode({"response_type": "code", "client_id": app.client_id, "redirect_uri": app.redirect_uris[0],
                       "scope": ",".join(app.scopes), "state": "…"})  # fmt: skip
    example = f"{host}/api/v2/oauth/authorize?{query}"
    return render(request, "dev_app.html", app=app, authorize_example=example, **context)


def _show_once(request: Request, made: service.NewSecret) -> Response:
    """Redirect (so that a reload cannot post twice) to the app's page, which shows the secret once."""
    # the session's data is kept in the database: the secret waits there sealed under the server key
    sealed = seal(request.app.state.key, made.client_secret)
    request.session["new_secret"] = {"client_id": made.app.client_id, "sealed": sealed}
    return see_other(f"/developers/apps/{made.app.client_id}")


@router.get("/apps/new")
async def new_app_form(request: Request, session: DbSession) -> Response:
    if await _developer(request, session) is None:
        return _to_login()
    empty = {"name": "", "description": "", "app_url": "", "redirect_uris": [], "scopes": [], "test_malls": []}
    return _form_page(request, "Register an app", "/developers/apps/new", empty)


@router.post("/apps/new")
async def new_app(request: Request, session: DbSession) -> Response:
    form = await posted_form(request)
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    values = _form_values(form)
    try:
        created = await service.create_app(session, request.app.state.key, developer, **values)
    except ApiError as exc:
        return _form_page(request, "Register an app", "/developers/apps/new", values, exc.status_code, exc.message)
    return _show_once(request, created)


@router.get("/apps/{client_id}")
async def app_detail(request: Request, client_id: str, session: DbSession) -> Response:
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    app = await service.developer_app(session, developer, client_id)
    shown = request.session.pop("new_secret", None)  # set by the POST that made it; shown on this page only
    secret = unseal(request.app.state.key, shown["sealed"]) if shown and shown.get("client_id") == client_id else None
    return _app_page(request, app, new_secret=secret)


@router.get("/apps/{client_id}/edit")
async def edit_form(request: Request, client_id: str, session: DbSession) -> Response:
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    app = await service.developer_app(session, developer, client_id)
    values = {"name": app.name, "description": app.description, "app_url": app.app_url,
              "redirect_uris": app.redirect_uris, "scopes": app.scopes, "test_malls": app.test_malls}  # fmt: skip
    return _form_page(request, f"Edit {app.name}", f"/developers/apps/{client_id}/edit", values, submit="Save")


@router.post("/apps/{client_id}/edit")
async def edit(request: Request, client_id: str, session: DbSession) -> Response:
    form = await posted_form(request)
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    values = _form_values(form)
    try:
        app = await service.update_app(session, developer, client_id, **values)
    except ApiError as exc:
        action = f"/developers/apps/{client_id}/edit"
        return _form_page(request, "Edit app", action, values, exc.status_code, exc.message, submit="Save")
    message = "Saved." if app.status != "review" else "Saved; it is back in review before new malls can install it."
    return _app_page(request, app, message=message)


@router.post("/apps/{client_id}/rotate-secret")
async def rotate(request: Request, client_id: str, session: DbSession) -> Response:
    await posted_form(request)
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    rotated = await service.rotate_secret(session, request.app.state.key, developer, client_id)
    return _show_once(request, rotated)


@router.post("/apps/{client_id}/submit")
async def submit(request: Request, client_id: str, session: DbSession) -> Response:
    await posted_form(request)
    developer = await _developer(request, session)
    if developer is None:
        return _to_login()
    app = await service.submit_for_review(session, developer, client_id)
    message = "Submitted for review; an administrator publishes it with openmall app approve."
    return _app_page(request, app, message=message)


router.include_router(webhook_pages.router)  # /developers/apps/{client_id}/webhooks/...
