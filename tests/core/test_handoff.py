"""OUTBOX_HANDOFF (core.handoff): `relay` writes the three outboxes' rows unmarked and publishes nothing.

`publish` is the default and stays as it was: each row marked queued in its
INSERT and a task published on commit. Both run the same create (an
auto-approved refund with a customer email and a merchant webhook endpoint)
through COMMIT, with Celery's publishing recorded instead of sent.
"""

from __future__ import annotations

from unittest import mock

import pytest
from celery.app.task import Task

from events.delivery import deliveries_sweep
from events.models import WebhookDelivery
from notifications.models import CustomerEmail
from notifications.outbox import email_sweep
from refunds.enums import RefundState
from refunds.models import OutboxMessage
from refunds.services.outbox import outbox_sweep
from tests.events.webhook_setup import endpoint_at
from tests.refunds.factories import make_refund
from tests.support.customer_states import customer_order

pytestmark = pytest.mark.django_db(transaction=True)
TASKS = {"refunds.deliver_outbox", "notifications.deliver_email", "events.deliver_endpoint"}


def create_recording_publishes() -> tuple[list[str], object]:
    """An auto-approved refund created and committed; the names of the tasks published meanwhile."""
    endpoint_at("https://93.184.215.14/hooks/refunds")
    published: list[str] = []

    def record(task, args=None, kwargs=None, **options):
        published.append(task.name)

    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=record):
        refund = make_refund(order=customer_order(), amount_minor=500)
    assert refund.state == RefundState.APPROVED
    return published, refund


def test_relay_mode_writes_every_outbox_row_unmarked_and_publishes_nothing(settings):
    settings.OUTBOX_HANDOFF = "relay"

    published, refund = create_recording_publishes()

    assert [name for name in published if name in TASKS] == []
    assert list(OutboxMessage.objects.filter(refund=refund).values_list("queued_until", flat=True)) == [None]
    emails = CustomerEmail.objects.filter(refund=refund).values_list("enqueued_until", flat=True)
    assert emails and set(emails) == {None}
    deliveries = WebhookDelivery.objects.filter(event__refund=refund).values_list("queued_until", flat=True)
    assert deliveries and set(deliveries) == {None}


def test_publish_mode_stays_the_default_marking_and_publishing_on_commit(settings):
    assert settings.OUTBOX_HANDOFF == "publish"

    published, refund = create_recording_publishes()

    assert {name for name in published if name in TASKS} == TASKS
    assert OutboxMessage.objects.get(refund=refund).queued_until is not None
    assert CustomerEmail.objects.filter(refund=refund, enqueued_until__isnull=True).count() == 0


def test_beat_sweeps_queue_what_relay_mode_wrote_when_no_relay_runs(settings):
    """A relay that is down loses nothing: beat's three sweepers queue the unmarked rows as lost tasks."""
    settings.OUTBOX_HANDOFF = "relay"
    _, refund = create_recording_publishes()
    published: list[str] = []

    def record(task, args=None, kwargs=None, **options):
        published.append(task.name)

    with mock.patch.object(Task, "apply_async", autospec=True, side_effect=record):
        assert outbox_sweep(limit=100) == [OutboxMessage.objects.get(refund=refund).pk]
        assert email_sweep(limit=100) >= 1
        assert deliveries_sweep() == 1

    assert {name for name in published if name in TASKS} == TASKS
    assert not OutboxMessage.objects.filter(refund=refund, queued_until__isnull=True).exists()
