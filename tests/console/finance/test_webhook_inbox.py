"""The webhook inbox: finance sees held events (and unknown-refund ones) and filters them."""

from __future__ import annotations

import pytest

from refunds.enums import Role, WebhookStatus
from refunds.models import WebhookEvent
from tests.refunds.factories import UserFactory, submitted_refund
from tests.support import stripe_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]


def receive(event_id: str, provider_refund_id: str, metadata_refund_id: str, amount: int = 3000) -> None:
    stripe_events.receive(
        stripe_events.refund_event(
            event_id=event_id,
            event_type="refund.failed",
            provider_refund_id=provider_refund_id,
            status="failed",
            amount=amount,
            refund_id=metadata_refund_id,
        )
    )


@pytest.fixture
def inbox():
    """One held event (wrong amount for our refund), one for an unknown refund, one processed."""
    victim = submitted_refund(amount_minor=3000)
    receive("evt_held", "re_a", victim.public_id, amount=2500)
    receive("evt_unknown", "re_b", "rf_nobody")
    processed = submitted_refund(amount_minor=3000)
    receive("evt_processed", "re_c", processed.public_id)
    statuses = dict(WebhookEvent.objects.values_list("event_id", "status"))
    assert statuses == {
        "evt_held": WebhookStatus.HELD,
        "evt_unknown": WebhookStatus.UNKNOWN_REFUND,
        "evt_processed": WebhookStatus.PROCESSED,
    }
    return victim


@pytest.fixture
def finance(client):
    client.force_login(UserFactory(username="fin", role=Role.FINANCE))
    return client


def test_held_events_are_shown_to_finance_with_why_and_the_refund_they_name(finance, inbox):
    response = finance.get("/finance/webhooks/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "evt_held" in html and "evt_unknown" in html and "evt_processed" not in html
    assert "1 held event" in html
    assert "amount 25.00 USD of provider refund re_a is not 30.00 USD" in html
    assert f"/console/refunds/{inbox.public_id}/" in html
    assert "Webhook inbox" in html  # in the navigation


def test_the_inbox_filters_by_status_provider_and_id(finance, inbox):
    held = finance.get("/finance/webhooks/?status=held").content.decode()
    assert "evt_held" in held and "evt_unknown" not in held

    everything = finance.get("/finance/webhooks/?status=all").content.decode()
    assert all(event_id in everything for event_id in ("evt_held", "evt_unknown", "evt_processed"))

    by_id = finance.get("/finance/webhooks/?status=all&search=re_b").content.decode()
    assert "evt_unknown" in by_id and "evt_held" not in by_id

    other_provider = finance.get("/finance/webhooks/?provider=manual").content.decode()
    assert "evt_held" not in other_provider


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT])
def test_the_inbox_is_for_finance_only(client, role):
    client.force_login(UserFactory(username=f"u-{role}", role=role))
    assert client.get("/finance/webhooks/").status_code == 403
