"""Delivery of approved refunds to a real simulator process (no worker: delivery is called directly)."""

import time

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.errors import ERR_CONFLICT_STATE, ERR_EXCEEDS_REMAINING, DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from providers.base import ProviderOutcome
from providers.breaker import CircuitBreaker
from refunds.enums import OutboxStatus, Reason, RefundState, Role
from refunds.models import OutboxMessage, Refund
from refunds.services.cancel import refund_cancel
from refunds.services.outbox import outbox_deliver, outbox_replay
from refunds.services.outcome import refund_apply_outcome
from refunds.services.submit import refund_submit
from tests.refunds.factories import agent, captured_order, make_refund, merchant_system
from tests.support.live import free_port, wait_for

pytestmark = pytest.mark.django_db


def approved(mode="ok", amount=5000, order_amount=10000):
    order = captured_order(amount_minor=order_amount, provider_payment_id=f"pi_sim_{mode}_{timezone.now().timestamp()}")
    refund = make_refund(order=order, amount_minor=amount, reason=Reason.NOT_RECEIVED)
    assert refund.state == RefundState.APPROVED
    return refund, OutboxMessage.objects.get(refund=refund)


def test_delivery_completes_a_refund_and_settles_the_ledger(provider_settings, simulator):
    refund, message = approved("ok")

    assert outbox_deliver(message_id=message.pk) == "succeeded"

    refund.refresh_from_db()
    message.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert message.status == OutboxStatus.DONE and message.attempts == 1
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLED).exists()
    assert [r["id"] for r in simulator.refunds_for(refund.payment.provider_payment_id)] == [refund.provider_refund_id]
    actions = list(AuditEvent.objects.filter(refund=refund).values_list("action", flat=True))
    assert actions[-2:] == ["refund.submitted", "refund.completed"]


def test_second_delivery_of_a_done_message_does_nothing(provider_settings, simulator):
    refund, message = approved("ok")
    outbox_deliver(message_id=message.pk)

    assert outbox_deliver(message_id=message.pk) == "skipped"
    assert len(simulator.refunds_for(refund.payment.provider_payment_id)) == 1


def test_timeout_retries_with_the_same_key_and_one_refund_exists(provider_settings, simulator):
    refund, message = approved("timeout")

    assert outbox_deliver(message_id=message.pk) == "retry"
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING
    OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
    # The simulator stores the refund before it stalls its answer; from then on the same key replays it at once.
    wait_for(lambda: simulator.refunds_for(refund.payment.provider_payment_id), message="the refund at the simulator")
    assert outbox_deliver(message_id=message.pk) == "succeeded"
    assert len(simulator.refunds_for(refund.payment.provider_payment_id)) == 1


def test_provider_failure_fails_the_refund_and_reverses_it(provider_settings):
    refund, message = approved("fail")

    assert outbox_deliver(message_id=message.pk) == "failed"

    refund.refresh_from_db()
    assert (refund.state, refund.failure_code, refund.failure_retryable) == (
        RefundState.FAILED,
        "expired_or_canceled_card",
        False,
    )
    assert refund.payment.remaining_refundable_minor == 10000
    types = set(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    assert types == {EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}


def test_unreachable_provider_dead_letters_after_the_last_attempt_and_can_be_replayed(provider_settings):
    provider_settings.PROVIDER_API_BASE = f"http://127.0.0.1:{free_port()}"
    provider_settings.BREAKER_MIN_CALLS = 100
    refund, message = approved("ok")

    outcomes = []
    for _ in range(3):
        OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        outcomes.append(outbox_deliver(message_id=message.pk))

    assert outcomes == ["retry", "retry", "dead"]
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD and message.dead_at
    assert AuditEvent.objects.get(refund=refund, action="outbox.dead_lettered").flagged
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING  # never lost, never guessed

    outbox_replay(message_id=message.pk, actor=agent("finance", Role.FINANCE))
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)


def test_open_breaker_defers_without_calling_or_burning_attempts(provider_settings, simulator):
    breaker = CircuitBreaker("stripe")
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state() == "open"
    refund, message = approved("ok")

    assert outbox_deliver(message_id=message.pk) == "deferred"

    message.refresh_from_db()
    assert message.attempts == 0 and message.available_at > timezone.now()
    assert simulator.refunds_for(refund.payment.provider_payment_id) == []


def test_breaker_half_open_lets_its_trials_through_and_closes_on_their_success(provider_settings):
    now = [time.time()]
    breaker = CircuitBreaker("stripe", min_calls=2, cooldown=30, half_open_calls=1, clock=lambda: now[0])
    breaker.record_failure()
    breaker.record_failure()
    now[0] += 31  # the cooldown passes on the breaker's clock only
    assert breaker.state() == "half_open"
    assert breaker.allow() is True
    assert CircuitBreaker("stripe", half_open_calls=1, clock=lambda: now[0]).allow() is False  # one trial here
    breaker.record_success()
    assert breaker.state() == "closed"


def test_messages_the_provider_cannot_serve_never_stop_delivery_for_the_others(provider_settings, simulator):
    broken = [approved("broken")[1] for _ in range(4)]
    outcomes = []
    for _ in range(2):
        for message in broken:
            OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
            outcomes.append(outbox_deliver(message_id=message.pk))
    assert outcomes == ["retry"] * 8  # each retried on its own backoff (HTTP 500 for that key alone)

    _, message = approved("ok")

    assert outbox_deliver(message_id=message.pk) == "succeeded"
    stats = CircuitBreaker("stripe").stats()
    assert (stats.state, stats.opens) == ("closed", 0)


def test_delivery_goes_on_with_the_breakers_cache_down(provider_settings, simulator):
    provider_settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    refund, message = approved("ok")

    assert outbox_deliver(message_id=message.pk) == "succeeded"  # the breaker fails open, and says so in the logs
    assert len(simulator.refunds_for(refund.payment.provider_payment_id)) == 1


def test_canceled_refund_is_never_sent(provider_settings, simulator):
    refund, message = approved("ok")
    refund_cancel(refund_id=refund.pk, actor=merchant_system())

    assert outbox_deliver(message_id=message.pk) == "skipped"
    assert simulator.refunds_for(refund.payment.provider_payment_id) == []


def test_cancel_after_submission_is_refused(provider_settings):
    refund, message = approved("async")
    outbox_deliver(message_id=message.pk)
    with pytest.raises(DomainError) as error:
        refund_cancel(refund_id=refund.pk, actor=merchant_system())
    assert error.value.code == ERR_CONFLICT_STATE


def _fail_retryable(refund):
    refund_apply_outcome(
        refund_id=refund.pk,
        outcome=ProviderOutcome("failed", "re_x1", failure_code="insufficient_funds", retryable=True),
        source="test",
    )


def test_retry_of_a_retryable_failure_uses_a_new_key_and_completes(provider_settings, simulator):
    refund, message = approved("ok")
    # As if the first submission was made (claim) and the provider's refund then failed.
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING, submission_count=1)
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.DONE)
    _fail_retryable(refund)
    refund.refresh_from_db()
    assert refund.payment.remaining_refundable_minor == 10000
    assert not JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_REVERSED).exists()

    retried = refund_submit(refund_id=refund.pk, actor=merchant_system())

    assert retried.state == RefundState.COMPLETED
    assert OutboxMessage.objects.filter(refund=refund).order_by("pk").last().idempotency_key.endswith("-2")
    retried.payment.refresh_from_db()
    assert retried.payment.remaining_refundable_minor == 5000


def test_retry_rechecks_the_remaining_amount(provider_settings):
    refund, message = approved("ok", amount=6000)
    # As if the first submission was made (claim) and the provider's refund then failed.
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING, submission_count=1)
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.DONE)
    _fail_retryable(refund)
    make_refund(order=refund.order, amount_minor=5000)  # takes what the failure released

    with pytest.raises(DomainError) as error:
        refund_submit(refund_id=refund.pk, actor=merchant_system())
    assert error.value.code == ERR_EXCEEDS_REMAINING


def test_terminal_failure_cannot_be_retried(provider_settings):
    refund, message = approved("fail")
    outbox_deliver(message_id=message.pk)
    with pytest.raises(DomainError) as error:
        refund_submit(refund_id=refund.pk, actor=merchant_system())
    assert error.value.code == ERR_CONFLICT_STATE


def test_provider_answers_never_move_a_refund_backwards(provider_settings):
    # `failed` after completion is not backwards: it is a provider reversal (issue 12,
    # tests/refunds/services/test_provider_reversal.py).
    refund, message = approved("ok")
    outbox_deliver(message_id=message.pk)
    for late in (
        ProviderOutcome("pending", refund.provider_refund_id),
        ProviderOutcome("succeeded", refund.provider_refund_id),
    ):
        _, applied = refund_apply_outcome(refund_id=refund.pk, outcome=late, source="webhook")
        assert applied is False
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
