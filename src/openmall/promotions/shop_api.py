"""Shop API of coupons: what a member may download, downloading, and the member's own coupons.

Thin: parse, call ``service``, render. Member calls send ``Authorization: Bearer om_ma_…``; nothing here is
cached (the answers depend on the member).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from openmall.customers.auth import CurrentMember, MaybeMember
from openmall.kernel.errors import ERROR_RESPONSES, ErrorOut
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT, parse_flag
from openmall.kernel.representation import View
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.promotions import service
from openmall.promotions.schemas import (
    MemberCouponList,
    MemberCouponOne,
    MemberCouponOut,
    ShopCouponList,
    ShopCouponOut,
)

router = APIRouter(prefix="/api/v2/shop", tags=["Shop API: coupons"], responses=ERROR_RESPONSES)

CouponNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The coupon's number.")]
MEMBER: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No live member token (or one sent that is not live): log in first"},
}


@router.get("/coupons", response_model=ShopCouponList, responses=MEMBER, summary="Coupons that can be downloaded now")
async def downloadable_coupons(
    mall: CurrentMall, session: DbSession, member: MaybeMember, page: PageParams
) -> Response:
    """DOWNLOAD coupons that are ACTIVE, within their period and not all taken, soonest ending first. With a
    member token, `downloaded` says whether the member holds each already; guests see `false`."""
    coupons = await service.downloadable(session, page, member.member_no if member else None)
    return View(ShopCouponOut, mall).many("coupons", coupons)


@router.post("/coupons/{coupon_no}/download", status_code=201, response_model=MemberCouponOne,
             responses={**MEMBER, 409: {"model": ErrorOut, "description": "Downloaded already, sold out, "
                                        "stopped, not started or ended; `more_info.reason` says which"}},
             summary="Download a coupon (once per member)")  # fmt: skip
async def download_coupon(
    mall: CurrentMall, session: DbSession, member: CurrentMember, coupon_no: CouponNo
) -> Response:
    """Answers the member's new copy (its `issued_coupon_no` is what an order sheet uses). A second download
    of the same coupon is a 409 with `more_info.reason` `ALREADY_DOWNLOADED`."""
    copy, coupon = await service.download(session, coupon_no, member.member_no)
    return View(MemberCouponOut, mall).one("coupon", service.member_out(copy, coupon, copy.issued_at), 201)


@router.get("/profile/coupons", response_model=MemberCouponList, responses=MEMBER,
            summary="The member's coupons: what each takes off and where it applies")  # fmt: skip
async def my_coupons(
    mall: CurrentMall,
    session: DbSession,
    member: CurrentMember,
    page: PageParams,
    usable: Annotated[
        str | None, Query(description="true: only those usable now (soonest ending first); false: only used, "
                                      "stopped, not yet started or ended ones; absent: all (newest first).")
    ] = None,
) -> Response:  # fmt: skip
    coupons = await service.member_coupons(session, member.member_no, parse_flag("usable", usable), page)
    return View(MemberCouponOut, mall).many("coupons", coupons)
