"""Issue 12 over real HTTP: the simulator fails a refund after it succeeded; its webhooks move it to failed.

Simulator, gunicorn and a Celery worker (the module's `stack`): the refund
completes through the provider as usual, then `POST /_sim/refunds/{id}/fail`
makes the provider fail it and send `refund.updated` and
`charge.refund.updated` to `/webhooks/payments`. The refund ends `failed`
once (one reversal, two events), its settlement reversed in the ledger, the
amount refundable again, and the customer emailed once.
"""

import requests

from audit.enums import AuditAction
from audit.models import AuditEvent
from ledger.enums import EntryType
from ledger.models import JournalEntry
from ledger.services import trial_balance
from notifications.messages import MSG_REVERSED
from notifications.models import CustomerEmail
from refunds.enums import WebhookStatus
from refunds.models import WebhookEvent
from tests.support.merchant import push_order, refund_body, wait_state


def test_a_refund_the_provider_fails_after_success_ends_failed_with_its_settlement_reversed(stack, stack_merchant):
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=10000)
    created = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(3000), **{"Idempotency-Key": "reversal-1"}
    ).json()
    refund = wait_state(stack_merchant, created["refund_id"], {"completed"}, timeout=30)

    failed_at_provider = requests.post(
        f"{stack.simulator.url}/_sim/refunds/{refund['provider_refund_id']}/fail",
        data={"failure_reason": "expired_or_canceled_card"},
        timeout=10,
    )
    assert failed_at_provider.status_code == 200, failed_at_provider.text

    refund = wait_state(stack_merchant, created["refund_id"], {"failed"}, timeout=30)
    stack.wait_idle()
    assert (refund["failure_code"], refund["failure_retryable"]) == ("expired_or_canceled_card", False)
    events = WebhookEvent.objects.filter(
        provider_refund_id=refund["provider_refund_id"], payload__type__in=["refund.updated", "charge.refund.updated"]
    ).exclude(note__startswith="succeeded")
    assert sorted(events.values_list("status", flat=True)) == [WebhookStatus.IGNORED, WebhookStatus.PROCESSED]
    entries = JournalEntry.objects.filter(refund__public_id=refund["refund_id"])
    assert sorted(entries.values_list("entry_type", flat=True)) == sorted(
        [EntryType.REFUND_PENDING, EntryType.REFUND_SETTLED, EntryType.REFUND_SETTLEMENT_REVERSED,
         EntryType.REFUND_REVERSED]
    )  # fmt: skip
    assert set(trial_balance().values()) == {0}
    assert stack_merchant.get(f"/v1/orders/{order_id}/refunds").json()["remaining_refundable_minor"] == 10000
    assert (
        AuditEvent.objects.filter(
            refund__public_id=refund["refund_id"], action=AuditAction.REFUND_PROVIDER_REVERSED
        ).count()
        == 1
    )
    assert CustomerEmail.objects.filter(refund__public_id=refund["refund_id"], message_id=MSG_REVERSED).count() == 1
