"""Card payments across a crash (``orders.attempts``): every charge is recorded, committed, before the gateway is
asked; the gateway charges a payment key once; the workers' reconciliation settles what a crash left open.

A crash is played here by doing what the killed process had done — an attempt committed PENDING and a charge at
the gateway — with nothing else; ``test_crash.py`` kills a real server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from openmall import housekeeping
from openmall.kernel.db import session_scope, utcnow
from openmall.orders import attempts, gateways
from openmall.orders.models import Payment, PaymentAttempt
from tests.conftest import assert_error
from tests.orders.conftest import OrderShop
from tests.orders.placing.conftest import DECLINED_CARD, GOOD_CARD, PAY, counts, ok, reserve, sheet

LATER = timedelta(minutes=3)  # past the reconciliation's lease


@pytest.fixture
def gateway():
    """A fresh test gateway, installed for the test."""
    gw = gateways.TestGateway()
    previous = gateways.set_gateway(gw)
    yield gw
    gateways.set_gateway(previous)
    gw.close()


async def attempts_of(app, payment_key: str) -> list[PaymentAttempt]:
    async with session_scope(app.state.sessions, "demo") as s:
        found = await s.scalars(select(PaymentAttempt).where(PaymentAttempt.payment_key == payment_key)
                                .order_by(PaymentAttempt.attempt_no))  # fmt: skip
        return list(found)


async def payment_of(app, payment_key: str) -> Payment:
    async with session_scope(app.state.sessions, "demo") as s:
        found = await s.scalar(select(Payment).where(Payment.payment_key == payment_key))
        assert found is not None
        return found


async def reserved(client, shop: OrderShop) -> tuple[dict, str, Decimal]:
    """A calculated sheet of one white tee and its reserved card payment: (sheet, payment key, amount)."""
    s = await sheet(client, [(shop.white_s, 1)])
    key = ok(await reserve(client, s), 201)["payment"]["payment_key"]
    return s, key, Decimal(s["price"]["amount_to_pay"])


async def crashed(app, gw: gateways.TestGateway, key: str, amount: Decimal, *, charged: bool = True) -> None:
    """What a server killed after the charge leaves: the attempt committed PENDING, the card charged (or not)."""
    payment = await payment_of(app, key)
    async with session_scope(app.state.sessions, "demo") as s:
        s.add(PaymentAttempt(payment_key=key, order_sheet_no=payment.order_sheet_no, pay_type="CARD", amount=amount,
                             status="PENDING", gateway="test", note=""))  # fmt: skip
    if charged:
        assert isinstance(await gw.approve(amount, GOOD_CARD, reference=key), gateways.Approval)


async def reconcile(app, gw: gateways.TestGateway, later: timedelta = LATER) -> list[attempts.Settled]:
    return await attempts.reconcile(app.state.sessions, gateway=gw, now=utcnow() + later)


# ---- the test gateway ----------------------------------------------------------------------------------------------


async def test_the_test_gateway_charges_a_reference_once_and_any_process_finds_it(tmp_path):
    path = str(tmp_path / "gateway.sqlite3")
    gw, elsewhere = gateways.TestGateway(path), gateways.TestGateway(path)  # two processes' views of one file
    try:
        first = await gw.approve(Decimal("1000"), GOOD_CARD, reference="pay_a")
        again = await elsewhere.approve(Decimal("1000"), "5555 5555 5555 4444", reference="pay_a")
        assert isinstance(first, gateways.Approval) and isinstance(again, gateways.Approval)
        assert again.tx_id == first.tx_id and len(gw.approved) == 1  # the same charge, not a second one
        found = await elsewhere.lookup("pay_a")
        assert found == gateways.Charge(first.tx_id, "pay_a", Decimal("1000"), "APPROVED")
        assert await gw.lookup("pay_b") is None
        reused = await gw.approve(Decimal("2000"), GOOD_CARD, reference="pay_a")
        assert isinstance(reused, gateways.Decline) and reused.code == "reference_reused"
        await elsewhere.cancel(first.tx_id)
        assert (await gw.lookup("pay_a")).status == "CANCELLED"  # type: ignore[union-attr]
        anew = await gw.approve(Decimal("1000"), GOOD_CARD, reference="pay_a")  # a voided charge: pay again
        assert isinstance(anew, gateways.Approval) and anew.tx_id != first.tx_id
        assert [c.status for c in elsewhere.charges("pay_a")] == ["CANCELLED", "APPROVED"]
    finally:
        gw.close()
        elsewhere.close()


# ---- the attempt, as a confirmation records it --------------------------------------------------------------------


async def test_the_attempt_is_committed_before_the_card_is_charged(app, shop: OrderShop, member_client, gateway):
    """At the moment of the charge another connection already sees the attempt PENDING (a crash then leaves it);
    the order's commit marks it APPROVED with the charge and the order."""
    seen: list[list[tuple[str, str]]] = []
    charge = gateway.approve

    async def approve(amount, card_number, *, reference):
        async with session_scope(app.state.sessions, "demo") as s:  # a connection of its own: committed rows only
            rows = await s.execute(select(PaymentAttempt.payment_key, PaymentAttempt.status))
            seen.append([tuple(r) for r in rows.all()])
        return await charge(amount, card_number, reference=reference)

    gateway.approve = approve
    client = await member_client()
    _, key, amount = await reserved(client, shop)
    placed = ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 201)
    assert seen == [[(key, "PENDING")]]
    [attempt] = await attempts_of(app, key)
    payment = await payment_of(app, key)
    assert (attempt.status, attempt.order_id, attempt.amount) == ("APPROVED", placed["order"]["order_id"], amount)
    assert attempt.gateway_tx_id == payment.gateway_tx_id and attempt.gateway_tx_id in gateway.approved
    assert (await gateway.lookup(key)).tx_id == payment.gateway_tx_id  # type: ignore[union-attr]  # key = reference


async def test_a_declined_card_leaves_a_failed_attempt(app, shop: OrderShop, member_client, gateway):
    client = await member_client()
    s, key, _ = await reserved(client, shop)
    assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": DECLINED_CARD}), 402)
    [attempt] = await attempts_of(app, key)
    assert (attempt.status, attempt.gateway_tx_id, attempt.note) == ("FAILED", None, "declined: card_declined")
    assert await reconcile(app, gateway) == []  # nothing left to settle


async def test_a_gateway_that_charged_then_timed_out_leaves_the_attempt_for_the_reconciliation(
    app, shop: OrderShop, member_client, gateway, monkeypatch
):
    """The gateway charged but its answer never came (a time-out): nobody knows yet whether money moved, so the
    attempt stays PENDING (not FAILED, which nobody would look at again) and the workers cancel the charge."""
    approve = gateway.approve

    async def charged_then_timed_out(amount, card_number, *, reference):
        await approve(amount, card_number, reference=reference)
        raise TimeoutError("the gateway did not answer in time")

    monkeypatch.setattr(gateway, "approve", charged_then_timed_out)
    client = await member_client()
    _, key, _ = await reserved(client, shop)
    assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 500)
    [attempt] = await attempts_of(app, key)
    assert attempt.status == "PENDING"
    assert (await gateway.lookup(key)).standing  # type: ignore[union-attr]
    [settled] = await reconcile(app, gateway)
    assert settled.status == "CANCELLED" and not (await gateway.lookup(key)).standing  # type: ignore[union-attr]


async def test_a_commit_that_fails_after_the_charge_cancels_it_and_says_so(
    app, shop: OrderShop, member_client, gateway
):
    def commit_fails(session: Session) -> None:
        if session.info.get("on_rollback"):
            raise RuntimeError("connection lost at the commit")

    client = await member_client()
    _, key, _ = await reserved(client, shop)
    event.listen(Session, "before_commit", commit_fails)
    try:
        assert_error(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 500)
    finally:
        event.remove(Session, "before_commit", commit_fails)
    [attempt] = await attempts_of(app, key)
    assert attempt.status == "CANCELLED" and attempt.gateway_tx_id in gateway.cancelled
    assert (await gateway.lookup(key)).status == "CANCELLED"  # type: ignore[union-attr]


# ---- reconciliation ------------------------------------------------------------------------------------------------


async def test_a_charge_a_crash_left_without_an_order_is_cancelled_and_the_sheet_paid_again(
    app, shop: OrderShop, member_client, gateway
):
    client = await member_client()
    s, key, amount = await reserved(client, shop)
    before = await counts(app)
    await crashed(app, gateway, key, amount)
    assert await reconcile(app, gateway, timedelta(0)) == []  # within the lease: a confirmation may be under way
    [settled] = await reconcile(app, gateway)
    charge = await gateway.lookup(key)
    assert charge is not None and charge.status == "CANCELLED"  # the buyer does not pay for nothing
    assert (settled.status, settled.gateway_tx_id, settled.payment_key) == ("CANCELLED", charge.tx_id, key)
    [attempt] = await attempts_of(app, key)
    assert (attempt.status, attempt.gateway_tx_id) == ("CANCELLED", charge.tx_id)
    assert await counts(app) == before
    assert await reconcile(app, gateway) == []  # settled once
    placed = ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 201)
    standing = [c for c in gateway.charges(key) if c.standing]
    assert len(standing) == 1 and standing[0].tx_id == (await payment_of(app, key)).gateway_tx_id
    assert placed["order"]["status"] == "PAY_DONE"


async def test_a_retry_before_the_reconciliation_keeps_the_one_charge(app, shop: OrderShop, member_client, gateway):
    """The buyer confirms again after the crash: the gateway answers the crashed attempt's charge (the payment key
    is its idempotency key), the order keeps it, and the reconciliation then leaves it standing."""
    client = await member_client()
    _, key, amount = await reserved(client, shop)
    await crashed(app, gateway, key, amount)
    ok(await client.post(f"{PAY}/confirm", json={"payment_key": key, "card_number": GOOD_CARD}), 201)
    [charge] = gateway.charges(key)
    assert charge.standing and (await payment_of(app, key)).gateway_tx_id == charge.tx_id
    [settled] = await reconcile(app, gateway)
    assert (settled.status, settled.gateway_tx_id) == ("APPROVED", charge.tx_id)
    assert [a.status for a in await attempts_of(app, key)] == ["APPROVED", "APPROVED"]
    assert gateway.cancelled == set()


async def test_an_attempt_the_gateway_never_charged_is_marked_failed(app, shop: OrderShop, member_client, gateway):
    client = await member_client()
    _, key, amount = await reserved(client, shop)
    await crashed(app, gateway, key, amount, charged=False)
    [settled] = await reconcile(app, gateway)
    assert (settled.status, settled.gateway_tx_id) == ("FAILED", None)
    assert [a.status for a in await attempts_of(app, key)] == ["FAILED"]


async def test_a_gateway_that_cannot_be_reached_leaves_the_attempt_for_the_next_round(
    app, shop: OrderShop, member_client, gateway
):
    client = await member_client()
    _, key, amount = await reserved(client, shop)
    await crashed(app, gateway, key, amount)
    cancel = gateway.cancel

    async def down(tx_id: str) -> None:
        raise ConnectionError("gateway unreachable")

    gateway.cancel = down
    assert await reconcile(app, gateway) == []
    assert [a.status for a in await attempts_of(app, key)] == ["PENDING"]
    gateway.cancel = cancel
    assert [s.status for s in await reconcile(app, gateway)] == ["CANCELLED"]


async def test_every_worker_reconciles_as_housekeeping():
    assert housekeeping.reconcile_payments in housekeeping.CHORES
