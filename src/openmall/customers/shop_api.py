"""Shop API of the customers domain: sign-up, logins and tokens, profile, addresses, withdrawal, mileage.

Thin: parse, call the service, render. A member call sends ``Authorization: Bearer om_ma_…``; every
call sends the storefront's ``X-Client-Id``. Both logins take the campaign's ``?trackingKey=`` (so
named, as the seed does) into the ``member.logged_in`` event, and merge the guest cart named by the
``X-Guest-Key`` header into the member's.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from openmall.customers import auth, mileage, openid, service
from openmall.customers.auth import CurrentMember, MemberTokens
from openmall.customers.schemas import (
    AddressIn,
    AddressList,
    AddressOne,
    AddressOut,
    AddressUpdate,
    DeletedAddress,
    LoginIn,
    MemberOne,
    MileageOne,
    MileageOut,
    OpenIdLoginIn,
    ProfileOne,
    ProfileOut,
    ProfileUpdate,
    SignUpIn,
    TokenOut,
    WithdrawIn,
    Withdrawn,
)
from openmall.kernel.errors import ERROR_RESPONSES, ErrorOut
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT, parse_text
from openmall.kernel.representation import View
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.malls.service import MallInfo

router = APIRouter(prefix="/api/v2/shop", tags=["Shop API: members"], responses=ERROR_RESPONSES)

MEMBER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No live member access token (Authorization: Bearer om_ma_…)"}
}
LOGIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Wrong member id or password (one answer for both), or a refresh "
                                            "token that is unknown, used, revoked or expired"},
    429: {"model": ErrorOut, "description": f"The member id is locked after {service.LOCK_AFTER} failed logins; "
                                            "more_info.locked_until says until when (Retry-After too)"},
}  # fmt: skip

TrackingKey = Annotated[
    str | None,
    Query(alias="trackingKey", max_length=100,
          description="The campaign link's tracking key, carried into the member.logged_in event.",
          examples=["kakao-friendtalk-1124"]),
]  # fmt: skip
GuestKey = Annotated[
    str | None,
    Header(alias="X-Guest-Key", max_length=100, description="The guest cart's key: merged into the member's cart."),
]
AddressNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The address's number.")]
T = TypeVar("T")


def _tokens(mall: MallInfo, tokens: MemberTokens, member_no: int, created: bool = False) -> JSONResponse:
    out = TokenOut(
        access_token=tokens.access_token,
        expires_in=int((tokens.access_expires_at - _issued(tokens)).total_seconds()),
        access_token_expires_at=tokens.access_expires_at,
        refresh_token=tokens.refresh_token,
        refresh_token_expires_at=tokens.refresh_expires_at,
        keep_login=tokens.keep_login,
        member_no=member_no,
        created=created,
    )
    return JSONResponse(out.model_dump(mode="json", context={"timezone": mall.timezone}),
                        headers={"Cache-Control": "no-store"})  # fmt: skip


def _issued(tokens: MemberTokens) -> Any:
    return tokens.access_expires_at - (auth.ACCESS_KEEP if tokens.keep_login else auth.ACCESS)


def _tracking(raw: str | None) -> str | None:
    return parse_text("trackingKey", raw, max_length=100)


# ---- sign-up and logins ------------------------------------------------------------------------------


@router.post("/members", status_code=201, response_model=MemberOne, summary="Sign up with a member id and password",
             responses={409: {"model": ErrorOut, "description": "The member id is taken"}})  # fmt: skip
async def sign_up(mall: CurrentMall, session: DbSession, body: SignUpIn) -> Response:
    """The new member joins the mall's default member group, if there is one. Log in afterwards."""
    member = await service.sign_up(session, body)
    return View(ProfileOut, mall).one("member", ProfileOut.model_validate(await service.profile(session, member)), 201)


@router.post("/oauth/token", response_model=TokenOut, responses=LOGIN_ERRORS,
             summary="Log in with member id and password, or refresh the tokens")  # fmt: skip
async def login(
    request: Request,
    mall: CurrentMall,
    session: DbSession,
    body: LoginIn,
    tracking_key: TrackingKey = None,
    guest_key: GuestKey = None,
) -> JSONResponse:
    """`grant_type` `password` (the default): `member_id`, `password`, `keep_login` (the access token lives
    90 days instead of 12 hours). After 10 failed logins in a row the member id is locked for 30 minutes
    (429 saying until when; the right password is refused meanwhile); a success resets the count.

    A wrong password and an unknown member id get the same answer. Member ids are case-insensitive
    (`JANE` logs in as `jane`).

    `grant_type` `refresh_token`: `refresh_token` → a new pair; the refresh token is used once (rotated).
    A used refresh token that comes back revokes every token issued from the same login.
    """
    key = request.app.state.key
    if body.grant_type == "refresh_token":
        member, tokens = await auth.rotate(session, key, body.refresh_token or "")
        return _tokens(mall, tokens, member.member_no)
    tracking = _tracking(tracking_key)
    member = await service.login_with_password(session, key, body.member_id or "", body.password or "")
    tokens = await auth.issue_tokens(session, key, member, body.keep_login)
    await service.after_login(session, member, provider="password", tracking_key=tracking, guest_key=guest_key,
                              server_key=key)  # fmt: skip
    return _tokens(mall, tokens, member.member_no)


@router.post("/oauth/openid", response_model=TokenOut,
             summary="Log in with an OpenID provider's token (the first login signs up)",
             responses={401: {"model": ErrorOut, "description": "The provider rejected the token"}})  # fmt: skip
async def login_openid(
    request: Request,
    mall: CurrentMall,
    session: DbSession,
    body: OpenIdLoginIn,
    tracking_key: TrackingKey = None,
    guest_key: GuestKey = None,
) -> JSONResponse:
    """`provider` names a verifier registered in `customers.openid`; an unknown one is a 422 listing the
    enabled ones. The development provider `dev` (token `dev:<subject>:<email>`) is enabled only with
    `OPENMALL_OPENID_DEV=1`. The first login creates the member (`created: true`) and links the identity."""
    tracking = _tracking(tracking_key)
    identity = await openid.verifier(body.provider).verify(body.provider_token)
    member, created = await service.login_with_openid(session, body.provider, identity)
    tokens = await auth.issue_tokens(session, request.app.state.key, member, body.keep_login)
    await service.after_login(session, member, provider=body.provider, tracking_key=tracking, guest_key=guest_key,
                              server_key=request.app.state.key)  # fmt: skip
    return _tokens(mall, tokens, member.member_no, created)


@router.delete("/oauth/token", status_code=204, responses=MEMBER_ERRORS, summary="Log out: the token stops working")
async def logout(request: Request, session: DbSession, member: CurrentMember) -> Response:
    await auth.revoke(session, request.app.state.key, auth.token_from(request) or "")
    return Response(status_code=204)


# ---- profile -------------------------------------------------------------------------------------------


@router.get("/profile", response_model=ProfileOne, responses=MEMBER_ERRORS, summary="The member's profile")
async def get_profile(mall: CurrentMall, session: DbSession, member: CurrentMember) -> Response:
    return View(ProfileOut, mall).one("profile", ProfileOut.model_validate(await service.profile(session, member)))


@router.put("/profile", response_model=ProfileOne, responses=MEMBER_ERRORS,
            summary="Change the profile (only the fields given); a new password logs out the other tokens")  # fmt: skip
async def update_profile(
    request: Request, mall: CurrentMall, session: DbSession, member: CurrentMember, body: ProfileUpdate
) -> Response:
    """`new_password` needs `current_password`; wrong ones count as failed logins."""
    if await service.update_profile(session, member, body):
        await auth.revoke_others(session, request.app.state.key, member.member_no, auth.token_from(request) or "")
    return View(ProfileOut, mall).one("profile", ProfileOut.model_validate(await service.profile(session, member)))


@router.delete("/profile", response_model=Withdrawn, responses={**MEMBER_ERRORS, 403: {
    "model": ErrorOut, "description": "Neither the password nor a recent login"}},
    summary="Withdraw: personal data erased, orders kept")  # fmt: skip
async def withdraw(request: Request, session: DbSession, member: CurrentMember, body: WithdrawIn | None = None) -> Any:
    """Send `{"password": ...}`, or call within 10 minutes of a login with the password or OpenID (refreshed
    tokens keep the time of the login they come from). The member id, name, email,
    mobile, password, addresses and OpenID links are erased and every token revoked; orders stay."""
    key = request.app.state.key
    row = await auth.token_row(session, key, auth.token_from(request) or "")
    await service.withdraw(session, member, password=body.password if body else None,
                           authenticated_at=row.authenticated_at if row else None)  # fmt: skip
    await auth.revoke_all(session, member.member_no)
    return JSONResponse({"member": {"member_no": member.member_no, "status": service.WITHDRAWN}})


# ---- addresses -----------------------------------------------------------------------------------------


@router.get("/profile/addresses", response_model=AddressList, responses=MEMBER_ERRORS,
            summary="The member's addresses, the default first")  # fmt: skip
async def list_addresses(mall: CurrentMall, session: DbSession, member: CurrentMember) -> Response:
    rows = await service.list_addresses(session, member.member_no)
    return View(AddressOut, mall).many("addresses", [AddressOut.model_validate(a) for a in rows])


@router.post("/profile/addresses", status_code=201, response_model=AddressOne, responses=MEMBER_ERRORS,
             summary="Add an address (the first one is the default)")  # fmt: skip
async def add_address(mall: CurrentMall, session: DbSession, member: CurrentMember, body: AddressIn) -> Response:
    address = await service.add_address(session, member.member_no, body)
    return View(AddressOut, mall).one("address", address, 201)


@router.put("/profile/addresses/{address_no}", response_model=AddressOne, responses=MEMBER_ERRORS,
            summary="Change an address (only the fields given)")  # fmt: skip
async def update_address(
    mall: CurrentMall, session: DbSession, member: CurrentMember, address_no: AddressNo, body: AddressUpdate
) -> Response:
    address = await service.update_address(session, member.member_no, address_no, body)
    return View(AddressOut, mall).one("address", address)


@router.delete("/profile/addresses/{address_no}", response_model=DeletedAddress, responses=MEMBER_ERRORS,
               summary="Delete an address (a deleted default passes to the oldest other one)")  # fmt: skip
async def delete_address(session: DbSession, member: CurrentMember, address_no: AddressNo) -> JSONResponse:
    await service.delete_address(session, member.member_no, address_no)
    return JSONResponse({"address": {"address_no": address_no}})


# ---- mileage -------------------------------------------------------------------------------------------


@router.get("/profile/mileage", response_model=MileageOne, responses=MEMBER_ERRORS,
            summary="The member's mileage balance and ledger, newest first")  # fmt: skip
async def get_mileage(mall: CurrentMall, session: DbSession, member: CurrentMember, page: PageParams) -> Response:
    return View(MileageOut, mall).one("mileage", await mileage.ledger(session, member.member_no, page))
