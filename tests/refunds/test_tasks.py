from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.models import OutboxMessage
from refunds.tasks import sweep_outbox
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_sweeper_requeues_due_messages_but_not_leased_or_future_ones(monkeypatch):
    order = captured_order(amount_minor=100000)
    due, leased, future = (make_refund(order=order, amount_minor=100) for _ in range(3))
    now = timezone.now()
    OutboxMessage.objects.filter(refund=leased).update(lease_expires_at=now + timedelta(minutes=1))
    OutboxMessage.objects.filter(refund=future).update(available_at=now + timedelta(minutes=1))
    queued = []
    from refunds import tasks

    # What the sweeper selects is the subject here; real delivery is covered by tests/e2e/chaos.
    monkeypatch.setattr(tasks.deliver_outbox, "apply_async", lambda kwargs, **_: queued.append(kwargs["message_id"]))
    assert sweep_outbox() == 1
    assert queued == [OutboxMessage.objects.get(refund=due).pk]
