"""Admin API of coupons: create, change, stop or delete them, issue them to members, see who holds them.

Thin: parse, call ``service``, render. Bodies come wrapped as ``{"request": {...}}``, answers as
``{"coupon": {...}}`` / ``{"coupons": [...]}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from openmall.kernel.errors import ErrorOut
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT
from openmall.kernel.representation import FieldsQuery, View
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.oauth.guard import AdminRouter
from openmall.promotions import service
from openmall.promotions.schemas import (
    AdminCouponList,
    AdminCouponOne,
    AdminCouponOut,
    CouponCreateRequest,
    CouponUpdateRequest,
    DeletedCoupon,
    IssuedCouponList,
    IssuedCouponOut,
    IssueRequest,
    IssueResult,
    IssueResultOut,
)

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: coupons"])

READ, WRITE = "mall.read_promotion", "mall.write_promotion"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The coupon's state refuses it; nothing changed"},
}
CouponNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The coupon's number.")]


def coupon_filter_query(
    kind: Annotated[str | None, Query(description="PRODUCT, CART or SHIPPING; comma-separated for any.")] = None,
    status: Annotated[str | None, Query(description="ACTIVE or STOPPED; comma-separated for either.")] = None,
    issue_type: Annotated[str | None, Query(description="ISSUED or DOWNLOAD; comma-separated for either.")] = None,
) -> service.CouponFilter:
    return service.coupon_filter(kind=kind, status=status, issue_type=issue_type)


CouponFilterQuery = Annotated[service.CouponFilter, Depends(coupon_filter_query)]


async def _one(session, mall, coupon_no: int, status: int = 200) -> Response:  # type: ignore[no-untyped-def]
    return View(AdminCouponOut, mall).one("coupon", await service.get_coupon(session, coupon_no), status)


@router.get("/coupons", scope=READ, response_model=AdminCouponList,
            summary="List coupons, newest first")  # fmt: skip
async def list_coupons(
    mall: CurrentMall, session: ReadSession, page: PageParams, f: CouponFilterQuery, fields: FieldsQuery = None
) -> Response:
    """Filters `kind`, `status` and `issue_type` (a comma list means any of them); `since_no` reads on in
    ascending coupon_no."""
    view = View(AdminCouponOut, mall, fields)
    return view.many("coupons", await service.list_coupons(session, f, page))


@router.post("/coupons", scope=WRITE, status_code=201, response_model=AdminCouponOne,
             summary="Create a coupon")  # fmt: skip
async def create_coupon(mall: CurrentMall, session: DbSession, body: CouponCreateRequest) -> Response:
    """FIXED coupons take `discount_amount` off; PERCENT ones `discount_rate` % (0 < rate ≤ 100), capped by
    `max_discount`. Amounts are whole, as decimal strings (`"3000"` or `"3000.00"`; floats are refused).
    Targets name products and categories of this mall; empty targets apply to everything;
    `target_option_values` such as `[{"name": "Color", "value": "White"}]` limit it to lines with one of them."""
    coupon = await service.create_coupon(session, body.request)
    return await _one(session, mall, coupon.coupon_no, 201)


@router.get("/coupons/{coupon_no}", scope=READ, response_model=AdminCouponOne, summary="One coupon")
async def get_coupon(
    mall: CurrentMall, session: ReadSession, coupon_no: CouponNo, fields: FieldsQuery = None
) -> Response:
    return View(AdminCouponOut, mall, fields).one("coupon", await service.get_coupon(session, coupon_no))


@router.put("/coupons/{coupon_no}", scope=WRITE, response_model=AdminCouponOne, responses=CONFLICT,
            summary="Change a coupon (only the fields given)")  # fmt: skip
async def update_coupon(
    mall: CurrentMall, session: DbSession, coupon_no: CouponNo, body: CouponUpdateRequest
) -> Response:
    """`status: "STOPPED"` stops downloads and uses at once (copies already issued stay, unusable);
    `"ACTIVE"` starts it again. Changing `discount_type` clears the other type's fields. `max_issue_count`
    cannot go below `issued_count` (409). Changes apply to copies already issued but not yet used."""
    await service.update_coupon(session, coupon_no, body.request)
    return await _one(session, mall, coupon_no)


@router.delete("/coupons/{coupon_no}", scope=WRITE, response_model=DeletedCoupon,
               summary="Delete a coupon never issued; stop one that was")  # fmt: skip
async def delete_coupon(session: DbSession, coupon_no: CouponNo) -> JSONResponse:
    """A coupon that was never issued is deleted (`result: DELETED`). One that was is STOPPED instead
    (`result: STOPPED`): members' copies and the orders that used them keep their history."""
    result = await service.delete_coupon(session, coupon_no)
    return JSONResponse({"coupon": {"coupon_no": coupon_no, "result": result}})


@router.post("/coupons/{coupon_no}/issue", scope=WRITE, status_code=201, response_model=IssueResult, responses=CONFLICT,
             summary="Issue a coupon to members")  # fmt: skip
async def issue_coupon(mall: CurrentMall, session: DbSession, coupon_no: CouponNo, body: IssueRequest) -> JSONResponse:
    """`{"request": {"member_nos": [...]}}`, at most 500. Every member must exist in this mall and not have
    withdrawn (else 422, nothing issued). Members who hold the coupon already are listed in `already_issued`
    and keep their copy. Refused (409, nothing issued) when the coupon is STOPPED or has ended, or when
    `max_issue_count` leaves fewer copies than members. Emits `coupon.issued` per copy."""
    done = await service.issue(session, coupon_no, body.request.member_nos)
    out = IssueResultOut(coupon_no=coupon_no, issued=[service.issued_out(c) for c in done.copies],
                         already_issued=done.already_issued)  # fmt: skip
    return JSONResponse({"issue": out.model_dump(mode="json", context={"timezone": mall.timezone})}, status_code=201)


@router.get("/coupons/{coupon_no}/issued", scope=READ, response_model=IssuedCouponList,
            summary="The copies of a coupon that members hold")  # fmt: skip
async def list_issued(
    mall: CurrentMall,
    session: ReadSession,
    coupon_no: CouponNo,
    page: PageParams,
    used: Annotated[str | None, Query(description="T: only used copies; F: only unused ones.")] = None,
) -> Response:
    """Newest first; `since_no` (an issued_coupon_no) reads on in ascending order."""
    copies = await service.list_issued(session, coupon_no, page, service.parse_used(used))
    return View(IssuedCouponOut, mall).many("issued_coupons", copies)
