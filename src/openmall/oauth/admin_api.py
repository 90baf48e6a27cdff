"""Admin API of the platform itself: the mall's store settings and the calling app's own install."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openmall.kernel.errors import NotFound
from openmall.kernel.ratelimit import Policy
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.kernel.timeutil import MallDateTime
from openmall.malls import service as malls
from openmall.malls.service import MallInfo
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


def _limits(mall: MallInfo) -> dict:
    def one(policy: Policy) -> dict:
        return {"capacity": policy.capacity, "drain_per_second": policy.drain, "window_seconds": policy.window}

    return {"api_limits": {"admin": one(mall.admin_limit), "shop": one(mall.shop_limit)}}


class ApiLimitsRequest(BaseModel):
    request: dict = Field(
        description='`{"admin": {"capacity": 40, "drain_per_second": 1}, "shop": {...}}`; either or both.',
        examples=[{"admin": {"capacity": 80, "drain_per_second": 2}}],
    )


@router.get("/store/api-limits", scope="mall.read_store", summary="The mall's call buckets")
async def api_limits(mall: CurrentMall) -> JSONResponse:
    """Each app has a bucket on the Admin API, each storefront client and IP one on the Shop API: a call
    adds 1, the bucket drains `drain_per_second`, and a call that would overflow it is a 429."""
    return JSONResponse(_limits(mall))


@router.put("/store/api-limits", scope="mall.write_store", summary="Change the mall's call buckets")
async def set_api_limits(
    request: Request, mall: CurrentMall, session: DbSession, body: ApiLimitsRequest
) -> JSONResponse:
    """Other processes apply the change within `OPENMALL_MALL_CACHE_SECONDS` (5 s by default)."""
    info = await malls.set_api_limits(session, mall.mall_id, body.request, request.app.state.mall_cache)
    return JSONResponse(_limits(info))
