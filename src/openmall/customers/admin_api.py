"""Admin API of the customers domain: customer search and detail, member groups, mileage.

Scopes: ``mall.read_customer`` / ``mall.write_customer`` (customers and groups; names, emails and mobile
numbers come masked unless the token also holds ``mall.read_personal``, and searching by name or email needs it),
``mall.read_mileage`` / ``mall.write_mileage`` (the ledger and
adjustments). Bodies come wrapped as ``{"request": {...}}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from openmall.customers import mileage, service
from openmall.customers.schemas import (
    Count,
    CustomerList,
    CustomerOne,
    CustomerOut,
    GroupCreateRequest,
    GroupList,
    GroupOne,
    GroupOut,
    GroupUpdateRequest,
    MemberGroupRequest,
    MileageAdjustRequest,
    MileageOne,
    MileageOut,
)
from openmall.kernel import personal
from openmall.kernel.errors import Forbidden
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT, parse_choice, parse_int_list, parse_text
from openmall.kernel.representation import FieldsQuery, View
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.oauth.guard import AdminRouter

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: customers"])

READ_CUSTOMER, WRITE_CUSTOMER = "mall.read_customer", "mall.write_customer"
READ_MILEAGE, WRITE_MILEAGE = "mall.read_mileage", "mall.write_mileage"

# names, emails and mobile numbers need mall.read_personal; without it they come masked (kernel.personal)
personal.register(CustomerOut, {"name": personal.mask_name, "email": personal.mask_email,
                                "mobile": personal.mask_phone})  # fmt: skip

MemberNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The member's number.")]
GroupNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The member group's number.")]


def customer_filter_query(
    member_id: Annotated[str | None, Query(description="Member id(s), comma-separated (OR), exact.")] = None,
    name: Annotated[str | None, Query(description="Words in the name.")] = None,
    email: Annotated[str | None, Query(description="The email, exact (case-insensitive).")] = None,
    group_no: Annotated[str | None, Query(description="Member group number(s), comma-separated.")] = None,
    status: Annotated[str | None, Query(description="ACTIVE or WITHDRAWN; absent: both.")] = None,
) -> service.CustomerFilter:
    if (name or email) and not personal.allowed():  # a search by them would tell what the masks hide
        raise Forbidden(
            f"Searching customers by name or email needs the scope {personal.SCOPE}, which the token was not granted",
            more_info={"required_scope": personal.SCOPE, "field": "name" if name else "email"},
        )
    ids = [p.strip() for p in (parse_text("member_id", member_id, max_length=2000) or "").split(",") if p.strip()]
    return service.CustomerFilter(
        member_ids=ids[:100],
        name=parse_text("name", name, max_length=100),
        email=parse_text("email", email, max_length=254),
        group_nos=parse_int_list("group_no", group_no),
        status=parse_choice("status", status, (service.ACTIVE, service.WITHDRAWN), "") or None,
    )


CustomerFilterQuery = Annotated[service.CustomerFilter, Depends(customer_filter_query)]


# ---- customers -----------------------------------------------------------------------------------------


@router.get("/customers", scope=READ_CUSTOMER, response_model=CustomerList,
            summary="Search customers by member id, name, email, group or status")  # fmt: skip
async def list_customers(
    mall: CurrentMall, session: ReadSession, page: PageParams, f: CustomerFilterQuery, fields: FieldsQuery = None
) -> Response:
    """Newest first (or ascending from `since_no`). Names, emails and mobile numbers are masked (`홍*동`,
    `j***@example.com`, `010-****-5678`) unless the token holds mall.read_personal, which searching by
    `name` or `email` needs too (403 without it)."""
    view = View(CustomerOut, mall, fields)
    rows = await service.search_customers(session, f, page)
    return view.many("customers", [CustomerOut.model_validate(r) for r in rows])


@router.get("/customers/count", scope=READ_CUSTOMER, response_model=Count,
            summary="Count the customers a search would show")  # fmt: skip
async def count_customers(session: ReadSession, f: CustomerFilterQuery) -> JSONResponse:
    return JSONResponse({"count": await service.count_customers(session, f)})


# ---- groups (before /customers/{member_no}) ------------------------------------------------------------


@router.get("/customers/groups", scope=READ_CUSTOMER, response_model=GroupList,
            summary="Member groups (grades) with their discount and mileage rates")  # fmt: skip
async def list_groups(mall: CurrentMall, session: ReadSession) -> Response:
    return View(GroupOut, mall).many("groups", [GroupOut.model_validate(g) for g in await service.list_groups(session)])


@router.post("/customers/groups", scope=WRITE_CUSTOMER, status_code=201, response_model=GroupOne,
             summary="Create a member group")  # fmt: skip
async def create_group(mall: CurrentMall, session: DbSession, body: GroupCreateRequest) -> Response:
    """Rates are percentages as decimal strings (`"3.00"` = 3 %). `is_default: true` makes new members
    join it (and unmarks the previous default)."""
    return View(GroupOut, mall).one("group", await service.create_group(session, body.request), 201)


@router.put("/customers/groups/{group_no}", scope=WRITE_CUSTOMER, response_model=GroupOne,
            summary="Change a member group (only the fields given)")  # fmt: skip
async def update_group(mall: CurrentMall, session: DbSession, group_no: GroupNo, body: GroupUpdateRequest) -> Response:
    return View(GroupOut, mall).one("group", await service.update_group(session, group_no, body.request))


# ---- one customer --------------------------------------------------------------------------------------


@router.get("/customers/{member_no}", scope=READ_CUSTOMER, response_model=CustomerOne, summary="One customer")
async def get_customer(
    mall: CurrentMall, session: ReadSession, member_no: MemberNo, fields: FieldsQuery = None
) -> Response:
    view = View(CustomerOut, mall, fields)
    return view.one("customer", CustomerOut.model_validate(await service.get_customer(session, member_no)))


@router.put("/customers/{member_no}/group", scope=WRITE_CUSTOMER, response_model=CustomerOne,
            summary="Move a customer to a member group")  # fmt: skip
async def set_group(mall: CurrentMall, session: DbSession, member_no: MemberNo, body: MemberGroupRequest) -> Response:
    await service.set_member_group(session, member_no, body.request.group_no)
    return View(CustomerOut, mall).one(
        "customer", CustomerOut.model_validate(await service.get_customer(session, member_no))
    )


# ---- mileage -------------------------------------------------------------------------------------------


@router.get("/customers/{member_no}/mileage", scope=READ_MILEAGE, response_model=MileageOne,
            summary="A customer's mileage balance and ledger, newest first")  # fmt: skip
async def get_mileage(mall: CurrentMall, session: ReadSession, member_no: MemberNo, page: PageParams) -> Response:
    return View(MileageOut, mall).one("mileage", await mileage.ledger(session, member_no, page))


@router.post("/customers/{member_no}/mileage", scope=WRITE_MILEAGE, status_code=201, response_model=MileageOne,
             summary="Adjust a customer's mileage up or down, with a reason")  # fmt: skip
async def adjust_mileage(
    mall: CurrentMall, session: DbSession, member_no: MemberNo, body: MileageAdjustRequest, page: PageParams
) -> Response:
    """`amount` is a signed decimal string (`"5000"` adds, `"-5000"` takes away); `reason` is required.
    The balance never goes below 0: such an adjustment is a 422 (field `mileage`) and changes nothing.
    Answers the balance and the newest ledger entries."""
    await mileage.adjust(session, member_no, body.request.amount, reason=body.request.reason)
    return View(MileageOut, mall).one("mileage", await mileage.ledger(session, member_no, page), 201)
