"""Delivery metrics against the real simulator (`outbox_delivery_attempts_total`, `provider_request_seconds`)
and the outbox gauges read from the database (`outbox_pending_messages`, `…_oldest_pending_seconds`,
`outbox_dead_letters`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.actor import Actor
from refunds.enums import PauseKind, Reason, RefundState
from refunds.models import OperationsPause, OutboxMessage
from refunds.services.outbox import outbox_deliver
from tests.refunds.factories import captured_order, make_refund
from tests.support.live import free_port
from tests.support.samples import Delta, scraped_value

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(provider_settings):
    provider_settings.BREAKER_MIN_CALLS = 100  # these tests count calls: the breaker must let every one through
    return provider_settings


def approved(mode: str):
    order = captured_order(amount_minor=10000, provider_payment_id=f"pi_sim_{mode}_{timezone.now().timestamp()}")
    refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED)
    assert refund.state == RefundState.APPROVED
    return refund, OutboxMessage.objects.get(refund=refund)


def attempts(outcome: str) -> Delta:
    return Delta("outbox_delivery_attempts_total", provider="stripe", outcome=outcome)


def calls(outcome: str) -> Delta:
    return Delta("provider_request_seconds_count", provider="stripe", operation="execute_refund", outcome=outcome)


def test_a_delivered_refund_is_one_sent_attempt_and_one_ok_call(delivery):
    sent, ok = attempts("sent"), calls("ok")
    _refund, message = approved("ok")
    assert outbox_deliver(message_id=message.pk) == "succeeded"
    assert outbox_deliver(message_id=message.pk) == "skipped"  # done: no attempt, no call
    assert (sent.now(), ok.now()) == (1, 1)


def test_a_refusal_by_the_provider_is_a_rejected_attempt(delivery):
    rejected = attempts("rejected")
    _refund, message = approved("fail")
    assert outbox_deliver(message_id=message.pk) == "failed"
    assert rejected.now() == 1


def test_an_unknown_outcome_is_a_retry_then_dead_after_the_last_attempt(delivery):
    delivery.PROVIDER_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens
    retry, dead, unavailable = attempts("retry"), attempts("dead"), calls("unavailable")
    _refund, message = approved("ok")
    outcomes = []
    for _ in range(3):  # OUTBOX_MAX_ATTEMPTS
        OutboxMessage.objects.filter(pk=message.pk).update(available_at=timezone.now())
        outcomes.append(outbox_deliver(message_id=message.pk))
    assert outcomes == ["retry", "retry", "dead"]
    assert (retry.now(), dead.now(), unavailable.now()) == (2, 1, 3)
    assert scraped_value("outbox_dead_letters", provider="stripe") == 1


def test_the_backlog_gauges_count_pending_messages_and_those_held_by_a_submission_pause(db):
    assert scraped_value("outbox_pending_messages", provider="stripe", held="false") == 0
    assert scraped_value("outbox_oldest_pending_seconds", provider="stripe") == 0
    _refund, message = approved("ok")
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    assert scraped_value("outbox_pending_messages", provider="stripe", held="false") == 1
    assert scraped_value("outbox_pending_messages", provider="stripe", held="true") == 0
    assert scraped_value("outbox_oldest_pending_seconds", provider="stripe") >= 600
    assert scraped_value("outbox_pending_messages", provider="manual", held="false") is None  # settled by hand

    OperationsPause.objects.create(
        kind=PauseKind.SUBMISSION, provider="stripe", reason="incident 42", paused_by_label=Actor.system("t").label
    )
    assert scraped_value("outbox_pending_messages", provider="stripe", held="true") == 1
    assert scraped_value("outbox_pending_messages", provider="stripe", held="false") == 0
