"""Request and response shapes of coupons (Admin API and Shop API)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from openmall.kernel.money import Money, MoneyIn, _no_float
from openmall.kernel.schemas import NoControls, Partial, Strict
from openmall.kernel.timeutil import MallDateTime

Kind = Literal["PRODUCT", "CART", "SHIPPING"]
DiscountType = Literal["FIXED", "PERCENT"]
IssueType = Literal["ISSUED", "DOWNLOAD"]
Status = Literal["ACTIVE", "STOPPED"]
Unusable = Literal["USED", "NOT_STARTED", "EXPIRED", "STOPPED"]

MAX_TARGETS = 100  # products, categories or option values named by one coupon
MAX_ISSUE_MEMBERS = 500  # members issued to in one call
RowNo = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Rate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=0, le=100, decimal_places=2, allow_inf_nan=False, description="Percent off, more than 0 and at most 100."),
]
IssueCount = Annotated[int, Field(strict=True, ge=1, le=100_000_000)]
CouponName = Annotated[str, Field(min_length=1, max_length=100), NoControls]


class OptionValue(Strict):
    """An option value a line must have, e.g. ``{"name": "Color", "value": "White"}`` (matched exactly)."""

    name: Annotated[str, Field(min_length=1, max_length=50), NoControls]
    value: Annotated[str, Field(min_length=1, max_length=50), NoControls]


ProductNos = Annotated[list[RowNo], Field(max_length=MAX_TARGETS)]
OptionValues = Annotated[list[OptionValue], Field(max_length=MAX_TARGETS)]

_TARGETS = (
    "Targets: empty lists apply to everything. A line matches when its product is one of `target_product_nos` or in "
    "one of `target_category_nos` (either, when both are given) and, when `target_option_values` is given, it has "
    "at least one of those option values."
)


# ---- input ---------------------------------------------------------------------------------------


class CouponIn(Strict):
    __doc__ = "A new coupon. " + _TARGETS

    name: CouponName
    kind: Kind = Field(description="PRODUCT (off one item line), CART (off the order) or SHIPPING (off shipping).")
    discount_type: DiscountType = Field(description="FIXED: `discount_amount` off; PERCENT: `discount_rate` % off.")
    discount_amount: MoneyIn | None = Field(default=None, description="FIXED only: the amount off, more than 0.")
    discount_rate: Rate | None = Field(default=None, description="PERCENT only: percent off, 0 < rate ≤ 100.")
    max_discount: MoneyIn | None = Field(default=None, description="PERCENT only: the most it takes off.")
    min_order_amount: MoneyIn = Field(
        default=Decimal("0"), description="PRODUCT: the line's amount; CART and SHIPPING: the order's product amount."
    )
    target_product_nos: ProductNos = Field(default_factory=list)
    target_category_nos: ProductNos = Field(default_factory=list)
    target_option_values: OptionValues = Field(default_factory=list)
    issue_type: IssueType = Field(
        default="ISSUED", description="ISSUED: the shop issues it; DOWNLOAD: members take it."
    )
    starts_at: AwareDatetime | None = Field(default=None, description="When it becomes usable; default now.")
    ends_at: AwareDatetime = Field(description="When it stops being usable (after starts_at).")
    max_issue_count: IssueCount | None = Field(
        default=None, description="How many may be issued in all; null: no limit."
    )
    status: Status = "ACTIVE"


class CouponUpdate(Partial):
    __doc__ = "A partial change: omitted fields stay as they are. " + _TARGETS

    NULLABLE: ClassVar[frozenset[str]] = frozenset(
        {"discount_amount", "discount_rate", "max_discount", "max_issue_count"}
    )

    name: CouponName | None = None
    kind: Kind | None = None
    discount_type: DiscountType | None = None
    discount_amount: MoneyIn | None = None
    discount_rate: Rate | None = None
    max_discount: MoneyIn | None = Field(default=None, description="null: no cap.")
    min_order_amount: MoneyIn | None = None
    target_product_nos: ProductNos | None = None
    target_category_nos: ProductNos | None = None
    target_option_values: OptionValues | None = None
    issue_type: IssueType | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    max_issue_count: IssueCount | None = Field(default=None, description="null: no limit.")
    status: Status | None = Field(default=None, description="STOPPED: nobody can download or use it any more.")


class IssueIn(Strict):
    member_nos: Annotated[list[RowNo], Field(min_length=1, max_length=MAX_ISSUE_MEMBERS)]


class CouponCreateRequest(Strict):
    request: CouponIn


class CouponUpdateRequest(Strict):
    request: CouponUpdate


class IssueRequest(Strict):
    request: IssueIn


# ---- output --------------------------------------------------------------------------------------


class OptionValueOut(BaseModel):
    name: str
    value: str


class Benefit(BaseModel):
    """What a coupon takes off and where it applies."""

    coupon_no: int
    name: str
    kind: Kind
    discount_type: DiscountType
    discount_amount: Money | None = Field(description="FIXED: the amount off; null for PERCENT.")
    discount_rate: Money | None = Field(description="PERCENT: percent off; null for FIXED.")
    max_discount: Money | None = Field(description="PERCENT: the most it takes off; null: no cap.")
    min_order_amount: Money
    target_product_nos: list[int]
    target_category_nos: list[int]
    target_option_values: list[OptionValueOut]
    starts_at: MallDateTime
    ends_at: MallDateTime


class AdminCouponOut(Benefit):
    issue_type: IssueType
    status: Status
    max_issue_count: int | None
    issued_count: int
    used_count: int
    created_date: MallDateTime
    updated_date: MallDateTime


class ShopCouponOut(Benefit):
    """A coupon a member may download now."""

    remaining: int | None = Field(description="How many can still be downloaded; null: no limit.")
    downloaded: bool = Field(description="Whether the calling member holds it already (false for guests).")


class MemberCouponOut(Benefit):
    """One of the member's coupons."""

    issued_coupon_no: int = Field(description="What an order sheet's `calculate` names to use it.")
    issued_at: MallDateTime
    used_at: MallDateTime | None
    used_order_id: str | None
    usable: bool = Field(description="Usable now: not used, within its period, and not stopped.")
    unusable_reason: Unusable | None


class IssuedCouponOut(BaseModel):
    issued_coupon_no: int
    coupon_no: int
    member_no: int
    issued_at: MallDateTime
    used_at: MallDateTime | None
    used_order_id: str | None


class AdminCouponOne(BaseModel):
    coupon: AdminCouponOut


class AdminCouponList(BaseModel):
    coupons: list[AdminCouponOut]


class DeletedCouponOut(BaseModel):
    coupon_no: int
    result: Literal["DELETED", "STOPPED"] = Field(
        description="DELETED: it was never issued, so it is gone; STOPPED: issued copies keep their history."
    )


class DeletedCoupon(BaseModel):
    coupon: DeletedCouponOut


class IssueResultOut(BaseModel):
    coupon_no: int
    issued: list[IssuedCouponOut] = Field(description="The copies issued by this call.")
    already_issued: list[int] = Field(description="Members who held the coupon already (left as they were).")


class IssueResult(BaseModel):
    issue: IssueResultOut


class IssuedCouponList(BaseModel):
    issued_coupons: list[IssuedCouponOut]


class ShopCouponList(BaseModel):
    coupons: list[ShopCouponOut]


class MemberCouponOne(BaseModel):
    coupon: MemberCouponOut


class MemberCouponList(BaseModel):
    coupons: list[MemberCouponOut]
