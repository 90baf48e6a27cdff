"""The one state machine of orders and their options.

An order option (one variant of an order) moves through these states; the order's own status is derived from its
options (``order_status``). Every change of status, by the merchant (Admin API), the buyer (Shop API) or a claim,
goes through ``check``: a transition not in ``TRANSITIONS`` is a 409 that names the states allowed next.

::

    DEPOSIT_WAIT → PAY_DONE → PRODUCT_PREPARE → DELIVERY_PREPARE → DELIVERY_ING → DELIVERY_DONE → BUY_CONFIRM
    (PAY_DONE and PRODUCT_PREPARE may ship at once: → DELIVERY_ING)
    DEPOSIT_WAIT, PAY_DONE, PRODUCT_PREPARE → CANCEL_REQUEST → CANCEL_DONE (or straight to CANCEL_DONE)
    DELIVERY_DONE → RETURN_REQUEST → RETURN_DONE
    DELIVERY_DONE → EXCHANGE_REQUEST → EXCHANGE_DONE → BUY_CONFIRM (or a return, or another exchange)

A claim request that is rejected goes back to the state it came from (a request remembers it).
"""

from __future__ import annotations

from collections.abc import Iterable

from openmall.kernel.errors import Conflict

DEPOSIT_WAIT = "DEPOSIT_WAIT"  # bank transfer: waiting for the deposit
PAY_DONE = "PAY_DONE"
PRODUCT_PREPARE = "PRODUCT_PREPARE"
DELIVERY_PREPARE = "DELIVERY_PREPARE"
DELIVERY_ING = "DELIVERY_ING"
DELIVERY_DONE = "DELIVERY_DONE"
BUY_CONFIRM = "BUY_CONFIRM"
CANCEL_REQUEST = "CANCEL_REQUEST"
CANCEL_DONE = "CANCEL_DONE"
RETURN_REQUEST = "RETURN_REQUEST"
RETURN_DONE = "RETURN_DONE"
EXCHANGE_REQUEST = "EXCHANGE_REQUEST"
EXCHANGE_DONE = "EXCHANGE_DONE"

# the normal flow, in order: the order's status is its least advanced open option's
FLOW = (DEPOSIT_WAIT, PAY_DONE, PRODUCT_PREPARE, DELIVERY_PREPARE, DELIVERY_ING, DELIVERY_DONE, BUY_CONFIRM)
CLAIM_STATES = (CANCEL_REQUEST, CANCEL_DONE, RETURN_REQUEST, RETURN_DONE, EXCHANGE_REQUEST, EXCHANGE_DONE)
ALL = FLOW + CLAIM_STATES
FINAL = frozenset({BUY_CONFIRM, CANCEL_DONE, RETURN_DONE})  # nothing follows
CLOSED = frozenset({CANCEL_DONE, RETURN_DONE})  # nothing left of the option to ship or confirm

CANCELLABLE = frozenset({DEPOSIT_WAIT, PAY_DONE, PRODUCT_PREPARE})  # before shipping
RETURNABLE = frozenset({DELIVERY_DONE, EXCHANGE_DONE})  # after delivery, before the purchase is confirmed
SHIPPABLE = frozenset({PAY_DONE, PRODUCT_PREPARE, DELIVERY_PREPARE})
# what the merchant may set through the Admin API's status change (claim states go through the claims)
ADMIN_STATUSES = (PAY_DONE, PRODUCT_PREPARE, DELIVERY_PREPARE, DELIVERY_ING, DELIVERY_DONE, BUY_CONFIRM)

TRANSITIONS: dict[str, frozenset[str]] = {
    DEPOSIT_WAIT: frozenset({PAY_DONE, CANCEL_REQUEST, CANCEL_DONE}),
    PAY_DONE: frozenset({PRODUCT_PREPARE, DELIVERY_PREPARE, DELIVERY_ING, CANCEL_REQUEST, CANCEL_DONE}),
    PRODUCT_PREPARE: frozenset({DELIVERY_PREPARE, DELIVERY_ING, CANCEL_REQUEST, CANCEL_DONE}),
    DELIVERY_PREPARE: frozenset({DELIVERY_ING}),
    DELIVERY_ING: frozenset({DELIVERY_DONE}),
    DELIVERY_DONE: frozenset({BUY_CONFIRM, RETURN_REQUEST, RETURN_DONE, EXCHANGE_REQUEST}),
    BUY_CONFIRM: frozenset(),
    # a request is completed, or rejected back to where it came from
    CANCEL_REQUEST: frozenset({CANCEL_DONE, DEPOSIT_WAIT, PAY_DONE, PRODUCT_PREPARE}),
    CANCEL_DONE: frozenset(),
    RETURN_REQUEST: frozenset({RETURN_DONE, DELIVERY_DONE, EXCHANGE_DONE}),
    RETURN_DONE: frozenset(),
    EXCHANGE_REQUEST: frozenset({EXCHANGE_DONE, DELIVERY_DONE}),
    EXCHANGE_DONE: frozenset({BUY_CONFIRM, RETURN_REQUEST, RETURN_DONE, EXCHANGE_REQUEST}),
}
# X_DONE straight from a flow state: the last units of an option whose earlier units were claimed apart;
# RETURN_REQUEST → EXCHANGE_DONE: a return of an exchanged item rejected back to where it was

assert set(TRANSITIONS) == set(ALL) and all(t <= set(ALL) for t in TRANSITIONS.values())


def allowed(from_status: str) -> list[str]:
    """The states that may follow ``from_status``, in the order of ``ALL``."""
    nexts = TRANSITIONS.get(from_status, frozenset())
    return [s for s in ALL if s in nexts]


def can(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check(from_status: str, to_status: str, *, what: str = "the order") -> None:
    """Raise Conflict (409) unless ``from_status`` → ``to_status`` is allowed; the message names what may follow."""
    if to_status not in TRANSITIONS:
        raise Conflict(f"{to_status!r} is not an order status; statuses: {', '.join(ALL)}",
                       more_info={"status": to_status, "statuses": list(ALL)})  # fmt: skip
    if can(from_status, to_status):
        return
    nexts = allowed(from_status)
    follows = f"it can go to {', '.join(nexts)}" if nexts else "it is final: nothing can follow"
    raise Conflict(
        f"{what} is {from_status} and cannot go to {to_status}; {follows}",
        more_info={"status": from_status, "requested": to_status, "allowed": nexts},
    )


_RANK = {**{s: float(i) for i, s in enumerate(FLOW)}, EXCHANGE_DONE: FLOW.index(DELIVERY_DONE) + 0.5}


def order_status(option_statuses: Iterable[str]) -> str:
    """The order's status from its options': a claim request in progress first; else the least advanced of the
    options still open (an exchanged option counts just after DELIVERY_DONE); when every option is closed
    (cancelled or returned), RETURN_DONE if any was returned, else CANCEL_DONE."""
    statuses = list(option_statuses)
    open_ = [s for s in statuses if s not in CLOSED]
    if not open_:
        return RETURN_DONE if RETURN_DONE in statuses else CANCEL_DONE
    for claim in (CANCEL_REQUEST, RETURN_REQUEST, EXCHANGE_REQUEST):
        if claim in open_:
            return claim
    return min(open_, key=_RANK.__getitem__)
