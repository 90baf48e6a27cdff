"""Shop API of payments, orders and claims: what a headless storefront calls to pay an order sheet, to show the
member's orders, to confirm a purchase and to cancel, return or exchange. Thin: parse, call the services, render.
Members only (``Authorization: Bearer om_ma_…``); another member's order is a 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from openmall.customers.auth import CurrentMember
from openmall.kernel.errors import ERROR_RESPONSES, ErrorOut
from openmall.kernel.pagination import PageParams
from openmall.kernel.representation import View
from openmall.kernel.tenancy import CurrentMall, DbSession
from openmall.orders import claims, payments, service
from openmall.orders.schemas import (
    ClaimIn,
    ClaimList,
    ClaimOut,
    ClaimWithOrder,
    ConfirmIn,
    OrderList,
    OrderOne,
    OrderOut,
    PaymentOne,
    PaymentOut,
    ReserveIn,
)

SHOP_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "No live member token"},
    409: {"model": ErrorOut, "description": "Paid already, the amount changed, sold out, or a state that forbids it"},
}
router = APIRouter(prefix="/api/v2/shop", tags=["Shop API: payments and orders"], responses=SHOP_ERRORS)

OrderId = Annotated[str, Path(min_length=1, max_length=20, description="The order id, e.g. 20261124-0000001.")]
StartDate = Annotated[str | None, Query(description="From this day (YYYY-MM-DD, the mall's time zone), included.")]
EndDate = Annotated[str | None, Query(description="To this day (YYYY-MM-DD, the mall's time zone), included.")]


def order_response(mall: Any, b: service.Bundle, status: int = 200) -> Response:
    """``{"order": …}`` as both APIs answer it."""
    return View(OrderOut, mall).one("order", service.render(b), status)


def claim_response(mall: Any, b: service.Bundle, claim: Any, status: int = 200) -> JSONResponse:
    ctx = {"timezone": mall.timezone}
    body = {"claim": service.render_claim(claim, b.order.order_id).model_dump(mode="json", context=ctx),
            "order": service.render(b).model_dump(mode="json", context=ctx)}  # fmt: skip
    return JSONResponse(body, status_code=status)


@router.post("/payments/reserve", status_code=201, response_model=PaymentOne,
             summary="Reserve the amount the buyer saw, for an order sheet")  # fmt: skip
async def reserve(mall: CurrentMall, session: DbSession, member: CurrentMember, body: ReserveIn) -> Response:
    """The sheet is priced again: a 409 when the amount to pay is no longer `amount` (`more_info.amount_to_pay`
    says the new one: show it and reserve again), when an item cannot be ordered now, or when the sheet was paid.
    Answers the `payment_key` to confirm."""
    payment = await payments.reserve(session, member, body.order_sheet_no, body.pay_type, body.amount)
    out = PaymentOut(
        payment_key=payment.payment_key,
        order_sheet_no=payment.order_sheet_no,
        pay_type=payment.pay_type,
        amount=payment.amount,
        status=payment.status,
        order_id=payment.order_id,
    )
    return View(PaymentOut, mall).one("payment", out, 201)


@router.post("/payments/confirm", status_code=201, response_model=OrderOne,
             responses={402: {"model": ErrorOut, "description": "The card was declined; nothing was ordered"}},
             summary="Pay: the card is charged (or the bank transfer awaited) and the order placed")  # fmt: skip
async def confirm(request: Request, mall: CurrentMall, session: DbSession, member: CurrentMember,
                  body: ConfirmIn) -> Response:  # fmt: skip
    """In one transaction: the sheet is claimed (a paid sheet is a 409), priced again at the reserved amount,
    stock is taken for every item (all or nothing; 409 sold out), the card is charged (a decline is a 402 and
    nothing is kept), coupons are used and mileage spent, and the order is written with the sheet's tracking key.
    A card order is PAY_DONE; a bank transfer waits in DEPOSIT_WAIT with the account, depositor and due date."""
    _, data = await payments.confirm(session, mall, member, body.payment_key, body.card_number,
                                     body.depositor_name, numbers=request.app.state.order_numbers,
                                     attempt_log=request.app.state.payment_attempts)  # fmt: skip
    return View(OrderOut, mall).one("order", data, 201)  # as the events have it: rendered once


@router.get("/profile/orders", response_model=OrderList, summary="The member's orders, newest first")
async def list_my_orders(mall: CurrentMall, session: DbSession, member: CurrentMember, page: PageParams,
                         start_date: StartDate = None, end_date: EndDate = None) -> Response:  # fmt: skip
    f = service.order_filter(mall.timezone, start_date=start_date, end_date=end_date, member_no=member.member_no)
    bundles = await service.list_orders(session, f, page)
    return View(OrderOut, mall).many("orders", [service.render(b) for b in bundles])


@router.get("/profile/orders/{order_id}", response_model=OrderOne, summary="One of the member's orders")
async def get_my_order(mall: CurrentMall, session: DbSession, member: CurrentMember, order_id: OrderId) -> Response:
    """Another member's order is a 404."""
    return order_response(mall, await service.load(session, order_id, member_no=member.member_no))


@router.post("/profile/orders/{order_id}/confirm", response_model=OrderOne,
             summary="Confirm the purchase: the member earns mileage")  # fmt: skip
async def confirm_purchase(mall: CurrentMall, session: DbSession, member: CurrentMember, order_id: OrderId) -> Response:
    """Delivered options become BUY_CONFIRM (409 while any is not delivered yet, or a return or exchange is open);
    the member earns their group's `mileage_rate` % of what they paid and kept, rounded down to whole won."""
    b = await service.confirm_purchase(session, order_id, mall.timezone, member_no=member.member_no)
    return order_response(mall, b)


@router.post("/profile/orders/{order_id}/claims", status_code=201, response_model=ClaimWithOrder,
             summary="Cancel, return or exchange some order options (quantities may be partial)")  # fmt: skip
async def request_claim(mall: CurrentMall, session: DbSession, member: CurrentMember, order_id: OrderId,
                        body: ClaimIn) -> JSONResponse:  # fmt: skip
    """CANCEL before shipping (DEPOSIT_WAIT, PAY_DONE, PRODUCT_PREPARE), RETURN or EXCHANGE after delivery.
    A cancel of options not yet in preparation completes at once: the refund (cash first, then mileage) is
    recomputed by the pricing function, stock is returned, and coupons come back when the whole order is
    cancelled. Other claims wait for the merchant. Answers the claim and the order."""
    b, claim = await claims.request(session, order_id, body.kind, [(i.order_option_no, i.quantity) for i in body.items],
                                    body.reason, mall.timezone, member_no=member.member_no)  # fmt: skip
    return claim_response(mall, b, claim, 201)


@router.get("/profile/orders/{order_id}/claims", response_model=ClaimList, summary="The claims of one of my orders")
async def list_my_claims(mall: CurrentMall, session: DbSession, member: CurrentMember, order_id: OrderId) -> Response:
    rows = await claims.list_for_order(session, order_id, member_no=member.member_no)
    return View(ClaimOut, mall).many("claims", [service.render_claim(c, order_id) for c in rows])
