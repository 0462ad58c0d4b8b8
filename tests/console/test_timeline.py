"""The timeline answers "why did we refund this?": every record about the refund, in order."""

import pytest

from audit.services import audit_record
from core.actor import Actor
from refunds.enums import Reason, Role, WebhookStatus
from refunds.models import WebhookEvent
from tests.console.conftest import review_refund
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def positions(html: str, *needles: str) -> list[int]:
    found = [html.find(needle) for needle in needles]
    assert all(p >= 0 for p in found), dict(zip(needles, found, strict=True))
    return found


def test_timeline_merges_audit_ledger_provider_webhook_and_email_in_order(agent_client):
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=2000, reason=Reason.OTHER)
    WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_1",
        event_type="refund.updated",
        provider_refund_id="re_1",
        refund=refund,
        payload={"data": {"object": {"status": "succeeded"}}},
        status=WebhookStatus.PROCESSED,
        replay_count=2,
    )
    audit_record(
        actor=Actor.system("notifications"), action="notification.sent", refund=refund, note="refund.completed"
    )
    html = agent_client.get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    found = positions(
        html,
        "Refund requested",
        "Ledger entry REFUND_PENDING",
        "Queued for the provider",
        "Provider webhook refund.updated",
        "Email sent to the customer",
    )
    assert found == sorted(found)
    assert "R-AUTO-OTHER" in html  # which rule
    assert "by policy" in html  # who: the policy approved it
    assert "debit 20.00 USD" in html or "credit 20.00 USD" in html
    assert "succeeded" in html and "Replays ignored" in html


def test_timeline_shows_who_edited_and_declined_with_before_and_after(login):
    refund = review_refund(amount_minor=5000)
    client = login("agent", Role.AGENT)
    client.post(
        f"/console/refunds/{refund.public_id}/edit/",
        {"reply": "New words", "amount": "45.00", "action": "save", "version": refund.version},
    )
    client.post(f"/console/refunds/{refund.public_id}/decline/", {"note": "Not eligible"})
    html = client.get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    edited, declined = positions(html, "Draft or amount edited", "<strong>Declined</strong>")
    assert edited < declined
    assert "50.00 USD" in html and "45.00 USD" in html and "New words" in html
    assert "by agent" in html and "Not eligible" in html and "Flagged" in html


def test_timeline_needs_the_view_permission(login):
    refund = review_refund()
    assert login("nobody", role=None).get(f"/console/refunds/{refund.public_id}/timeline/").status_code == 403
    assert login("fin", Role.FINANCE).get(f"/console/refunds/{refund.public_id}/timeline/").status_code == 200


def test_second_approval_shows_in_the_timeline_as_recorded_then_approved(login):
    refund = review_refund(amount_minor=25000)
    # A first approval of two changes nothing of the refund: both seniors saw the same version.
    login("s1", Role.SENIOR_AGENT).post(f"/console/refunds/{refund.public_id}/approve/", {"version": refund.version})
    login("s2", Role.SENIOR_AGENT).post(f"/console/refunds/{refund.public_id}/approve/", {"version": refund.version})
    html = login("reader", Role.AGENT).get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    recorded, approved = positions(html, "Approval recorded", "<strong>Approved</strong>")
    assert recorded < approved
    assert "1 of 2 approvals" in html


def test_timeline_shows_an_email_waiting_to_be_sent_until_it_is_sent(agent_client):
    from notifications.models import CustomerEmail
    from notifications.outbox import email_deliver

    refund = review_refund(amount_minor=5000)  # its acceptance email is written, not sent (no on-commit here)
    url = f"/console/refunds/{refund.public_id}/timeline/"
    html = agent_client.get(url).content.decode()
    assert "Email to the customer waiting to be sent" in html and "refund.request.accepted" in html
    assert email_deliver(email_id=CustomerEmail.objects.get(refund=refund).pk) == "sent"
    html = agent_client.get(url).content.decode()
    assert "waiting to be sent" not in html
    assert "Email sent to the customer" in html
