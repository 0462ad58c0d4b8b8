"""A webhook is applied only to the refund it is about (issue 10, item 5).

A signed event names the provider's refund (`data.object.id`) and, in its
metadata, ours. The provider id decides; the metadata is a fallback only for a
refund whose provider id we have not learnt yet and that is out at the
provider. Anything that does not add up is held for finance, answered 200, and
changes nothing.
"""

from __future__ import annotations

import pytest

from ledger.models import JournalEntry
from providers.base import ProviderOutcome
from refunds.enums import Reason, RefundState, WebhookStatus
from refunds.models import Refund, WebhookEvent
from refunds.services.outcome import refund_apply_outcome
from tests.refunds.factories import captured_order, make_refund, move_refund, submitted_refund
from tests.support import stripe_events
from tests.support.stripe_events import post, receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]


def refund_event(
    *,
    provider_refund_id: str,
    metadata_refund_id: str,
    status: str = "failed",
    amount: int = 3000,
    currency: str = "usd",
    event_id: str = "evt_attack",
) -> bytes:
    return stripe_events.refund_event(
        event_id=event_id,
        event_type=f"refund.{status}",
        provider_refund_id=provider_refund_id,
        status=status,
        failure_reason="declined" if status == "failed" else None,
        amount=amount,
        currency=currency,
        refund_id=metadata_refund_id,
    )


def out_at_provider(provider_refund_id: str = "re_victim") -> Refund:
    """A 30.00 refund the provider acknowledged as pending under `provider_refund_id`."""
    refund = submitted_refund(amount_minor=3000)
    pending = ProviderOutcome(status="pending", provider_refund_id=provider_refund_id, raw={"status": "pending"})
    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=pending, source="test")
    assert applied and refund.state == RefundState.PROVIDER_PENDING
    return refund


def snapshot(refund: Refund) -> tuple:
    """What a webhook could change: the refund's state and provider fields, and its ledger entries."""
    refund = Refund.objects.get(pk=refund.pk)
    entries = sorted(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    return (refund.state, refund.provider_refund_id, refund.provider_status, refund.failure_code, entries)


def test_another_provider_refunds_failure_naming_our_refund_in_metadata_is_held(client):
    """The attack: `refund.failed` for re_attacker, carrying the victim's refund id in its metadata."""
    victim = out_at_provider("re_victim")
    before = snapshot(victim)
    payload = refund_event(provider_refund_id="re_attacker", metadata_refund_id=victim.public_id)

    response = post(payload, client)

    assert response.status_code == 200
    assert response.json()["status"] == WebhookStatus.HELD
    assert snapshot(victim) == before
    held = WebhookEvent.objects.get(event_id="evt_attack")
    assert held.status == WebhookStatus.HELD
    assert held.refund is None
    assert "re_victim" in held.note and "re_attacker" in held.note and victim.public_id in held.note


def test_the_provider_refund_id_decides_over_the_metadata():
    victim = out_at_provider("re_victim")
    other = out_at_provider("re_other")
    before = snapshot(victim)
    payload = refund_event(provider_refund_id="re_other", metadata_refund_id=victim.public_id)

    assert receive(payload).status == WebhookStatus.PROCESSED

    assert snapshot(victim) == before
    other.refresh_from_db()
    assert other.state == RefundState.FAILED


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [(2999, "usd", "amount 29.99 USD"), (3000, "eur", "currency EUR"), (300000, "usd", "amount 3000.00 USD")],
)
def test_an_event_for_our_provider_refund_with_another_amount_or_currency_is_held(amount, currency, why):
    refund = out_at_provider("re_victim")
    before = snapshot(refund)
    payload = refund_event(
        provider_refund_id="re_victim", metadata_refund_id=refund.public_id, amount=amount, currency=currency
    )

    result = receive(payload)

    assert result.status == WebhookStatus.HELD
    assert snapshot(refund) == before
    assert why in WebhookEvent.objects.get().note


def test_the_metadata_fallback_applies_while_we_do_not_know_the_provider_id():
    refund = submitted_refund(amount_minor=3000)
    assert (refund.state, refund.provider_refund_id) == (RefundState.SUBMITTING, None)
    payload = refund_event(provider_refund_id="re_learnt", metadata_refund_id=refund.public_id, status="succeeded")

    assert receive(payload).status == WebhookStatus.PROCESSED

    refund.refresh_from_db()
    assert (refund.state, refund.provider_refund_id) == (RefundState.COMPLETED, "re_learnt")


@pytest.mark.parametrize("path", [[RefundState.APPROVED], [RefundState.APPROVED, RefundState.CANCELED]])
def test_the_metadata_fallback_does_not_reach_a_refund_that_is_not_out_at_the_provider(path):
    refund = make_refund(order=captured_order(), amount_minor=3000, reason=Reason.GOODWILL)
    for state in path:
        refund = move_refund(refund, state)
    state = path[-1]
    before = snapshot(refund)
    payload = refund_event(provider_refund_id="re_unheard_of", metadata_refund_id=refund.public_id, status="succeeded")

    assert receive(payload).status == WebhookStatus.HELD

    assert snapshot(refund) == before
    assert state in WebhookEvent.objects.get().note


def test_a_held_event_replayed_stays_held_and_changes_nothing():
    victim = out_at_provider("re_victim")
    before = snapshot(victim)
    payload = refund_event(provider_refund_id="re_attacker", metadata_refund_id=victim.public_id)

    assert [receive(payload).status for _ in range(3)] == [WebhookStatus.HELD, "duplicate", "duplicate"]

    assert snapshot(victim) == before
    assert WebhookEvent.objects.get().status == WebhookStatus.HELD


def test_a_completed_refund_is_not_failed_by_a_held_event_either():
    refund = out_at_provider("re_victim")
    done = refund_event(provider_refund_id="re_victim", metadata_refund_id=refund.public_id, status="succeeded")
    assert receive(done).status == WebhookStatus.PROCESSED

    before = snapshot(refund)
    attack = refund_event(provider_refund_id="re_x", metadata_refund_id=refund.public_id, event_id="evt_2")

    assert receive(attack).status == WebhookStatus.HELD
    assert snapshot(refund) == before and before[0] == RefundState.COMPLETED
