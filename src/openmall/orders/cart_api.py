"""Shop API of the cart and the order sheets, and the Admin API of the shipping policy. Thin: parse, call the
services (``orders.cart``, ``orders.sheets``, ``orders.shipping``), render.

A member sends ``Authorization: Bearer om_ma_…``; a guest's cart is found by the storefront's ``X-Guest-Key``.
Order sheets are for members only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from openmall.customers.auth import CurrentMember, MaybeMember
from openmall.kernel.errors import ERROR_RESPONSES, ErrorOut
from openmall.kernel.params import MAX_INT, parse_int_list
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.oauth.guard import AdminRouter
from openmall.orders import cart, sheets, shipping
from openmall.orders.schemas import (
    CalculateIn,
    CartAddIn,
    CartChangeIn,
    CartItemOut,
    CartList,
    CartOne,
    CartOut,
    DeletedCartItems,
    OptionValueOut,
    OrderSheetOne,
    SheetCreateIn,
    ShippingPolicyOne,
    ShippingPolicyOut,
    ShippingPolicyRequest,
    SubtotalOne,
    SubtotalOut,
)

SHOP_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "No live member token (or, for the cart, no X-Guest-Key either)"},
    409: {"model": ErrorOut, "description": "Not enough stock, not on sale, or the sheet is ordered or expired"},
}
router = APIRouter(prefix="/api/v2/shop", tags=["Shop API: cart and order sheets"], responses=SHOP_ERRORS)
admin_router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: shipping"])


async def _guest_key(
    request: Request,
    member: MaybeMember,
    raw: Annotated[str | None, Header(alias="X-Guest-Key", description=f"A guest's cart: {cart.GUEST_KEY_HINT}. "
                                      "Ignored with a member token.")] = None,
) -> str | None:  # fmt: skip
    if member is not None:
        return None  # a member's cart: the header is ignored, whatever it holds
    return cart.guest_key_digest(request.app.state.key, raw)


GuestKey = Annotated[str | None, Depends(_guest_key)]  # the key as stored (its digest)
CartItemNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The cart line's number.")]
CartItemNos = Annotated[str | None, Query(description="Cart item numbers, comma-separated.", examples=["1,2"])]
SheetNo = Annotated[str, Path(min_length=1, max_length=32, description="The order sheet's number.")]
TrackingKey = Annotated[
    str | None, Query(alias="trackingKey", description="The campaign's tracking key (the seed's name).")
]


def _item(line: cart.CartLine) -> CartItemOut:
    i, s = line.item, line.sellable
    problem = line.problem
    return CartItemOut(
        cart_item_no=i.cart_item_no, product_no=s.product_no, product_name=s.product_name, variant_no=s.variant_no,
        variant_code=s.variant_code, option_text=s.option_text,
        option_values=[OptionValueOut(name=n, value=v) for n, v in s.option_values], quantity=i.quantity,
        sale_price=s.sale_price, immediate_discount=s.immediate_discount, option_price=s.option_price,
        unit_price=s.unit_price, line_amount=s.unit_price * i.quantity, stock_quantity=max(s.stock, 0),
        in_stock=s.stock >= i.quantity, selling=s.displayed and s.selling, orderable=problem is None, reason=problem,
        selected=i.selected, created_at=i.created_at, updated_at=i.updated_at,
    )  # fmt: skip


async def _one_line(session: DbSession, owner: cart.Owner, cart_item_no: int, tz: str, status: int = 200
                    ) -> JSONResponse:  # fmt: skip
    (line,) = await cart.list_lines(session, owner, [cart_item_no])
    return JSONResponse(CartOne(cart_item=_item(line)).model_dump(context={"timezone": tz}), status_code=status)


# ---- cart ------------------------------------------------------------------------------------------------


@router.get("/cart", response_model=CartList, summary="The cart: the member's, or the guest's of X-Guest-Key")
async def get_cart(
    mall: CurrentMall, session: DbSession, member: MaybeMember, guest_key: GuestKey = None
) -> JSONResponse:
    """Each line with its product, option text, unit price, quantity and line amount, whether the stock covers
    it and whether it is still on sale, and whether it is selected (counted in the selected-items subtotal)."""
    lines = await cart.list_lines(session, cart.owner_of(member, guest_key))
    items = [_item(line) for line in lines]
    out = CartOut(cart_items=items, count=len(items), total_quantity=sum(i.quantity for i in items),
                  total_amount=sum((i.line_amount for i in items), Decimal("0")))  # fmt: skip
    return JSONResponse(CartList(cart=out).model_dump(context={"timezone": mall.timezone}))


@router.post("/cart", status_code=201, response_model=CartOne, summary="Add a variant to the cart")
async def add_to_cart(
    mall: CurrentMall, session: DbSession, member: MaybeMember, body: CartAddIn, guest_key: GuestKey = None
) -> JSONResponse:
    """Adds to the variant's line when it is in the cart already. The line may not hold more than the stock
    (409, `more_info.stock_quantity`); a variant that is not in this shop is a 404, one not on sale a 409."""
    owner = cart.owner_of(member, guest_key)
    item = await cart.add(session, owner, body.variant_no, body.quantity)
    return await _one_line(session, owner, item.cart_item_no, mall.timezone, 201)


@router.put("/cart/{cart_item_no}", response_model=CartOne, summary="Change a cart line's quantity or selection")
async def change_cart_item(
    mall: CurrentMall, session: DbSession, member: MaybeMember, cart_item_no: CartItemNo, body: CartChangeIn,
    guest_key: GuestKey = None,
) -> JSONResponse:  # fmt: skip
    """A quantity above the stock is a 409 (lowering a line is always allowed)."""
    owner = cart.owner_of(member, guest_key)
    await cart.change(session, owner, cart_item_no, quantity=body.quantity, selected=body.selected)
    return await _one_line(session, owner, cart_item_no, mall.timezone)


@router.delete("/cart/{cart_item_no}", response_model=DeletedCartItems, summary="Remove a cart line")
async def delete_cart_item(
    session: DbSession, member: MaybeMember, cart_item_no: CartItemNo, guest_key: GuestKey = None
) -> JSONResponse:
    removed = await cart.remove(session, cart.owner_of(member, guest_key), [cart_item_no])
    return JSONResponse({"cart_item_nos": removed})


@router.delete("/cart", response_model=DeletedCartItems, summary="Remove several cart lines")
async def delete_cart_items(
    session: DbSession, member: MaybeMember, cart_item_nos: CartItemNos = None, guest_key: GuestKey = None
) -> JSONResponse:
    """All or nothing: a number that is not a line of this cart is a 404 and nothing is removed."""
    nos = parse_int_list("cart_item_nos", cart_item_nos)
    removed = await cart.remove(session, cart.owner_of(member, guest_key), nos)
    return JSONResponse({"cart_item_nos": removed})


@router.get("/cart/subtotal", response_model=SubtotalOne, summary="The subtotal of the selected cart items")
async def cart_subtotal(
    session: DbSession, member: MaybeMember, cart_item_nos: CartItemNos = None, guest_key: GuestKey = None
) -> JSONResponse:
    """The lines `cart_item_nos`, else the lines marked `selected`; priced with the member group's discount and
    the shipping fee to an address that is not remote, without coupons or mileage. Lines that cannot be ordered
    now are left out (`left_out_cart_item_nos`)."""
    nos = parse_int_list("cart_item_nos", cart_item_nos) if cart_item_nos is not None else None
    r = await cart.subtotal(session, cart.owner_of(member, guest_key), nos or None)
    out = SubtotalOut(
        cart_item_nos=[c.item.cart_item_no for c in r.counted],
        left_out_cart_item_nos=[c.item.cart_item_no for c in r.left_out],
        total_quantity=sum(c.item.quantity for c in r.counted), sale_amount=r.total("sale_amount"),
        immediate_discount=r.total("immediate_discount"), option_amount=r.total("option_amount"),
        member_group=r.group_name, additional_discount=r.total("additional_discount"),
        product_amount=r.product_amount, shipping_fee=r.shipping_fee, total_amount=r.product_amount + r.shipping_fee,
    )  # fmt: skip
    return JSONResponse(SubtotalOne(subtotal=out).model_dump())


# ---- order sheets ------------------------------------------------------------------------------------------


async def _sheet(session: DbSession, member: Any, q: sheets.Quote, tz: str, status: int = 200) -> JSONResponse:
    out = OrderSheetOne(order_sheet=await sheets.view(session, member, q))
    return JSONResponse(out.model_dump(context={"timezone": tz}), status_code=status)


@router.post("/order-sheets", status_code=201, response_model=OrderSheetOne,
             summary="Make an order sheet from cart items or direct items")  # fmt: skip
async def create_order_sheet(
    mall: CurrentMall, session: DbSession, member: CurrentMember, body: SheetCreateIn, tracking_key: TrackingKey = None
) -> JSONResponse:
    """Members only. The campaign's `trackingKey` comes as the query parameter (as the seed names it) or as
    `tracking_key` in the body; it is kept on the sheet and then on the order. Every item must be orderable now
    (else 409 listing them). The sheet expires 24 hours after it is made; `order_sheet_no` is random."""
    key = sheets.check_tracking_key(tracking_key, body.tracking_key)
    channel = sheets.check_channel_type(body.channel_type)
    items = [(i.variant_no, i.quantity) for i in body.items] if body.items is not None else None
    sheet = await sheets.create_sheet(session, member, cart_item_nos=body.cart_item_nos, items=items,
                                      tracking_key=key, channel_type=channel)  # fmt: skip
    return await _sheet(session, member, await sheets.quote(session, member, sheet), mall.timezone, 201)


@router.get("/order-sheets/{order_sheet_no}", response_model=OrderSheetOne, summary="An order sheet, priced now")
async def get_order_sheet(
    mall: CurrentMall, session: DbSession, member: CurrentMember, order_sheet_no: SheetNo
) -> JSONResponse:
    """Items grouped by shipping, each with whether it can still be ordered and why not (`reason`: DELETED,
    HIDDEN, NOT_SELLING, SOLD_OUT, NOT_ENOUGH_STOCK); the price under the last calculate's choices; the member's
    usable coupons per kind with the items each applies to; the mileage balance; the default address.
    Another member's sheet is a 404."""
    sheet = await sheets.get_sheet(session, member.member_no, order_sheet_no)
    return await _sheet(session, member, await sheets.quote(session, member, sheet), mall.timezone)


@router.post("/order-sheets/{order_sheet_no}/calculate", response_model=OrderSheetOne,
             summary="Price the sheet with coupons, mileage and a shipping address")  # fmt: skip
async def calculate_order_sheet(
    mall: CurrentMall, session: DbSession, member: CurrentMember, order_sheet_no: SheetNo, body: CalculateIn
) -> JSONResponse:
    """Per item: sale price, immediate discount, option price, the member group's additional discount, the
    product coupon, and the basis amount; then the cart coupon, the shipping fee (base fee, free from an amount,
    remote-area surcharge by zip code), the shipping coupon, mileage, and the amount to pay. The choices and the
    result are kept on the sheet (payment checks the amount against them). A coupon that is not the member's or
    does not apply, more mileage than owned or than left to pay, or an unknown address_no is a 422 naming the
    field, and nothing is kept; an ordered or expired sheet is a 409."""
    sheet = await sheets.get_sheet(session, member.member_no, order_sheet_no)
    choices = sheets.Choices(
        product_coupons=tuple((p.variant_no, p.issued_coupon_no) for p in body.product_coupons),
        cart_coupon_no=body.cart_coupon_no, shipping_coupon_no=body.shipping_coupon_no, mileage=body.mileage,
        shipping_address=body.shipping_address.model_dump() if body.shipping_address is not None else None,
        address_no=body.address_no,
    )  # fmt: skip
    return await _sheet(session, member, await sheets.calculate(session, member, sheet, choices), mall.timezone)


# ---- shipping policy (Admin API) ---------------------------------------------------------------------------


def _policy(p: shipping.MallShipping) -> JSONResponse:
    out = ShippingPolicyOut(base_fee=p.base_fee, free_over=p.free_over, remote_surcharge=p.remote_surcharge,
                            remote_zip_prefixes=list(p.remote_zip_prefixes), is_default=p.is_default)  # fmt: skip
    return JSONResponse(ShippingPolicyOne(shipping_policy=out).model_dump())


@admin_router.get("/shipping-policy", scope="mall.read_shipping", response_model=ShippingPolicyOne,
                  summary="The mall's shipping fee policy")  # fmt: skip
async def get_shipping_policy(session: DbSession) -> JSONResponse:
    """The base fee per shipping group, the amount from which it is waived, and the remote-area surcharge with the
    zip code prefixes it applies to. A mall without its own policy answers the defaults (`is_default`)."""
    return _policy(await shipping.get_policy(session))


@admin_router.put("/shipping-policy", scope="mall.write_shipping", response_model=ShippingPolicyOne,
                  summary="Set the mall's shipping fee policy")  # fmt: skip
async def put_shipping_policy(session: DbSession, body: ShippingPolicyRequest) -> JSONResponse:
    """Replaces the whole policy. Amounts are whole (decimal strings); `free_over: null` never waives the fee."""
    r = body.request
    return _policy(await shipping.put_policy(session, base_fee=r.base_fee, free_over=r.free_over,
                                             remote_surcharge=r.remote_surcharge,
                                             remote_zip_prefixes=r.remote_zip_prefixes))  # fmt: skip
