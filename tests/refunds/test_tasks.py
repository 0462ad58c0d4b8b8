from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.models import OutboxMessage
from refunds.tasks import sweep_outbox
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_sweeper_requeues_due_messages_but_not_leased_future_or_queued_ones(
    monkeypatch, django_capture_on_commit_callbacks
):
    order = captured_order(amount_minor=100000)
    due, leased, future, queued_already = (make_refund(order=order, amount_minor=100) for _ in range(4))
    now = timezone.now()
    # Their tasks were lost (the approval queued one each); only queued_already's is still trusted to come.
    OutboxMessage.objects.exclude(refund=queued_already).update(queued_until=None)
    OutboxMessage.objects.filter(refund=leased).update(lease_expires_at=now + timedelta(minutes=1))
    OutboxMessage.objects.filter(refund=future).update(available_at=now + timedelta(minutes=1))
    queued = []
    from refunds import tasks

    # What the sweeper selects is the subject here; real delivery is covered by tests/e2e/chaos.
    monkeypatch.setattr(tasks.deliver_outbox, "apply_async", lambda kwargs, **_: queued.append(kwargs["message_id"]))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_outbox() == 1
    assert queued == [OutboxMessage.objects.get(refund=due).pk]
    assert OutboxMessage.objects.get(refund=due).queued_until > now
