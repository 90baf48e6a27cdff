"""Request and response shapes of the customers domain.

Shop API bodies are flat (as a storefront sends them); Admin API bodies come wrapped as
``{"request": {...}}`` and answers as ``{"customer": {...}}`` / ``{"customers": [...]}`` (Cafe24's shape).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from openmall.kernel.identifiers import Normalised
from openmall.kernel.money import MAX_AMOUNT, Money, _no_float
from openmall.kernel.schemas import NoControls, Strict
from openmall.kernel.schemas import Partial as _Partial
from openmall.kernel.timeutil import MallDateTime

MemberIdStr = Annotated[
    str,
    Field(min_length=4, max_length=50, pattern=r"^[a-z0-9._@-]+$",
          description="The login id: 4 to 50 letters, digits or . _ @ -; case-insensitive, stored in lower case",
          examples=["jane"]),
    Normalised,  # after Field: runs first, so the length and pattern are checked on the normal form
]  # fmt: skip
Password = Annotated[str, Field(min_length=8, max_length=128, description="8 to 128 characters.")]
PersonName = Annotated[str, Field(min_length=1, max_length=100), NoControls]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["jane@example.com"]),
                  Normalised]  # fmt: skip
Mobile = Annotated[str, Field(min_length=7, max_length=20, pattern=r"^\+?[0-9][0-9 -]{5,18}[0-9]$",
                              examples=["010-1234-5678"])]  # fmt: skip
Rate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False, description='A percentage, e.g. "3.00" for 3 %.'),
]
SignedAmount = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False,
          description="Signed decimal string: \"5000\" adds, \"-5000\" takes away.", examples=["-5000"]),
]  # fmt: skip
RowNo = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- Shop API: sign-up, login, tokens ----------------------------------------------------------------


class SignUpIn(Strict):
    member_id: MemberIdStr
    password: Password
    name: PersonName
    email: Email
    mobile: Mobile | None = None


class LoginIn(Strict):
    """``grant_type=password`` (the default): member_id, password, keep_login.
    ``grant_type=refresh_token``: refresh_token (rotated: the old one stops working)."""

    grant_type: Literal["password", "refresh_token"] = "password"
    member_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    password: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    keep_login: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="Stay logged in: the access token lives 90 days instead of 12 hours."
    )
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _needs(self) -> LoginIn:
        if self.grant_type == "password":
            missing = [f for f in ("member_id", "password") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"grant_type password needs {' and '.join(missing)}")
        elif self.refresh_token is None:
            raise ValueError("grant_type refresh_token needs refresh_token")
        return self


class OpenIdLoginIn(Strict):
    provider: Annotated[str, Field(min_length=1, max_length=30, examples=["dev"])]
    provider_token: Annotated[str, Field(min_length=1, max_length=4000, description="The token the provider gave.")]
    keep_login: Annotated[bool, Field(strict=True)] = False


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the access token lives.")
    access_token_expires_at: MallDateTime
    refresh_token: str
    refresh_token_expires_at: MallDateTime
    keep_login: bool
    member_no: int
    created: bool = Field(default=False, description="OpenID: this login created the member.")


# ---- profile ---------------------------------------------------------------------------------------


class GroupBrief(Out):
    group_no: int
    name: str
    discount_rate: Money
    mileage_rate: Money


class ProfileOut(Out):
    member_no: int
    member_id: str | None
    name: str
    email: str | None
    mobile: str | None
    group: GroupBrief | None = None
    mileage_balance: Money
    has_password: bool
    last_login_at: MallDateTime | None
    created_at: MallDateTime


class ProfileOne(BaseModel):
    profile: ProfileOut


class MemberOne(BaseModel):
    member: ProfileOut


class ProfileUpdate(_Partial):
    """Only the fields given change. A new password needs the current one; it logs out every other token."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"mobile"})

    name: PersonName | None = None
    email: Email | None = None
    mobile: Mobile | None = None
    current_password: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    new_password: Password | None = None


class WithdrawIn(Strict):
    password: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        default=None, description="Required for members with a password; OpenID-only members log in again instead."
    )
    reason: Annotated[str, Field(max_length=200)] = ""


class Withdrawn(BaseModel):
    member: dict[str, Any] = Field(examples=[{"member_no": 7, "status": "WITHDRAWN"}])


# ---- addresses --------------------------------------------------------------------------------------

Label = Annotated[str, Field(max_length=50)]
Receiver = Annotated[str, Field(min_length=1, max_length=100), NoControls]
Phone = Annotated[str, Field(min_length=7, max_length=20, pattern=r"^\+?[0-9][0-9 -]{5,18}[0-9]$")]
Zip = Annotated[str, Field(min_length=3, max_length=10, pattern=r"^[0-9A-Za-z -]+$")]
Line1 = Annotated[str, Field(min_length=1, max_length=300)]
Line2 = Annotated[str, Field(max_length=300)]


class AddressIn(Strict):
    label: Label = ""
    receiver_name: Receiver
    receiver_phone: Phone
    zip_code: Zip
    address1: Line1
    address2: Line2 = ""
    is_default: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="Make it the default (the member's first address is the default anyway)."
    )


class AddressUpdate(_Partial):
    label: Label | None = None
    receiver_name: Receiver | None = None
    receiver_phone: Phone | None = None
    zip_code: Zip | None = None
    address1: Line1 | None = None
    address2: Line2 | None = None
    is_default: Annotated[bool, Field(strict=True)] | None = Field(
        default=None, description="true makes it the default; false is refused (make another one the default)."
    )


class AddressOut(Out):
    address_no: int
    label: str
    receiver_name: str
    receiver_phone: str
    zip_code: str
    address1: str
    address2: str
    is_default: bool
    created_at: MallDateTime


class AddressOne(BaseModel):
    address: AddressOut


class AddressList(BaseModel):
    addresses: list[AddressOut]


class DeletedAddress(BaseModel):
    address: dict[str, int] = Field(examples=[{"address_no": 3}])


# ---- mileage ----------------------------------------------------------------------------------------


class MileageEntryOut(Out):
    entry_no: int
    kind: str = Field(description="EARN, SPEND, RESTORE or ADJUST")
    amount: Money = Field(description="Signed: + adds, - takes away")
    balance_after: Money
    order_id: str | None
    reason: str
    created_at: MallDateTime


class MileageOut(Out):
    member_no: int
    balance: Money
    total: int = Field(description="How many ledger entries there are in all")
    entries: list[MileageEntryOut]


class MileageOne(BaseModel):
    mileage: MileageOut


# ---- Admin API -------------------------------------------------------------------------------------


class CustomerOut(Out):
    """Email and mobile are shown to any token with mall.read_customer."""

    member_no: int
    member_id: str | None
    name: str
    email: str | None
    mobile: str | None
    group_no: int | None
    group_name: str | None = None
    status: str = Field(description="ACTIVE or WITHDRAWN")
    mileage_balance: Money
    failed_logins: int
    locked_until: MallDateTime | None
    last_login_at: MallDateTime | None
    created_at: MallDateTime
    withdrawn_at: MallDateTime | None


class CustomerOne(BaseModel):
    customer: CustomerOut


class CustomerList(BaseModel):
    customers: list[CustomerOut]


class Count(BaseModel):
    count: int


class GroupIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=50), NoControls]
    discount_rate: Rate = Decimal("0")
    mileage_rate: Rate = Decimal("0")
    is_default: Annotated[bool, Field(strict=True)] = Field(
        default=False, description="New members join the default group; making one default unmarks the other."
    )


class GroupUpdate(_Partial):
    name: Annotated[str, Field(min_length=1, max_length=50), NoControls] | None = None
    discount_rate: Rate | None = None
    mileage_rate: Rate | None = None
    is_default: Annotated[bool, Field(strict=True)] | None = None


class GroupOut(Out):
    group_no: int
    name: str
    discount_rate: Money
    mileage_rate: Money
    is_default: bool
    created_at: MallDateTime


class GroupOne(BaseModel):
    group: GroupOut


class GroupList(BaseModel):
    groups: list[GroupOut]


class GroupCreateRequest(Strict):
    request: GroupIn


class GroupUpdateRequest(Strict):
    request: GroupUpdate


class MemberGroupIn(Strict):
    group_no: RowNo | None = Field(description="The group to move the member to; null takes them out of any.")


class MemberGroupRequest(Strict):
    request: MemberGroupIn


class MileageAdjustIn(Strict):
    amount: SignedAmount
    reason: Annotated[str, Field(min_length=1, max_length=200, description="Why, for the ledger.")]


class MileageAdjustRequest(Strict):
    request: MileageAdjustIn
