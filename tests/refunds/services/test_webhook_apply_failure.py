"""A webhook whose apply fails is not answered as a replay (issue 10, item 6).

Only the inbox insert may be read as "seen before". An IntegrityError raised
while applying the event (here a real one: the refund's REFUND_SETTLED entry
already exists, so the ledger's one-entry-per-type constraint refuses the
second) must reach the provider as a 500, so it retries, and leave nothing
behind: no inbox row, no half-applied refund.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection

from ledger.enums import EntryType
from ledger.models import JournalEntry
from ledger.services import refund_post_settled
from refunds.enums import RefundState, WebhookStatus
from refunds.models import WebhookEvent
from tests.refunds.factories import submitted_refund
from tests.support.stripe_events import post, receive, refund_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]


def succeeded(refund) -> bytes:
    return refund_event(
        event_id="evt_settles",
        provider_refund_id="re_settles",
        amount=refund.amount_minor,
        currency=refund.currency.lower(),
        refund_id=refund.public_id,
    )


def refund_whose_settlement_is_already_posted():
    refund = submitted_refund(amount_minor=3000)
    refund_post_settled(refund=refund)  # the apply will post it again: a unique violation in PostgreSQL
    return refund


def test_an_integrity_error_inside_the_apply_is_a_500_and_nothing_is_stored():
    refund = refund_whose_settlement_is_already_posted()
    payload = succeeded(refund)

    response = post(payload)

    assert response.status_code == 500, response.content
    assert response.json().get("status") != "duplicate"
    assert not WebhookEvent.objects.exists()
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLED).count() == 1


@pytest.fixture
def completion_refused_by_postgresql(transactional_db):
    """A real CHECK constraint the apply violates, lifted again by `lift()` (committed transactions, so DDL is free)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE refunds_refund ADD CONSTRAINT test_not_completed_yet CHECK (state <> 'completed')")

    def lift() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE refunds_refund DROP CONSTRAINT IF EXISTS test_not_completed_yet")

    yield lift
    lift()


def test_the_service_raises_instead_of_calling_it_a_replay_and_the_retry_is_applied(completion_refused_by_postgresql):
    refund = submitted_refund(amount_minor=3000)
    payload = succeeded(refund)

    with pytest.raises(IntegrityError):
        receive(payload)
    assert not WebhookEvent.objects.exists()
    refund.refresh_from_db()
    assert refund.state == RefundState.SUBMITTING

    completion_refused_by_postgresql()
    result = receive(payload)

    assert result.status == WebhookStatus.PROCESSED
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED


def test_a_true_replay_is_still_answered_as_a_duplicate():
    refund = submitted_refund(amount_minor=3000)
    payload = succeeded(refund)

    assert receive(payload).status == WebhookStatus.PROCESSED
    assert receive(payload).status == "duplicate"
    assert WebhookEvent.objects.get().replay_count == 1
