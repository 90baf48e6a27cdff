"""The mall's back office pages for apps: operator login, the installed apps, uninstall, launch, password change."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from openmall.kernel.ratelimit import TooManyCalls
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.kernel.timeutil import iso
from openmall.oauth import password_pages, service
from openmall.oauth import scopes as scope_registry
from openmall.oauth.endpoints import logged_in_operator
from openmall.web.pages import end_session, limit_logins, posted_form, render, safe_next, see_other, start_session

router = APIRouter(prefix="/admin", include_in_schema=False)


def _login_page(request: Request, mall, status_code: int = 200, **context) -> Response:  # noqa: ANN001
    return render(
        request, "login.html", status_code=status_code, brand=f"{mall.name} back office",
        heading=f"Log in to {mall.name}", login_label="Operator ID", submit="Log in",
        action="/admin/login", **context,
    )  # fmt: skip


@router.get("/login")
async def login_form(request: Request, mall: CurrentMall, next: str | None = None) -> Response:
    return _login_page(request, mall, next=safe_next(next, "/admin/apps"))


@router.post("/login")
async def login(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    form = await posted_form(request)
    login_id, password = str(form.get("login", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")), "/admin/apps")
    try:
        await limit_logins(request, mall.mall_id, login_id)
        operator = await service.authenticate_operator(session, login_id, password)
    except (service.TooManyAttempts, TooManyCalls) as exc:
        page = _login_page(request, mall, 429, error=exc.message, login=login_id, next=target)
        page.headers.update(exc.headers or {})
        return page
    if operator is None:
        return _login_page(request, mall, 401, error="Wrong operator ID or password.", login=login_id, next=target)
    start_session(request, operator={"mall": mall.mall_id, "no": operator.operator_no})
    return see_other(target)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await posted_form(request)
    end_session(request)
    return see_other("/admin/login")


@router.get("/apps")
async def installed(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return RedirectResponse("/admin/login?next=/admin/apps", status_code=303)
    installs = [
        {
            "app": app,
            "scopes": [(s, scope_registry.describe(s)) for s in install.scopes],
            "installed_at": iso(install.installed_at, mall.timezone),
        }
        for install, app in await service.installed_apps(session)
    ]
    message = request.session.pop("flash", None)
    return render(request, "installed_apps.html", mall=mall, operator=operator, installs=installs, message=message)


@router.post("/apps/{client_id}/uninstall")
async def uninstall(request: Request, client_id: str, mall: CurrentMall, session: DbSession) -> Response:
    await posted_form(request)
    if await logged_in_operator(request, session, mall) is None:
        return RedirectResponse("/admin/login?next=/admin/apps", status_code=303)
    app = await service.uninstall_app(session, client_id)
    request.session["flash"] = f"{app.listed_name} was uninstalled; its access ended."
    return see_other("/admin/apps")


@router.get("/apps/{client_id}/launch")
async def launch(request: Request, client_id: str, mall: CurrentMall, session: DbSession) -> Response:
    """Open the app at its app URL, signed so that it knows which mall and operator opened it."""
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return RedirectResponse(f"/admin/login?next=/admin/apps/{client_id}/launch", status_code=303)
    app = await service.get_app(session, client_id)
    if await service.get_install(session, app) is None:
        return render(request, "error.html", status_code=404, heading="Not installed",
                      message=f"{app.listed_name} is not installed on {mall.mall_id}.")  # fmt: skip
    return RedirectResponse(service.launch_url(app, request.app.state.key, mall.mall_id, operator), status_code=302)


def _password_console(mall, operator) -> password_pages.Console:  # noqa: ANN001
    brand, login = f"{mall.name} back office", operator.login_id
    return password_pages.Console(brand, "/admin", "/admin/apps", "Installed apps", mall.mall_id, login)


@router.get("/account/password")
async def password_form(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return RedirectResponse("/admin/login?next=/admin/account/password", status_code=303)
    return password_pages.show(request, _password_console(mall, operator))


@router.post("/account/password")
async def change_password(request: Request, mall: CurrentMall, session: DbSession) -> Response:
    form = await posted_form(request)
    operator = await logged_in_operator(request, session, mall)
    if operator is None:
        return RedirectResponse("/admin/login?next=/admin/account/password", status_code=303)
    return await password_pages.change(request, session, _password_console(mall, operator), operator, form)
