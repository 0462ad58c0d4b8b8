from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.models import IdempotencyRecord, OutboxMessage
from refunds.tasks import purge_idempotency_keys, sweep_outbox
from tests.refunds.factories import api_key, captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_idempotency_keys_are_kept_for_the_ttl_then_purged(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    api_key("merchant")
    from refunds.models import ApiKey

    key = ApiKey.objects.get()
    old = IdempotencyRecord.objects.create(api_key=key, key="old", fingerprint="x", response_status=202)
    fresh = IdempotencyRecord.objects.create(api_key=key, key="fresh", fingerprint="x", response_status=202)
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=49))
    IdempotencyRecord.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(hours=47))

    assert purge_idempotency_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_sweeper_requeues_due_messages_but_not_leased_or_future_ones(monkeypatch):
    order = captured_order(amount_minor=100000)
    due, leased, future = (make_refund(order=order, amount_minor=100) for _ in range(3))
    now = timezone.now()
    OutboxMessage.objects.filter(refund=leased).update(lease_expires_at=now + timedelta(minutes=1))
    OutboxMessage.objects.filter(refund=future).update(available_at=now + timedelta(minutes=1))
    queued = []
    from refunds import tasks

    # What the sweeper selects is the subject here; real delivery is covered by tests/chaos.
    monkeypatch.setattr(tasks.deliver_outbox, "apply_async", lambda kwargs, **_: queued.append(kwargs["message_id"]))
    assert sweep_outbox() == 1
    assert queued == [OutboxMessage.objects.get(refund=due).pk]
