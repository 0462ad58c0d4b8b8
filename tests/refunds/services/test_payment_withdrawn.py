"""A refund whose payment was charged back or voided after it was requested is never sent (issue 10 item 2).

Creation refuses such payments; these tests charge the payment back (or void it)
afterwards — as the merchant's order push does — and check the refund is stopped
at approval and right before the provider call, through the one transition
function: reservation released, ledger reversed, outbox closed, customer told.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import ERR_CHARGED_BACK, ERR_VOIDED, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from notifications.outbox import deliver_email
from refunds.enums import OutboxStatus, PaymentStatus, Reason, RefundState, Role
from refunds.models import OutboxMessage, Payment, Refund
from refunds.services.decide import refund_approve
from refunds.services.outbox import outbox_deliver
from refunds.services.submit import refund_submit
from tests.refunds.factories import agent, captured_order, make_refund, move_refund, submitted_refund

pytestmark = pytest.mark.django_db
S = RefundState
ERROR_FOR = {PaymentStatus.CHARGED_BACK: ERR_CHARGED_BACK, PaymentStatus.VOIDED: ERR_VOIDED}
CODE_FOR = {PaymentStatus.CHARGED_BACK: "payment_charged_back", PaymentStatus.VOIDED: "payment_voided"}
WITHDRAWN = pytest.mark.parametrize("status", [PaymentStatus.CHARGED_BACK, PaymentStatus.VOIDED])


@pytest.fixture(autouse=True)
def _emails_run_inline():
    """The customer's email is sent in-process, so the test sees what the customer is told."""
    with mock.patch.object(
        deliver_email, "apply_async", side_effect=lambda *, kwargs, **_: deliver_email.apply(kwargs=kwargs)
    ):
        yield


def withdraw(refund: Refund, status: str) -> None:
    """What `POST /v1/orders` does when the merchant reports the chargeback (or void)."""
    Payment.objects.filter(pk=refund.payment_id).update(status=status)


def entries(refund: Refund) -> set[str]:
    return set(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))


def reserved(refund: Refund) -> int:
    return Payment.objects.get(pk=refund.payment_id).refund_reserved_minor


def emails_for(refund: Refund) -> list[str]:
    return [m.extra_headers["X-Refund-Message"] for m in mail.outbox if refund.order.order_id in m.subject]


@WITHDRAWN
def test_approving_a_refund_of_a_charged_back_payment_is_refused_and_cancels_it(
    status, django_capture_on_commit_callbacks
):
    refund = make_refund(order=captured_order(), amount_minor=5000, reason=Reason.GOODWILL)
    assert refund.state == S.REQUESTED
    withdraw(refund, status)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError) as error:
        refund_approve(refund_id=refund.pk, actor=agent("checker"), note="looks fine")

    assert error.value.code == ERROR_FOR[status]
    refund.refresh_from_db()
    assert (refund.state, refund.failure_code) == (S.CANCELED, CODE_FOR[status])
    assert reserved(refund) == 0
    assert entries(refund) == set()  # never approved: nothing was posted, nothing to reverse
    assert not OutboxMessage.objects.filter(refund=refund).exists()
    assert AuditEvent.objects.filter(refund=refund, action="refund.canceled").exists()
    assert emails_for(refund) == ["refund.canceled"]


@WITHDRAWN
def test_an_approved_refund_of_a_payment_charged_back_meanwhile_is_not_sent(
    status, provider_settings, simulator, django_capture_on_commit_callbacks
):
    order = captured_order(provider_payment_id=f"pi_sim_ok_{timezone.now().timestamp()}")
    refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED)
    assert refund.state == S.APPROVED  # auto-approved: the policy never saw the chargeback
    message = OutboxMessage.objects.get(refund=refund)
    withdraw(refund, status)

    with django_capture_on_commit_callbacks(execute=True):
        outbox_deliver(message_id=message.pk)

    assert simulator.refunds_for(order.payment.provider_payment_id) == []
    refund.refresh_from_db()
    message.refresh_from_db()
    assert (refund.state, refund.failure_code) == (S.CANCELED, CODE_FOR[status])
    assert message.status == OutboxStatus.CANCELED
    assert reserved(refund) == 0
    assert entries(refund) == {EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}
    assert emails_for(refund) == ["refund.canceled"]


def test_a_submitted_refund_of_a_payment_charged_back_meanwhile_fails_without_another_call(
    provider_settings, simulator, django_capture_on_commit_callbacks
):
    """The first call answered 500 (outcome unknown, the refund stays `submitting`); the chargeback arrives
    before the retry. The retry is not made: the refund fails, terminally, and is reversed."""
    order = captured_order(provider_payment_id=f"pi_sim_5xx_{timezone.now().timestamp()}")
    refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED)
    message = OutboxMessage.objects.get(refund=refund)
    assert outbox_deliver(message_id=message.pk) == "retry"
    withdraw(refund, PaymentStatus.CHARGED_BACK)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
            if outbox_deliver(message_id=message.pk) != "retry":
                break

    assert simulator.refunds_for(order.payment.provider_payment_id) == []
    refund.refresh_from_db()
    message.refresh_from_db()
    assert (refund.state, refund.failure_code, refund.failure_retryable) == (
        S.FAILED,
        "payment_charged_back",
        False,
    )
    assert message.status == OutboxStatus.CANCELED
    assert reserved(refund) == 0
    assert entries(refund) == {EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}
    assert emails_for(refund) == ["refund.failed"]


def test_a_failed_refund_of_a_charged_back_payment_is_not_retried():
    refund = move_refund(submitted_refund(), S.FAILED, changes={"failure_code": "x", "failure_retryable": True})
    withdraw(refund, PaymentStatus.CHARGED_BACK)

    with pytest.raises(DomainError) as error:
        refund_submit(refund_id=refund.pk, actor=agent("finance", role=Role.FINANCE))

    assert error.value.code == ERR_CHARGED_BACK
    assert Refund.objects.get(pk=refund.pk).state == S.FAILED
    assert not OutboxMessage.objects.filter(refund=refund).exists()
    assert reserved(refund) == 0
