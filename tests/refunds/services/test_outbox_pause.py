"""A submission pause at the outbox (issue 16), against a real simulator: held, not lost, sent in order on resume."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from refunds.enums import OutboxStatus, PauseKind, Reason, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services import outbox as outbox_service
from refunds.services.outbox import outbox_deliver, outbox_sweep
from refunds.services.pauses import exclude_held, pause, resume
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("system:test")
SUBMIT = PauseKind.SUBMISSION


def approved(n: int = 0, **payment_fields) -> tuple[Refund, OutboxMessage]:
    fields = {"provider_payment_id": f"pi_sim_ok_pause_{timezone.now().timestamp()}_{n}", **payment_fields}
    order = captured_order(amount_minor=10000, **fields)
    refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED)
    assert refund.state == RefundState.APPROVED
    return refund, OutboxMessage.objects.get(refund=refund)


def received(simulator, payment_ids: list[str]) -> list[str]:
    """The payments the simulator was asked to refund, oldest call first."""
    response = simulator.request("GET", "/v1/refunds", params={"limit": 100})
    response.raise_for_status()
    wanted = set(payment_ids)
    return [r["payment_intent"] for r in reversed(response.json()["data"]) if r["payment_intent"] in wanted]


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The delivery tasks published, in order (their publish runs on commit; the broker is not the subject)."""
    published: list[int] = []

    def record(task, *, kwargs, **_options) -> bool:
        published.append(kwargs["message_id"])
        return True

    monkeypatch.setattr(outbox_service, "enqueue_best_effort", record)
    return published


def test_a_held_message_is_not_sent_and_uses_no_attempt(provider_settings, simulator):
    refund, message = approved()
    pause(SUBMIT, provider="stripe", reason="provider incident", actor=SYSTEM)

    assert outbox_deliver(message_id=message.pk) == "held"

    message.refresh_from_db()
    refund.refresh_from_db()
    assert (message.status, message.attempts, message.queued_until) == (OutboxStatus.PENDING, 0, None)
    assert refund.state == RefundState.APPROVED
    assert simulator.refunds_for(refund.payment.provider_payment_id) == []


def test_a_pause_of_every_provider_holds_too_and_a_retried_message_stays_submitting(provider_settings, simulator):
    refund, message = approved()
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now() - timedelta(seconds=1))
    pause(SUBMIT, reason="all providers", actor=SYSTEM)

    assert outbox_deliver(message_id=message.pk) == "held"
    assert simulator.refunds_for(refund.payment.provider_payment_id) == []


def test_the_sweeper_skips_held_messages(provider_settings, queued, django_capture_on_commit_callbacks):
    _, message = approved()
    OutboxMessage.objects.update(queued_until=None)  # its task was lost: the sweeper's case
    pause(SUBMIT, provider="stripe", reason="provider incident", actor=SYSTEM)

    with django_capture_on_commit_callbacks(execute=True):
        swept = outbox_sweep(limit=100)

    assert (swept, queued) == ([], [])
    assert not exclude_held(OutboxMessage.objects.filter(pk=message.pk)).exists()
    resume(SUBMIT, provider="stripe", reason="provider back", actor=SYSTEM)  # queues it itself
    OutboxMessage.objects.update(queued_until=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_sweep(limit=100) == [message.pk]


def test_resume_sends_every_held_message_once_in_outbox_order(
    provider_settings, simulator, queued, django_capture_on_commit_callbacks
):
    pause(SUBMIT, provider="stripe", reason="provider incident", actor=SYSTEM)
    made = [approved(n) for n in range(5)]
    # Outbox order is (available_at, id): the third message became due first.
    OutboxMessage.objects.filter(pk=made[2][1].pk).update(available_at=timezone.now() - timedelta(minutes=5))
    for _, message in made:
        assert outbox_deliver(message_id=message.pk) == "held"
    expected = list(
        OutboxMessage.objects.filter(pk__in=[m.pk for _, m in made])
        .order_by("available_at", "id")
        .values_list("pk", flat=True)
    )
    assert expected[0] == made[2][1].pk

    with django_capture_on_commit_callbacks(execute=True):
        resumed = resume(SUBMIT, provider="stripe", reason="provider back", actor=SYSTEM)

    assert queued == expected and resumed.counts == {"queued": 5}
    for message_id in queued:  # one worker taking the queue in order
        assert outbox_deliver(message_id=message_id) == "succeeded"
    payments = {m.pk: r.payment.provider_payment_id for r, m in made}
    assert received(simulator, list(payments.values())) == [payments[pk] for pk in expected]
    assert set(Refund.objects.filter(pk__in=[r.pk for r, _ in made]).values_list("state", flat=True)) == {
        RefundState.COMPLETED
    }
    event = AuditEvent.objects.get(action=AuditAction.OPERATIONS_RESUMED)
    assert event.after["queued"] == 5


def test_lifting_one_pause_leaves_what_another_still_holds(
    provider_settings, queued, django_capture_on_commit_callbacks
):
    pause(SUBMIT, reason="everything", actor=SYSTEM)
    pause(SUBMIT, provider="stripe", reason="stripe itself", actor=SYSTEM)
    _, message = approved()
    assert outbox_deliver(message_id=message.pk) == "held"

    with django_capture_on_commit_callbacks(execute=True):
        resume(SUBMIT, reason="the rest is fine", actor=SYSTEM)

    assert queued == []
    assert outbox_deliver(message_id=message.pk) == "held"


def test_a_call_already_under_way_when_the_pause_lands_finishes_and_is_counted_in_flight(
    provider_settings, simulator, monkeypatch
):
    refund, message = approved()
    _, waiting = approved(1)
    real_get_provider = outbox_service.get_provider

    def pause_during_the_call(name):
        pause(SUBMIT, provider="stripe", reason="mid-call", actor=SYSTEM)
        return real_get_provider(name)

    monkeypatch.setattr(outbox_service, "get_provider", pause_during_the_call)

    assert outbox_deliver(message_id=message.pk) == "succeeded"

    assert [r["id"] for r in simulator.refunds_for(refund.payment.provider_payment_id)] != []
    event = AuditEvent.objects.get(action=AuditAction.OPERATIONS_PAUSED)
    assert (event.after["in_flight"], event.after["held"]) == (1, 1)
    assert outbox_deliver(message_id=waiting.pk) == "held"
