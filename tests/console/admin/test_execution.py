import pytest
from django.utils import timezone

from refunds.enums import OutboxStatus, PayoutStatus, RefundState, Role
from refunds.models import OutboxMessage, PayoutTask
from tests.refunds.factories import captured_order, make_refund, staff_client

pytestmark = pytest.mark.django_db


def test_finance_replays_a_dead_letter_from_admin():
    refund = make_refund(order=captured_order(), amount_minor=1000)
    message = OutboxMessage.objects.get(refund=refund)
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.DEAD, attempts=8, dead_at=timezone.now())
    finance = staff_client("fin", Role.FINANCE)

    assert finance.get("/admin/refunds/outboxmessage/?status__exact=dead").status_code == 200
    response = finance.post(
        "/admin/refunds/outboxmessage/", {"action": "replay_dead_letters", "_selected_action": [message.pk]}
    )

    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)


def test_agents_cannot_see_the_outbox():
    assert staff_client("ag", Role.AGENT).get("/admin/refunds/outboxmessage/").status_code == 403


def test_finance_marks_a_manual_payout_paid_in_admin(settings):
    settings.PROVIDER = "manual"
    refund = make_refund(order=captured_order(), amount_minor=1000)
    task = PayoutTask.objects.get(refund=refund)
    finance = staff_client("fin", Role.FINANCE)

    response = finance.post(f"/admin/refunds/payouttask/{task.pk}/change/", {"reference": "SEPA-2026-11-23-001"})

    assert response.status_code == 302
    refund.refresh_from_db()
    task.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert (task.status, task.reference, task.paid_by.username) == ("paid", "SEPA-2026-11-23-001", "fin")
    assert finance.get(f"/admin/refunds/payouttask/{task.pk}/change/").status_code == 200  # read-only now


def test_risk_cannot_mark_payouts_paid(settings):
    settings.PROVIDER = "manual"
    refund = make_refund(order=captured_order(), amount_minor=1000)
    task = PayoutTask.objects.get(refund=refund)
    response = staff_client("risky", Role.RISK).post(f"/admin/refunds/payouttask/{task.pk}/change/", {"reference": "X"})
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.status == PayoutStatus.OPEN
