"""The provider inbox partitioned by month (issue 17, refunds/0030): every event still stored and applied once."""

import pytest
from django.db import IntegrityError, connection, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from providers.stripe.signature import sign_payload
from refunds.enums import RefundState, WebhookStatus
from refunds.models import WebhookEvent, WebhookEventKey
from refunds.services.webhooks import webhook_receive
from tests.refunds.factories import submitted_refund
from tests.support.partitions import clock_at, month_edges, partition_of
from tests.support.stripe_events import refund_event

pytestmark = pytest.mark.django_db

SECRET = "whsec_partitions"


@pytest.fixture(autouse=True)
def _stripe(settings):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_WEBHOOK_SECRET = SECRET


def succeeded(refund, event_id="evt_month_end") -> bytes:
    return refund_event(
        event_id=event_id,
        provider_refund_id="re_month_end",
        status="succeeded",
        amount=refund.amount_minor,
        currency=refund.currency.lower(),
        refund_id=refund.public_id,
    )


def receive(payload: bytes):
    headers = {"Stripe-Signature": sign_payload(payload, SECRET)}
    return webhook_receive(provider="stripe", payload=payload, headers=headers)


# --- the attack first -------------------------------------------------------------


def test_a_provider_event_retried_across_a_month_end_is_stored_and_applied_once():
    refund = submitted_refund()
    payload = succeeded(refund)
    last_second, first_second = month_edges()
    with clock_at(last_second):
        first = receive(payload)
    with clock_at(first_second):
        retried = receive(payload)
        probe = WebhookEvent.objects.create(
            provider="stripe", event_id="evt_probe", event_type="probe", payload={}, status=WebhookStatus.IGNORED
        )
    assert (first.status, retried.status) == (WebhookStatus.PROCESSED, "duplicate")
    stored = WebhookEvent.objects.get(event_id="evt_month_end")
    assert stored.replay_count == 1
    # The retry came in another month's partition: only the key table could have refused it.
    assert partition_of("refunds_webhookevent", stored.pk) != partition_of("refunds_webhookevent", probe.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_RECEIVED, refund=refund).count() == 1


def test_without_its_key_table_the_partitioned_inbox_would_take_the_same_event_twice():
    # Why refunds.WebhookEventKey exists: the inbox's own unique key now ends with received_at.
    last_second, first_second = month_edges()
    fields = dict(provider="stripe", event_id="evt_twice", event_type="x", payload={}, status=WebhookStatus.IGNORED)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE refunds_webhookevent DISABLE TRIGGER refunds_webhookevent_claim_key")
    with clock_at(last_second):
        WebhookEvent.objects.create(**fields)
    with clock_at(first_second):
        WebhookEvent.objects.create(**fields)
    assert WebhookEvent.objects.filter(event_id="evt_twice").count() == 2


def test_the_same_event_id_twice_is_refused_whatever_the_month_and_whoever_inserts_it():
    last_second, first_second = month_edges()
    fields = dict(provider="stripe", event_id="evt_raw", event_type="x", payload={}, status=WebhookStatus.IGNORED)
    with clock_at(last_second):
        WebhookEvent.objects.create(**fields)
    with clock_at(first_second), pytest.raises(IntegrityError), transaction.atomic():
        WebhookEvent.objects.create(**fields)
    # Another provider's event may carry the same id.
    with clock_at(first_second):
        WebhookEvent.objects.create(**{**fields, "provider": "manual"})
    assert set(WebhookEventKey.objects.values_list("provider", "event_id")) == {
        ("stripe", "evt_raw"),
        ("manual", "evt_raw"),
    }


def test_a_stored_event_keeps_its_key_and_a_deleted_one_frees_it():
    stored = WebhookEvent.objects.create(
        provider="stripe", event_id="evt_keyed", event_type="x", payload={}, status=WebhookStatus.IGNORED
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEvent.objects.filter(pk=stored.pk).update(event_id="evt_other")
    WebhookEvent.objects.filter(pk=stored.pk).update(status=WebhookStatus.HELD, replay_count=3)  # the rest may change
    WebhookEvent.objects.filter(pk=stored.pk).delete()
    assert not WebhookEventKey.objects.filter(event_id="evt_keyed").exists()
