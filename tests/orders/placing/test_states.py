"""The order state machine: every pair of statuses is allowed or refused exactly as the table says."""

from __future__ import annotations

import itertools

import pytest

from openmall.kernel.errors import Conflict
from openmall.orders import states

S = states
ALLOWED = {
    (S.DEPOSIT_WAIT, S.PAY_DONE), (S.DEPOSIT_WAIT, S.CANCEL_REQUEST), (S.DEPOSIT_WAIT, S.CANCEL_DONE),
    (S.PAY_DONE, S.PRODUCT_PREPARE), (S.PAY_DONE, S.DELIVERY_PREPARE), (S.PAY_DONE, S.DELIVERY_ING),
    (S.PAY_DONE, S.CANCEL_REQUEST), (S.PAY_DONE, S.CANCEL_DONE),
    (S.PRODUCT_PREPARE, S.DELIVERY_PREPARE), (S.PRODUCT_PREPARE, S.DELIVERY_ING),
    (S.PRODUCT_PREPARE, S.CANCEL_REQUEST), (S.PRODUCT_PREPARE, S.CANCEL_DONE),
    (S.DELIVERY_PREPARE, S.DELIVERY_ING),
    (S.DELIVERY_ING, S.DELIVERY_DONE),
    (S.DELIVERY_DONE, S.BUY_CONFIRM), (S.DELIVERY_DONE, S.RETURN_REQUEST), (S.DELIVERY_DONE, S.RETURN_DONE),
    (S.DELIVERY_DONE, S.EXCHANGE_REQUEST),
    (S.CANCEL_REQUEST, S.CANCEL_DONE), (S.CANCEL_REQUEST, S.DEPOSIT_WAIT), (S.CANCEL_REQUEST, S.PAY_DONE),
    (S.CANCEL_REQUEST, S.PRODUCT_PREPARE),
    (S.RETURN_REQUEST, S.RETURN_DONE), (S.RETURN_REQUEST, S.DELIVERY_DONE), (S.RETURN_REQUEST, S.EXCHANGE_DONE),
    (S.EXCHANGE_REQUEST, S.EXCHANGE_DONE), (S.EXCHANGE_REQUEST, S.DELIVERY_DONE),
    (S.EXCHANGE_DONE, S.BUY_CONFIRM), (S.EXCHANGE_DONE, S.RETURN_REQUEST), (S.EXCHANGE_DONE, S.RETURN_DONE),
    (S.EXCHANGE_DONE, S.EXCHANGE_REQUEST),
}  # fmt: skip


def test_the_statuses_are_the_issues():
    assert states.FLOW == ("DEPOSIT_WAIT", "PAY_DONE", "PRODUCT_PREPARE", "DELIVERY_PREPARE", "DELIVERY_ING",
                           "DELIVERY_DONE", "BUY_CONFIRM")  # fmt: skip
    assert set(states.CLAIM_STATES) == {"CANCEL_REQUEST", "CANCEL_DONE", "RETURN_REQUEST", "RETURN_DONE",
                                        "EXCHANGE_REQUEST", "EXCHANGE_DONE"}  # fmt: skip


@pytest.mark.parametrize(("before", "after"), sorted(itertools.product(states.ALL, repeat=2)))
def test_every_pair_is_allowed_or_refused_with_the_next_states_named(before: str, after: str):
    if (before, after) in ALLOWED:
        states.check(before, after)
        assert states.can(before, after)
        return
    assert not states.can(before, after)
    with pytest.raises(Conflict) as refused:
        states.check(before, after, what="order 20261124-0000001")
    message = refused.value.message
    assert f"is {before} and cannot go to {after}" in message and "20261124-0000001" in message
    nexts = states.allowed(before)
    assert refused.value.more_info["allowed"] == nexts
    assert all(n in message for n in nexts) if nexts else "final" in message


def test_final_states_have_no_way_out():
    for final in states.FINAL:
        assert states.allowed(final) == []


def test_an_unknown_status_is_refused_with_the_list():
    with pytest.raises(Conflict) as refused:
        states.check(states.PAY_DONE, "SHIPPED")
    assert "not an order status" in refused.value.message


@pytest.mark.parametrize(("options", "order"), [
    ([S.PAY_DONE], S.PAY_DONE),
    ([S.PAY_DONE, S.DELIVERY_ING], S.PAY_DONE),
    ([S.CANCEL_DONE, S.DELIVERY_ING], S.DELIVERY_ING),
    ([S.CANCEL_DONE, S.CANCEL_DONE], S.CANCEL_DONE),
    ([S.CANCEL_DONE, S.RETURN_DONE], S.RETURN_DONE),
    ([S.PAY_DONE, S.CANCEL_REQUEST], S.CANCEL_REQUEST),
    ([S.DELIVERY_DONE, S.EXCHANGE_DONE], S.DELIVERY_DONE),
    ([S.BUY_CONFIRM, S.EXCHANGE_DONE], S.EXCHANGE_DONE),
    ([S.BUY_CONFIRM, S.RETURN_DONE], S.BUY_CONFIRM),
])  # fmt: skip
def test_the_orders_status_follows_its_least_advanced_open_option(options: list[str], order: str):
    assert states.order_status(options) == order
