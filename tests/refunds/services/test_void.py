"""Voids of authorized payments (issue 15): requested, decided and delivered against the real simulator."""

import json
import uuid

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, ERR_PARTIAL_VOID, DomainError
from ledger.enums import AccountCode, EntryType
from ledger.models import JournalEntry, Posting
from notifications.emails import email_for_event
from notifications.messages import MSG_VOID_APPROVED, MSG_VOID_COMPLETED
from providers.stripe.signature import sign_payload
from refunds.enums import OutboxStatus, PaymentStatus, Reason, RefundInstrument, RefundState, Role
from refunds.failures import processor_message
from refunds.models import OutboxMessage, Payment
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve, refund_edit
from refunds.services.outbox import outbox_deliver
from refunds.services.webhooks import webhook_receive
from status_page.presenters import status_view
from tests.refunds.factories import agent, captured_order, make_refund, move_refund
from tests.support.live import wait_for

pytestmark = pytest.mark.django_db

AMOUNT = 5000


def authorized_order(mode: str = "ok", **fields):
    return captured_order(
        amount_minor=AMOUNT,
        status=PaymentStatus.AUTHORIZED,
        captured_at=None,
        provider_payment_id=f"pi_sim_{mode}_{uuid.uuid4().hex[:12]}",
        **fields,
    )


def requested_void(mode: str = "ok", **kwargs):
    return make_refund(order=authorized_order(mode), amount_minor=AMOUNT, reason=Reason.NOT_RECEIVED, **kwargs)


def entries(refund) -> list[str]:
    return list(JournalEntry.objects.filter(refund=refund).order_by("id").values_list("entry_type", flat=True))


def account_total(refund, account: str) -> int:
    return (
        Posting.objects.filter(entry__refund=refund, account_id=account).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


def test_a_refund_of_an_authorized_payment_is_a_void_of_the_whole_amount():
    refund = requested_void()

    assert refund.instrument == RefundInstrument.VOID
    assert refund.state == RefundState.APPROVED  # the same policy as any refund auto-approves it
    assert entries(refund) == [EntryType.VOID_PENDING]
    message = OutboxMessage.objects.get(refund=refund)
    assert message.status == OutboxStatus.PENDING


def test_a_captured_payment_still_gets_a_refund_not_a_void():
    refund = make_refund(order=captured_order(amount_minor=AMOUNT), amount_minor=1000, reason=Reason.NOT_RECEIVED)

    assert refund.instrument in (None, RefundInstrument.ORIGINAL_PAYMENT)
    assert entries(refund) == [EntryType.REFUND_PENDING]


def test_a_partial_void_is_refused_and_holds_nothing():
    order = authorized_order()

    with pytest.raises(DomainError) as refused:
        make_refund(order=order, amount_minor=AMOUNT - 1, reason=Reason.NOT_RECEIVED)

    assert refused.value.code == ERR_PARTIAL_VOID
    assert Payment.objects.get(order=order).refund_reserved_minor == 0


def test_store_credit_for_an_authorized_payment_is_refused():
    with pytest.raises(DomainError) as refused:
        requested_void(instrument=RefundInstrument.STORE_CREDIT)

    assert refused.value.code == ERR_INSTRUMENT_NOT_ALLOWED


def test_a_void_asked_of_a_captured_payment_is_refused():
    with pytest.raises(DomainError) as refused:
        make_refund(order=captured_order(amount_minor=AMOUNT), amount_minor=AMOUNT, instrument=RefundInstrument.VOID)

    assert refused.value.code == ERR_INSTRUMENT_NOT_ALLOWED


def test_a_provider_that_cannot_void_refuses_the_request():
    order = authorized_order(provider="manual")

    with pytest.raises(DomainError) as refused:
        make_refund(order=order, amount_minor=AMOUNT, reason=Reason.NOT_RECEIVED)

    assert refused.value.code == ERR_INSTRUMENT_NOT_ALLOWED


def test_an_edit_cannot_make_a_void_partial():
    order = authorized_order()
    refund = make_refund(order=order, amount_minor=AMOUNT, reason=Reason.GOODWILL)  # goodwill: reviewed
    assert refund.state == RefundState.REQUESTED

    with pytest.raises(DomainError) as refused:
        refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=AMOUNT - 100)

    assert refused.value.code == ERR_PARTIAL_VOID
    refund.refresh_from_db()
    assert refund.amount_minor == AMOUNT


def test_delivery_cancels_the_intent_completes_the_void_and_voids_the_payment(provider_settings, simulator):
    refund = requested_void()
    message = OutboxMessage.objects.get(refund=refund)

    assert outbox_deliver(message_id=message.pk) == "succeeded"

    refund.refresh_from_db()
    payment = Payment.objects.get(pk=refund.payment_id)
    assert refund.state == RefundState.COMPLETED
    assert refund.provider_refund_id == payment.provider_payment_id
    assert payment.status == PaymentStatus.VOIDED
    intent = simulator.request("GET", f"/v1/payment_intents/{payment.provider_payment_id}").json()
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "requested_by_customer")
    # No refund at the provider: the money never moved.
    assert simulator.refunds_for(payment.provider_payment_id) == []
    assert entries(refund) == [EntryType.VOID_PENDING, EntryType.VOID_RELEASED]
    assert account_total(refund, AccountCode.PROVIDER_CLEARING) == 0
    assert account_total(refund, AccountCode.AUTHORIZATIONS_HELD) == -AMOUNT
    assert account_total(refund, AccountCode.REFUNDS_PAYABLE) == 0


def test_every_void_entry_balances(provider_settings, simulator):
    refund = requested_void()
    outbox_deliver(message_id=OutboxMessage.objects.get(refund=refund).pk)

    for entry in JournalEntry.objects.filter(refund=refund):
        assert sum(entry.postings.values_list("amount_minor", flat=True)) == 0


def test_a_void_of_a_payment_captured_meanwhile_fails_and_is_reversed(provider_settings, simulator):
    refund = requested_void("captured")

    assert outbox_deliver(message_id=OutboxMessage.objects.get(refund=refund).pk) == "failed"

    refund.refresh_from_db()
    assert (refund.state, refund.failure_code, refund.failure_retryable) == (
        RefundState.FAILED,
        "payment_already_captured",
        False,
    )
    assert refund.provider_refund_id is None
    assert entries(refund) == [EntryType.VOID_PENDING, EntryType.VOID_REVERSED]
    payment = Payment.objects.get(pk=refund.payment_id)
    assert (payment.status, payment.refund_reserved_minor) == (PaymentStatus.AUTHORIZED, 0)


def test_a_timeout_is_retried_with_the_same_key_and_the_second_answer_completes(provider_settings, simulator):
    refund = requested_void("timeout")
    message = OutboxMessage.objects.get(refund=refund)

    assert outbox_deliver(message_id=message.pk) == "retry"
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
    intent_id = refund.payment.provider_payment_id
    # The simulator cancels before it stalls its answer; from then on the same key replays it at once.
    wait_for(
        lambda: simulator.request("GET", f"/v1/payment_intents/{intent_id}").json()["status"] == "canceled",
        message="the intent canceled at the simulator",
    )
    assert outbox_deliver(message_id=message.pk) == "succeeded"

    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert Payment.objects.get(pk=refund.payment_id).status == PaymentStatus.VOIDED


def test_a_hold_released_by_someone_else_first_still_completes_the_void(provider_settings, simulator):
    """Voided is what the void asks for: it is sent, and the provider's answer completes it (not a withdrawal)."""
    refund = requested_void()
    payment = Payment.objects.get(pk=refund.payment_id)
    simulator.request("POST", f"/v1/payment_intents/{payment.provider_payment_id}/cancel")
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.VOIDED)

    assert outbox_deliver(message_id=OutboxMessage.objects.get(refund=refund).pk) == "succeeded"

    refund.refresh_from_db()
    assert (refund.state, refund.failure_code) == (RefundState.COMPLETED, "")


def test_a_reviewed_void_approved_after_the_payment_was_voided_is_not_canceled():
    refund = make_refund(order=authorized_order(), amount_minor=AMOUNT, reason=Reason.GOODWILL)
    Payment.objects.filter(pk=refund.payment_id).update(status=PaymentStatus.VOIDED)

    refund_approve(refund_id=refund.pk, actor=agent("senior", role=Role.SENIOR_AGENT))

    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED


def test_a_void_canceled_after_approval_reverses_its_pending_entry():
    refund = requested_void()

    refund_cancel(refund_id=refund.pk, actor=agent("senior", role=Role.SENIOR_AGENT), note="customer kept it")

    refund.refresh_from_db()
    assert refund.state == RefundState.CANCELED
    assert entries(refund) == [EntryType.VOID_PENDING, EntryType.VOID_REVERSED]
    assert Payment.objects.get(pk=refund.payment_id).status == PaymentStatus.AUTHORIZED


# --- the provider's payment_intent.canceled -------------------------------------------------------------


@pytest.fixture
def secret(settings):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_WEBHOOK_SECRET = "whsec_void"
    return "whsec_void"


def canceled_event(intent_id: str, event_id: str = "evt_void_1") -> bytes:
    intent = {"id": intent_id, "object": "payment_intent", "status": "canceled", "amount": AMOUNT, "currency": "usd"}
    event = {"id": event_id, "object": "event", "type": "payment_intent.canceled", "created": 1700000000}
    return json.dumps({**event, "data": {"object": intent}}).encode()


def receive(payload: bytes, secret: str):
    return webhook_receive(
        provider="stripe", payload=payload, headers={"Stripe-Signature": sign_payload(payload, secret)}
    )


def test_the_canceled_event_completes_a_void_out_at_the_provider_once(secret):
    refund = requested_void()
    OutboxMessage.objects.filter(refund=refund).update(status=OutboxStatus.DONE)
    move_refund(refund, RefundState.SUBMITTING)
    intent_id = refund.payment.provider_payment_id

    first = receive(canceled_event(intent_id), secret)
    again = receive(canceled_event(intent_id, event_id="evt_void_2"), secret)

    refund.refresh_from_db()
    assert (first.status, again.status) == ("processed", "ignored")
    assert refund.state == RefundState.COMPLETED
    assert Payment.objects.get(pk=refund.payment_id).status == PaymentStatus.VOIDED
    assert entries(refund) == [EntryType.VOID_PENDING, EntryType.VOID_RELEASED]


def test_the_canceled_event_for_an_authorization_without_our_void_voids_the_payment(secret):
    order = authorized_order()
    payment = Payment.objects.get(order=order)

    result = receive(canceled_event(payment.provider_payment_id), secret)

    payment.refresh_from_db()
    assert result.status == "processed"
    assert payment.status == PaymentStatus.VOIDED
    # A voided payment is refused at request time, as before.
    with pytest.raises(DomainError):
        make_refund(order=order, amount_minor=AMOUNT)


def test_the_canceled_event_never_voids_a_payment_captured_here(secret):
    order = captured_order(amount_minor=AMOUNT)
    payment = Payment.objects.get(order=order)

    result = receive(canceled_event(payment.provider_payment_id), secret)

    payment.refresh_from_db()
    assert result.status == "ignored"
    assert payment.status == PaymentStatus.CAPTURED


# --- what the customer and the merchant read ------------------------------------------------------------


def test_the_customer_is_told_the_hold_is_released_never_refunded(provider_settings, simulator):
    refund = requested_void()
    assert email_for_event(refund=refund, event="refund.approved") == MSG_VOID_APPROVED
    outbox_deliver(message_id=OutboxMessage.objects.get(refund=refund).pk)
    refund.refresh_from_db()

    assert email_for_event(refund=refund, event="refund.completed") == MSG_VOID_COMPLETED
    view = status_view(refund, language="en")
    assert str(view.message.title) == "The hold on your payment has been released"
    assert [step.key for step in view.steps][-1] == "released"
    assert view.duration_text == ""
    assert "released" in processor_message(refund)
