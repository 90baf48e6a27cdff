"""Request and response shapes of the cart, the order sheets, payments, orders and claims, and the shipping policy.

Shop API bodies are flat (as a storefront sends them); Admin API bodies come wrapped as ``{"request": {...}}``.
Money is a decimal string on the wire.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from openmall.kernel.money import MAX_AMOUNT, Money, MoneyIn, _no_float
from openmall.kernel.params import MAX_INT
from openmall.kernel.schemas import NoControls, Strict
from openmall.kernel.timeutil import MallDateTime
from openmall.orders import states
from openmall.orders.cart import MAX_QUANTITY

RowNo = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
Quantity = Annotated[
    int, Field(strict=True, ge=1, le=MAX_QUANTITY, description=f"An integer from 1 to {MAX_QUANTITY}.")
]


def _whole(value: Decimal) -> Decimal:
    if value != value.to_integral_value():
        raise ValueError(f"must be a whole amount (no fraction); got {value}")
    return value


WholeMoneyIn = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    AfterValidator(_whole),
    Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False,
          description='A whole amount as a decimal string, e.g. "3000" (KRW has no minor unit).'),
]  # fmt: skip


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- cart ------------------------------------------------------------------------------------------------


class CartAddIn(Strict):
    variant_no: RowNo = Field(description="The variant (product option) to add.")
    quantity: Quantity = 1


class CartChangeIn(Strict):
    quantity: Quantity | None = Field(default=None, description="The line's new quantity (checked against stock).")
    selected: Annotated[bool, Field(strict=True)] | None = Field(
        default=None, description="Whether the line counts in the selected-items subtotal."
    )

    @model_validator(mode="after")
    def _something(self) -> CartChangeIn:
        if self.quantity is None and self.selected is None:
            raise ValueError("send quantity, selected or both")
        return self


class OptionValueOut(BaseModel):
    name: str
    value: str


class CartItemOut(Out):
    cart_item_no: int
    product_no: int
    product_name: str
    variant_no: int
    variant_code: str
    option_text: str = Field(description='The option values as one text, e.g. "Color: white / Size: S".')
    option_values: list[OptionValueOut]
    quantity: int
    sale_price: Money = Field(description="The product's price, per unit.")
    immediate_discount: Money = Field(description="Per unit (the catalog has none yet: 0).")
    option_price: Money = Field(description="The variant's additional amount, per unit (may be negative).")
    unit_price: Money = Field(description="sale_price − immediate_discount + option_price")
    line_amount: Money = Field(description="unit_price × quantity, before member and coupon discounts")
    stock_quantity: int = Field(description="What is in stock now.")
    in_stock: bool = Field(description="The stock covers the line's quantity.")
    selling: bool = Field(description="Still shown and on sale.")
    orderable: bool = Field(description="Can be ordered now; `reason` says why not.")
    reason: str | None = Field(description="HIDDEN, NOT_SELLING, SOLD_OUT, NOT_ENOUGH_STOCK or PRICE_NOT_WHOLE")
    selected: bool
    created_at: MallDateTime
    updated_at: MallDateTime


class CartOut(BaseModel):
    cart_items: list[CartItemOut]
    count: int = Field(description="How many lines.")
    total_quantity: int
    total_amount: Money = Field(description="Σ line_amount of every line, before discounts.")


class CartOne(BaseModel):
    cart_item: CartItemOut


class CartList(BaseModel):
    cart: CartOut


class DeletedCartItems(BaseModel):
    cart_item_nos: list[int]


class SubtotalOut(BaseModel):
    cart_item_nos: list[int] = Field(description="The lines counted.")
    left_out_cart_item_nos: list[int] = Field(description="Chosen but not orderable now, so not counted.")
    total_quantity: int
    sale_amount: Money
    immediate_discount: Money
    option_amount: Money
    member_group: str | None
    additional_discount: Money = Field(description="The member group's discount.")
    product_amount: Money = Field(description="Σ basis amount: sale − immediate + option − additional.")
    shipping_fee: Money = Field(description="To an address that is not remote.")
    total_amount: Money = Field(description="product_amount + shipping_fee (no coupons, no mileage).")


class SubtotalOne(BaseModel):
    subtotal: SubtotalOut


# ---- order sheets -----------------------------------------------------------------------------------------


class DirectItemIn(Strict):
    variant_no: RowNo
    quantity: Quantity


class SheetCreateIn(Strict):
    cart_item_nos: Annotated[list[RowNo], Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Order these lines of the member's cart..."
    )
    items: Annotated[list[DirectItemIn], Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="...or these variants directly (buy now)."
    )
    tracking_key: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="The campaign's tracking key (also accepted as the query parameter trackingKey)."
    )
    channel_type: Annotated[str, Field(max_length=30)] | None = Field(default=None, examples=["KAKAO_TALK"])

    @model_validator(mode="after")
    def _one_source(self) -> SheetCreateIn:
        if (self.cart_item_nos is None) == (self.items is None):
            raise ValueError("send either cart_item_nos or items, not both")
        return self


class AddressIn(Strict):
    receiver_name: Annotated[str, Field(min_length=1, max_length=100), NoControls]
    receiver_phone: Annotated[str, Field(min_length=7, max_length=20, pattern=r"^\+?[0-9][0-9 -]{5,18}[0-9]$")]
    zip_code: Annotated[str, Field(min_length=3, max_length=10, pattern=r"^[0-9][0-9-]*$")]
    address1: Annotated[str, Field(min_length=1, max_length=300)]
    address2: Annotated[str, Field(max_length=300)] = ""


class ProductCouponIn(Strict):
    variant_no: RowNo = Field(description="The sheet item (its variant) the coupon goes on.")
    issued_coupon_no: RowNo


class CalculateIn(Strict):
    product_coupons: Annotated[list[ProductCouponIn], Field(max_length=100)] = Field(default_factory=list)
    cart_coupon_no: RowNo | None = None
    shipping_coupon_no: RowNo | None = None
    mileage: WholeMoneyIn = Field(default=Decimal("0"), description="Mileage to use, a whole amount.")
    shipping_address: AddressIn | None = None
    address_no: RowNo | None = Field(default=None, description="One of the member's saved addresses.")

    @model_validator(mode="after")
    def _one_address(self) -> CalculateIn:
        if self.shipping_address is not None and self.address_no is not None:
            raise ValueError("send shipping_address or address_no, not both")
        return self


class SheetItemOut(BaseModel):
    variant_no: int
    product_no: int
    product_name: str
    option_text: str
    option_values: list[OptionValueOut]
    quantity: int
    cart_item_no: int | None
    still_valid: bool
    reason: str | None = Field(description="DELETED, HIDDEN, NOT_SELLING, SOLD_OUT, NOT_ENOUGH_STOCK, PRICE_NOT_WHOLE")
    reason_message: str | None
    sale_price: Money | None = Field(description="Per unit.")
    immediate_discount: Money | None = Field(description="Per unit.")
    option_price: Money | None = Field(description="Per unit.")
    sale_amount: Money | None = Field(description="The line: sale_price × quantity.")
    immediate_discount_amount: Money | None
    option_amount: Money | None
    additional_discount: Money | None = Field(description="The member group's discount on the line.")
    product_coupon_discount: Money | None
    product_coupon_no: int | None
    basis_amount: Money | None = Field(
        description="sale − immediate discount ± option − additional discount − product coupon (free gifts use it)."
    )
    cart_coupon_share: Money | None
    paid_amount: Money | None = Field(description="basis_amount − cart_coupon_share")


class ShippingGroupOut(BaseModel):
    shipping_group: str
    shipping_fee: Money | None
    items: list[SheetItemOut]


class AppliedCouponOut(BaseModel):
    issued_coupon_no: int
    kind: str
    variant_no: int | None
    discount: Money


class UsableCouponOut(BaseModel):
    issued_coupon_no: int
    coupon_no: int
    name: str
    kind: str
    discount_type: str
    discount_amount: Money
    discount_rate: Money
    max_discount: Money | None
    min_order_amount: Money
    ends_at: MallDateTime
    applicable_variant_nos: list[int] = Field(description="The sheet items it can apply to.")


class UsableCouponsOut(BaseModel):
    product: list[UsableCouponOut]
    cart: list[UsableCouponOut]
    shipping: list[UsableCouponOut]


class AddressOut(BaseModel):
    address_no: int | None
    receiver_name: str
    receiver_phone: str
    zip_code: str
    address1: str
    address2: str
    remote: bool | None = Field(default=None, description="A remote area: the shipping surcharge applies.")


class ShippingOut(BaseModel):
    base_fee: Money
    free_over: Money | None
    remote_surcharge: Money
    remote: bool
    shipping_fee: Money


class PriceOut(BaseModel):
    sale_amount: Money
    immediate_discount: Money
    option_amount: Money
    additional_discount: Money
    product_coupon_discount: Money
    product_amount: Money = Field(description="Σ basis_amount")
    cart_coupon_discount: Money
    shipping: ShippingOut
    shipping_fee: Money
    shipping_coupon_discount: Money
    mileage: Money
    amount_to_pay: Money = Field(
        description="product_amount − cart_coupon_discount + shipping_fee − shipping_coupon_discount − mileage"
    )


class MemberGroupOut(BaseModel):
    name: str
    discount_rate: Money


class MileageOut(BaseModel):
    balance: Money
    used: Money


class ChoicesOut(BaseModel):
    product_coupons: list[ProductCouponIn]
    cart_coupon_no: int | None
    shipping_coupon_no: int | None
    mileage: Money
    shipping_address: AddressIn | None
    address_no: int | None


class OrderSheetOut(BaseModel):
    order_sheet_no: str
    status: str = Field(description="OPEN, or ORDERED once paid")
    order_id: str | None
    tracking_key: str | None
    channel_type: str | None
    created_at: MallDateTime
    expires_at: MallDateTime
    expired: bool
    orderable: bool = Field(description="True when invalid_reasons is empty.")
    invalid_reasons: list[str]
    shipping_groups: list[ShippingGroupOut]
    price: PriceOut | None = Field(description="None when no item can be priced.")
    coupons: list[AppliedCouponOut]
    usable_coupons: UsableCouponsOut
    member_group: MemberGroupOut | None
    mileage: MileageOut
    address: AddressOut | None = Field(description="The address priced: chosen, or the default one.")
    default_address: AddressOut | None
    choices: ChoicesOut


class OrderSheetOne(BaseModel):
    order_sheet: OrderSheetOut


# ---- orders: as the Shop and Admin APIs (and the events) show them ----------------------------------------


class OrderOptionOut(BaseModel):
    order_option_no: int
    product_no: int
    variant_no: int
    product_name: str
    option_text: str
    quantity: int
    claimed_quantity: int = Field(description="Units cancelled or returned so far")
    status: str
    sale_price: Money = Field(description="Unit sale price")
    immediate_discount: Money = Field(description="For the line")
    option_price: Money = Field(description="Unit option price (may be negative)")
    additional_discount: Money = Field(description="The member group's discount, for the line")
    product_coupon_discount: Money
    cart_coupon_share: Money = Field(description="This line's part of the cart coupon")
    basis_amount: Money = Field(description="sale − immediate discount + option − additional − product coupon")
    shipping_group: str


class ShipmentOut(BaseModel):
    shipment_no: int
    carrier: str
    tracking_number: str
    created_at: MallDateTime


class OrderOut(BaseModel):
    order_id: str = Field(examples=["20261124-0000001"])
    order_no: int
    member_no: int | None
    order_sheet_no: str
    status: str = Field(description="See the state machine: DEPOSIT_WAIT, PAY_DONE, … BUY_CONFIRM, claims")
    next_statuses: list[str] = Field(description="What the order's open options may go to next")
    pay_type: str = Field(examples=["CARD", "BANK_TRANSFER"])
    tracking_key: str | None = Field(description="The campaign tracking key of the order sheet")
    channel_type: str | None
    product_amount: Money = Field(description="Σ basis amounts")
    cart_coupon_discount: Money
    shipping_fee: Money
    shipping_coupon_discount: Money
    mileage_used: Money
    pay_amount: Money = Field(description="What the buyer paid (or is to deposit)")
    refunded_amount: Money
    refunded_mileage: Money
    mileage_earned: Money
    coupons: list[dict[str, Any]]
    orderer: dict[str, Any]
    shipping_address: dict[str, Any]
    deposit: dict[str, Any] = Field(description="Bank transfer: bank, account, holder, depositor, due_at")
    created_at: MallDateTime
    paid_at: MallDateTime | None
    confirmed_at: MallDateTime | None
    updated_at: MallDateTime
    options: list[OrderOptionOut]
    shipments: list[ShipmentOut]


class ClaimOut(BaseModel):
    claim_no: int
    order_id: str
    kind: str = Field(examples=["CANCEL", "RETURN", "EXCHANGE"])
    status: str = Field(examples=["REQUESTED", "DONE", "REJECTED"])
    items: list[dict[str, Any]] = Field(description="[{order_option_no, quantity, from_status}]")
    reason: str
    refund_amount: Money
    refund_mileage: Money
    restored_coupons: list[int]
    created_at: MallDateTime
    completed_at: MallDateTime | None


# ---- payments (Shop API) ----------------------------------------------------------------------------------


class ReserveIn(Strict):
    order_sheet_no: Annotated[str, Field(min_length=1, max_length=32)]
    pay_type: Literal["CARD", "BANK_TRANSFER"]
    amount: MoneyIn = Field(description="The amount to pay the buyer saw (the last calculate's amount_to_pay).")


class ConfirmIn(Strict):
    payment_key: Annotated[str, Field(min_length=1, max_length=40)]
    card_number: Annotated[str, Field(max_length=30)] | None = Field(
        default=None, description="CARD only. The test gateway: 4242424242424242 approves, 4000000000000002 "
        "declines (card_declined), 4000000000009995 declines (insufficient_funds).",
    )  # fmt: skip
    depositor_name: Annotated[str, Field(max_length=100), NoControls] | None = Field(
        default=None, description="BANK_TRANSFER only: the name the deposit will come from (default: the member's)."
    )


class PaymentOut(BaseModel):
    payment_key: str
    order_sheet_no: str
    pay_type: str
    amount: Money
    status: str
    order_id: str | None


class PaymentOne(BaseModel):
    payment: PaymentOut


# ---- orders and claims (Shop API; the Admin API answers the same shapes) ----------------------------------


class OrderOne(BaseModel):
    order: OrderOut


class OrderList(BaseModel):
    orders: list[OrderOut]


class ClaimItemIn(Strict):
    order_option_no: Annotated[int, Field(ge=1, le=2**63 - 1)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000_000)]


class ClaimIn(Strict):
    kind: Literal["CANCEL", "RETURN", "EXCHANGE"]
    items: Annotated[list[ClaimItemIn], Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(max_length=300)] = ""


class ClaimWithOrder(BaseModel):
    claim: ClaimOut
    order: OrderOut


class ClaimList(BaseModel):
    claims: list[ClaimOut]


# ---- order status, shipments and claims (Admin API) -------------------------------------------------------


class StatusIn(Strict):
    status: str = Field(description=f"One of {', '.join(states.ADMIN_STATUSES)}.", examples=["PRODUCT_PREPARE"])
    order_option_nos: list[Annotated[int, Field(ge=1, le=MAX_INT)]] | None = Field(
        default=None, max_length=100, description="Only these options (default: every open option)."
    )


class StatusRequest(Strict):
    request: StatusIn


class ShipmentIn(Strict):
    carrier: Annotated[str, Field(min_length=1, max_length=50)] = Field(examples=["CJ Logistics"])
    tracking_number: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9-]+$")]


class ShipmentRequest(Strict):
    request: ShipmentIn


class RejectIn(Strict):
    reason: Annotated[str, Field(max_length=200)] = ""


class RejectRequest(Strict):
    request: RejectIn = Field(default_factory=RejectIn)


class OrderCount(BaseModel):
    count: int


# ---- shipping policy (Admin API) --------------------------------------------------------------------------


ZipPrefix = Annotated[str, Field(pattern=r"^[0-9]{1,5}$", description="The start of the zip codes, e.g. 63.")]


class ShippingPolicyIn(Strict):
    base_fee: WholeMoneyIn
    free_over: WholeMoneyIn | None = Field(description="A shipping group's product amount from which the base fee "
                                                       "is waived; null: never.")  # fmt: skip
    remote_surcharge: WholeMoneyIn = Decimal("0")
    remote_zip_prefixes: Annotated[list[ZipPrefix], Field(max_length=200)] = Field(default_factory=list)


class ShippingPolicyRequest(Strict):
    request: ShippingPolicyIn


class ShippingPolicyOut(BaseModel):
    base_fee: Money
    free_over: Money | None
    remote_surcharge: Money
    remote_zip_prefixes: list[str]
    is_default: bool = Field(description="The mall has no policy of its own: these are openmall's defaults.")


class ShippingPolicyOne(BaseModel):
    shipping_policy: ShippingPolicyOut


# ---- the mall's account for bank transfers (Admin API) -----------------------------------------------------


class BankAccountIn(Strict):
    bank: Annotated[str, Field(min_length=1, max_length=50, description="The bank's name, as buyers know it.")]
    account_number: Annotated[
        str,
        Field(
            min_length=4,
            max_length=40,
            pattern=r"^[0-9][0-9 -]*[0-9]$",
            description="Digits, with dashes or spaces as the bank writes it.",
        ),
    ]
    holder: Annotated[str, Field(min_length=1, max_length=100, description="The account holder's name.")]


class BankAccountRequest(Strict):
    request: BankAccountIn


class BankAccountOut(BaseModel):
    bank: str
    account_number: str
    holder: str


class BankAccountOne(BaseModel):
    bank_account: BankAccountOut | None = Field(description="null: the mall takes no bank transfers.")
