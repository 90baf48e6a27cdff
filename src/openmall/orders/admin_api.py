"""Admin API of orders: list and read them, change their status, ship them, confirm bank transfers, and complete
or reject claims. Thin: parse, call the services, render. Bodies come wrapped as ``{"request": {...}}``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.responses import JSONResponse, Response

from openmall.kernel import personal
from openmall.kernel.errors import ErrorOut
from openmall.kernel.pagination import PageParams
from openmall.kernel.params import MAX_INT
from openmall.kernel.representation import FieldsQuery, View
from openmall.kernel.tenancy import CurrentMall, DbSession, ReadSession
from openmall.oauth.guard import AdminRouter
from openmall.orders import bank_accounts, claims, events, service
from openmall.orders.schemas import (
    BankAccountOne,
    BankAccountOut,
    BankAccountRequest,
    ClaimList,
    ClaimOut,
    ClaimWithOrder,
    OrderCount,
    OrderList,
    OrderOne,
    OrderOut,
    RejectRequest,
    ShipmentRequest,
    StatusRequest,
)
from openmall.orders.shop_api import claim_response, order_response

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: orders"])
READ_ORDER, WRITE_ORDER = "mall.read_order", "mall.write_order"

# the buyer's and the receiver's details need mall.read_personal; without it they come masked (kernel.personal)
personal.register(OrderOut, events.PERSONAL)

OrderId = Annotated[str, Path(min_length=1, max_length=20, description="The order id, e.g. 20261124-0000001.")]
ClaimNo = Annotated[int, Path(ge=1, le=MAX_INT, description="The claim's number.")]
StartDate = Annotated[str | None, Query(description="Orders from this day (YYYY-MM-DD, the mall's time zone).")]
EndDate = Annotated[str | None, Query(description="Orders to this day (YYYY-MM-DD, the mall's time zone), included.")]
Status = Annotated[str | None, Query(description="Order status(es), comma-separated (OR).", examples=["PAY_DONE"])]
MemberNo = Annotated[int | None, Query(ge=1, le=MAX_INT, description="Only this member's orders.")]
CONFLICT = {409: {"model": ErrorOut, "description": "The state machine forbids it; the message names what may follow"}}


@router.get("/orders", scope=READ_ORDER, response_model=OrderList, summary="List orders, newest first")
async def list_orders(mall: CurrentMall, session: ReadSession, page: PageParams, start_date: StartDate = None,
                      end_date: EndDate = None, status: Status = None, member_no: MemberNo = None,
                      fields: FieldsQuery = None) -> Response:  # fmt: skip
    """Dates are whole days in the mall's time zone, both included; `status` is a comma list (OR);
    `fields=a,b` returns only those fields; `since_no` reads on past the offset bound by `order_no`."""
    f = service.order_filter(mall.timezone, start_date=start_date, end_date=end_date, status=status,
                             member_no=member_no)  # fmt: skip
    view = View(OrderOut, mall, fields)
    return view.many("orders", [service.render(b) for b in await service.list_orders(session, f, page)])


@router.get("/orders/count", scope=READ_ORDER, response_model=OrderCount, summary="Count the orders a list would show")
async def count_orders(mall: CurrentMall, session: ReadSession, start_date: StartDate = None, end_date: EndDate = None,
                       status: Status = None, member_no: MemberNo = None) -> JSONResponse:  # fmt: skip
    f = service.order_filter(mall.timezone, start_date=start_date, end_date=end_date, status=status,
                             member_no=member_no)  # fmt: skip
    return JSONResponse({"count": await service.count_orders(session, f)})


@router.get("/orders/{order_id}", scope=READ_ORDER, response_model=OrderOne, summary="One order")
async def get_order(mall: CurrentMall, session: ReadSession, order_id: OrderId, fields: FieldsQuery = None) -> Response:
    return View(OrderOut, mall, fields).one("order", service.render(await service.load(session, order_id)))


@router.put("/orders/{order_id}/status", scope=WRITE_ORDER, response_model=OrderOne, responses=CONFLICT,
            summary="Change an order's status (checked by the state machine)")  # fmt: skip
async def change_status(mall: CurrentMall, session: DbSession, order_id: OrderId, body: StatusRequest) -> Response:
    """Moves every open option (or `order_option_nos`) to `status`: PRODUCT_PREPARE, DELIVERY_PREPARE,
    DELIVERY_ING, DELIVERY_DONE, BUY_CONFIRM (earns the member's mileage), or PAY_DONE for a bank transfer waiting
    for its deposit. A transition the state machine forbids is a 409 that names the statuses allowed next. Claim
    statuses go through the claims routes, which refund and restock."""
    req = body.request
    b = await service.change_status(session, order_id, req.status.strip().upper(), mall.timezone,
                                    req.order_option_nos)  # fmt: skip
    return order_response(mall, b)


@router.post("/orders/{order_id}/shipments", scope=WRITE_ORDER, status_code=201, response_model=OrderOne,
             responses=CONFLICT, summary="Ship an order: carrier, tracking number; → DELIVERY_ING")  # fmt: skip
async def add_shipment(mall: CurrentMall, session: DbSession, order_id: OrderId, body: ShipmentRequest) -> Response:
    """Every open option waiting to ship (PAY_DONE, PRODUCT_PREPARE, DELIVERY_PREPARE) goes into the parcel.
    Refused (409) while a cancel request is open. Answers the order with its shipments."""
    req = body.request
    b = await service.add_shipment(session, order_id, req.carrier, req.tracking_number, mall.timezone)
    return order_response(mall, b, 201)


@router.post("/orders/{order_id}/deposit", scope=WRITE_ORDER, response_model=OrderOne, responses=CONFLICT,
             summary="Confirm a bank transfer's deposit: DEPOSIT_WAIT → PAY_DONE")  # fmt: skip
async def confirm_deposit(mall: CurrentMall, session: DbSession, order_id: OrderId) -> Response:
    """Emits `order.paid`. An order not waiting for a deposit is a 409."""
    return order_response(mall, await service.confirm_deposit(session, order_id, mall.timezone))


@router.get("/orders/{order_id}/claims", scope=READ_ORDER, response_model=ClaimList, summary="An order's claims")
async def list_claims(mall: CurrentMall, session: ReadSession, order_id: OrderId) -> Response:
    rows = await claims.list_for_order(session, order_id)
    return View(ClaimOut, mall).many("claims", [service.render_claim(c, order_id) for c in rows])


@router.post("/claims/{claim_no}/complete", scope=WRITE_ORDER, response_model=ClaimWithOrder, responses=CONFLICT,
             summary="Complete a requested claim: refund, restock, restore coupons by the rules")  # fmt: skip
async def complete_claim(mall: CurrentMall, session: DbSession, claim_no: ClaimNo) -> JSONResponse:
    """Cancel and return: the refund is recomputed by the pricing function (cash first through the gateway, then
    mileage), stock comes back, coupons come back when the whole order is cancelled. Exchange: the options are
    EXCHANGE_DONE. A claim not REQUESTED is a 409."""
    b, claim = await claims.complete(session, claim_no, mall.timezone)
    return _claim_response(mall, b, claim)


@router.post("/claims/{claim_no}/reject", scope=WRITE_ORDER, response_model=ClaimWithOrder, responses=CONFLICT,
             summary="Reject a requested claim: the options go back to where they were")  # fmt: skip
async def reject_claim(mall: CurrentMall, session: DbSession, claim_no: ClaimNo,
                       body: RejectRequest | None = None) -> JSONResponse:  # fmt: skip
    reason = body.request.reason if body is not None else ""
    b, claim = await claims.reject(session, claim_no, reason, mall.timezone)
    return _claim_response(mall, b, claim)


def _claim_response(mall: CurrentMall, b: service.Bundle, claim: Any) -> JSONResponse:
    """The claim and its order, the order's personal data masked as the order routes do."""
    response = claim_response(mall, b, claim)
    masked = personal.hidden(OrderOut)
    if masked is None:
        return response
    body = json.loads(response.body)
    return JSONResponse({**body, "order": personal.mask(masked, body["order"])}, status_code=response.status_code)


# ---- the mall's account for bank transfers -------------------------------------------------------------------


def _account(account: bank_accounts.Account | None) -> JSONResponse:
    out = BankAccountOut(bank=account.bank, account_number=account.account_number, holder=account.holder) \
        if account is not None else None  # fmt: skip
    return JSONResponse(BankAccountOne(bank_account=out).model_dump())


@router.get("/store/bank-account", scope="mall.read_store", response_model=BankAccountOne,
            summary="The mall's account for bank transfers")  # fmt: skip
async def get_bank_account(session: ReadSession) -> JSONResponse:
    """What a bank-transfer order tells the buyer to pay into; `null` when the mall takes no bank transfers."""
    return _account(await bank_accounts.get_account(session))


@router.put("/store/bank-account", scope="mall.write_store", response_model=BankAccountOne,
            summary="Set the mall's account for bank transfers")  # fmt: skip
async def put_bank_account(session: DbSession, body: BankAccountRequest) -> JSONResponse:
    """Bank transfers are taken from now on, into this account; orders placed before keep the one they were told."""
    r = body.request
    return _account(await bank_accounts.put_account(session, bank=r.bank.strip(), account_number=r.account_number,
                                                    holder=r.holder.strip()))  # fmt: skip


@router.delete("/store/bank-account", scope="mall.write_store", response_model=BankAccountOne,
               summary="Take no more bank transfers")  # fmt: skip
async def delete_bank_account(session: DbSession) -> JSONResponse:
    """Reserving or confirming a bank transfer is a 409 from now on (orders waiting for a deposit still wait)."""
    await bank_accounts.delete_account(session)
    return _account(None)
