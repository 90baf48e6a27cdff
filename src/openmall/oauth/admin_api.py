"""Admin API of the platform itself: the mall's store settings and the calling app's own install."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from openmall.kernel.errors import NotFound
from openmall.kernel.tenancy import CurrentMall, ReadSession
from openmall.kernel.timeutil import MallDateTime
from openmall.oauth import service
from openmall.oauth.guard import AdminCaller, AdminRouter


class StoreOut(BaseModel):
    mall_id: str
    shop_name: str
    currency: str
    timezone: str


class StoreOne(BaseModel):
    store: StoreOut


class AppInstallOut(BaseModel):
    client_id: str
    name: str
    status: str
    scopes: list[str]
    token_scopes: list[str]
    installed_at: MallDateTime
    token_expires_at: MallDateTime


class AppInstallOne(BaseModel):
    app: AppInstallOut


router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: store and apps"])


@router.get("/store", scope="mall.read_store", response_model=StoreOne, summary="The mall's store settings")
async def store(mall: CurrentMall) -> JSONResponse:
    out = StoreOut(mall_id=mall.mall_id, shop_name=mall.name, currency=mall.currency, timezone=mall.timezone)
    return JSONResponse({"store": out.model_dump()})


@router.get("/apps/me", scope="mall.read_application", response_model=AppInstallOne,
            summary="The calling app's install on this mall: granted scopes and when")  # fmt: skip
async def my_install(request: Request, mall: CurrentMall, session: ReadSession, caller: AdminCaller) -> JSONResponse:
    app = await service.get_app(session, caller.client_id)
    install = await service.get_install(session, app)
    if install is None:
        raise NotFound("This app is not installed on this mall", more_info={"client_id": caller.client_id})
    out = AppInstallOut(
        client_id=app.client_id, name=app.name, status=app.status, scopes=install.scopes,
        token_scopes=sorted(caller.scopes), installed_at=install.installed_at, token_expires_at=caller.expires_at,
    )  # fmt: skip
    return JSONResponse({"app": out.model_dump(context={"timezone": mall.timezone})})
