"""Writing events (events.writer, events.receivers): one statement per change, what the documents say,
and the deliveries the SQL picks — the same endpoints `events.enums.subscribed` picks."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events.documents import refund_document, requested_document
from events.enums import SUBSCRIBABLE, DeliveryTrigger, EventType, subscribed
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.signing import secret_new, secret_seal
from events.writer import event_write
from refunds.enums import Reason, RefundState
from refunds.models import Refund
from refunds.selectors import refund_queryset
from refunds.services.merchants import merchant_default
from tests.events.conftest import PUBLIC_URL
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def endpoint(events: list[str], **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=merchant_default(), url=PUBLIC_URL, events=events, secret_sealed=secret_seal(secret_new()), **fields
    )


def test_an_auto_approved_create_writes_its_two_events_with_consecutive_sequences():
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    events = list(Event.objects.filter(refund=refund).order_by("sequence"))
    assert [e.type for e in events] == [EventType.CREATED, EventType.APPROVED]
    assert events[1].sequence == events[0].sequence + 1


def test_the_approved_event_names_the_policys_approval_as_the_refund_read_does():
    """Rendered from memory in the create's transaction (no decision or ledger read), it says what a read says."""
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    approved = Event.objects.get(refund=refund, type=EventType.APPROVED).data
    read = refund_document(refund_queryset().get(pk=refund.pk))
    assert approved["approvals"] == read["approvals"] and [a["by"] for a in approved["approvals"]] == ["system"]
    assert approved["ledger_entries"] == read["ledger_entries"]
    assert [e["type"] for e in approved["ledger_entries"]] == ["REFUND_PENDING"]


def test_the_created_event_shows_the_refund_as_it_was_requested():
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    created = Event.objects.get(refund=refund, type=EventType.CREATED).data
    assert created["state"] == RefundState.REQUESTED and created["decided_at"] is None
    assert created["approvals"] == [] and created["ledger_entries"] == []


@pytest.mark.parametrize("reason", [Reason.OTHER, Reason.GOODWILL])
def test_the_requested_document_derived_from_the_full_one_equals_rendering_it(reason):
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000, reason=reason)
    refund = refund_queryset().get(pk=refund.pk)
    assert requested_document(refund_document(refund)) == refund_document(refund, requested=True)


def test_deliveries_go_to_exactly_the_endpoints_subscribed_in_python_terms():
    """The SQL's subscription test (jsonb) agrees with `subscribed` for every pattern list and event type."""
    patterns = [[], *([p] for p in SUBSCRIBABLE), ["refund.*", "refund.created"], ["refund.approved", "refund.failed"]]
    endpoints = {endpoint(events): events for events in patterns}
    endpoint(["refund.*"], status="disabled")
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    for event in Event.objects.filter(refund=refund):
        got = set(WebhookDelivery.objects.filter(event=event).values_list("endpoint_id", flat=True))
        assert got == {e.pk for e, events in endpoints.items() if subscribed(events, event.type)}, event.type
    assert set(WebhookDelivery.objects.filter(event__refund=refund).values_list("trigger", flat=True)) == {
        DeliveryTrigger.EVENT
    }


def test_a_change_outside_a_batch_writes_its_event_and_deliveries_in_one_statement():
    endpoint(["refund.*"])
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        event = event_write(refund=refund, event_type=EventType.UPDATED, data=refund_document(refund))
    written = [q["sql"] for q in queries.captured_queries if "events_event" in q["sql"]]
    if connection.vendor == "postgresql":
        assert len(written) == 1
    assert event.pk is not None and WebhookDelivery.objects.filter(event=event).count() == 1
    assert event.sequence == Event.objects.filter(merchant=event.merchant).order_by("-sequence")[0].sequence


def test_sequences_stay_dense_and_ordered_across_creates():
    order = captured_order(amount_minor=100000)
    for amount, reason in itertools.product([1000, 2000], [Reason.OTHER, Reason.GOODWILL]):
        make_refund(order=order, amount_minor=amount, reason=reason)
    sequences = list(Event.objects.filter(merchant=merchant_default()).order_by("sequence").values_list("sequence"))
    assert [s for (s,) in sequences] == list(range(sequences[0][0], sequences[0][0] + len(sequences)))
    assert Refund.objects.filter(order=order).count() == 4
