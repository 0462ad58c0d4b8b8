"""Sending an event again (events.services.redeliver)."""

from __future__ import annotations

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_NOT_FOUND, DomainError
from events.enums import DeliveryStatus, DeliveryTrigger
from events.models import Event, WebhookDelivery
from events.services.endpoints import endpoint_create, endpoint_delete, endpoint_update
from events.services.redeliver import event_redeliver
from tests.events.conftest import PUBLIC_URL
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

STAFF = Actor.system("alice")


@pytest.fixture
def kicked(monkeypatch):
    """The endpoints whose delivery task would be queued after commit (the delivery engine is not the subject)."""
    calls: list[int] = []
    monkeypatch.setattr("events.services.redeliver.endpoints_kick", lambda *, endpoint_ids: calls.extend(endpoint_ids))
    return calls


def endpoint(merchant, events=("refund.*",)):
    return endpoint_create(merchant=merchant, url=PUBLIC_URL, events=list(events), actor=STAFF)[0]


def created_event() -> Event:
    refund = make_refund(order=captured_order(), amount_minor=1000)
    return Event.objects.filter(refund=refund, type="refund.created").get()


def test_redelivery_to_one_endpoint_adds_a_delivery_beside_the_first(acme, kicked):
    target = endpoint(acme)
    event = created_event()
    [delivery] = event_redeliver(event=event, actor=STAFF, endpoint=target)
    assert (delivery.trigger, delivery.requested_by, delivery.status) == (
        DeliveryTrigger.REDELIVER,
        "alice",
        DeliveryStatus.PENDING,
    )
    assert WebhookDelivery.objects.filter(event=event, endpoint=target).count() == 2
    assert kicked == [target.pk]


def test_redelivery_without_an_endpoint_goes_to_every_live_subscribed_one(acme, kicked):
    everything = endpoint(acme)
    created_only = endpoint(acme, ["refund.created"])
    endpoint(acme, ["refund.completed"])
    disabled = endpoint(acme)
    endpoint_update(endpoint_id=disabled.pk, actor=STAFF, disabled=True)
    deleted = endpoint(acme)
    endpoint_delete(endpoint_id=deleted.pk, actor=STAFF)
    deliveries = event_redeliver(event=created_event(), actor=STAFF)
    assert sorted(d.endpoint_id for d in deliveries) == sorted([everything.pk, created_only.pk])
    assert sorted(kicked) == sorted([everything.pk, created_only.pk])


def test_another_merchants_or_a_deleted_endpoint_is_not_found(acme, globex, kicked):
    event = created_event()
    foreign = endpoint(globex)
    deleted = endpoint(acme)
    endpoint_delete(endpoint_id=deleted.pk, actor=STAFF)
    for target in (foreign, deleted):
        with pytest.raises(DomainError) as refused:
            event_redeliver(event=event, actor=STAFF, endpoint=target)
        assert refused.value.code == ERR_NOT_FOUND
    assert not WebhookDelivery.objects.filter(trigger=DeliveryTrigger.REDELIVER).exists()


def test_a_disabled_or_unsubscribed_endpoint_is_a_conflict(acme, kicked):
    event = created_event()
    disabled = endpoint(acme)
    endpoint_update(endpoint_id=disabled.pk, actor=STAFF, disabled=True)
    with pytest.raises(DomainError) as refused:
        event_redeliver(event=event, actor=STAFF, endpoint=disabled)
    assert refused.value.code == ERR_CONFLICT_STATE and "enable it first" in refused.value.message
    other_type = endpoint(acme, ["refund.completed"])
    with pytest.raises(DomainError) as refused:
        event_redeliver(event=event, actor=STAFF, endpoint=other_type)
    assert refused.value.code == ERR_CONFLICT_STATE and "not subscribed to refund.created" in refused.value.message
    assert kicked == []


def test_no_subscribed_endpoint_at_all_is_a_clear_conflict(acme, globex, kicked):
    endpoint(globex)  # another merchant's endpoints never count
    with pytest.raises(DomainError) as refused:
        event_redeliver(event=created_event(), actor=STAFF)
    assert refused.value.code == ERR_CONFLICT_STATE and "nowhere to send it" in refused.value.message


def test_a_redelivery_is_audited_on_the_refund(acme, kicked):
    target = endpoint(acme)
    event = created_event()
    event_redeliver(event=event, actor=STAFF)
    audit = AuditEvent.objects.get(action=AuditAction.EVENT_REDELIVERED)
    assert (audit.refund_id, audit.subject, audit.actor_label) == (event.refund_id, f"event {event.public_id}", "alice")
    assert target.public_id in audit.note
