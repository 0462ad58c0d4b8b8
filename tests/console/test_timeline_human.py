"""The timeline for people: sentences first, detail behind a toggle, emails as sent, true order, webhooks once."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record_many
from console.presenters.timeline import KIND_WEBHOOK, console_timeline
from core.actor import Actor
from notifications.models import CustomerEmail
from notifications.outbox import email_deliver
from providers.stripe.signature import sign_payload
from refunds.enums import RefundState, Role
from refunds.services.webhooks import webhook_receive
from tests.console.conftest import review_refund
from tests.refunds.factories import captured_order, make_refund
from tests.support.stripe_events import refund_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe(settings):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_WEBHOOK_SECRET = "whsec_test"
    return "whsec_test"


def deliver(refund, secret, *, event_id="evt_1", status="succeeded"):
    payload = refund_event(
        event_id=event_id,
        provider_refund_id="re_abc",
        status=status,
        amount=refund.amount_minor,
        currency=refund.currency.lower(),
        refund_id=refund.public_id,
    )
    return webhook_receive(
        provider="stripe", payload=payload, headers={"Stripe-Signature": sign_payload(payload, secret)}
    )


def submitting_refund():
    from refunds.models import Refund

    refund = make_refund(order=captured_order(), amount_minor=1000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    refund.refresh_from_db()
    return refund


def test_an_applied_webhook_is_listed_once_even_when_the_provider_repeats_it(stripe):
    refund = submitting_refund()
    deliver(refund, stripe)
    deliver(refund, stripe)  # the provider sends it again: a replay, ignored
    items = console_timeline(refund=refund)
    # On main both its inbox row ("Provider webhook …") and its audit event ("Webhook received") were listed.
    webhooks = [item for item in items if "webhook" in item.title.lower()]
    assert len(webhooks) == 1, [(item.kind, item.title) for item in items]
    (webhook,) = webhooks
    assert webhook.kind == KIND_WEBHOOK
    assert webhook.summary == "The payment provider told us the refund is succeeded."
    assert ("Replays ignored", "1") in webhook.details
    assert any(label == "Audit event" for label, _ in webhook.details)  # the inbox row and its audit event, merged
    titles = [item.title for item in items]
    assert titles.index("Provider webhook refund.updated") < titles.index(
        "Completed: the provider confirmed the refund"
    )


def test_events_follow_the_audit_sequence_not_the_clock():
    refund = review_refund()
    now = timezone.now()
    # A move is stamped with the time it began: a transaction that waited on the lock can carry an
    # earlier time than the one it waited for, and a tie to the second (or microsecond) is common.
    audit_record_many(
        [dict(actor=Actor.system("test"), action=AuditAction.REFUND_EVIDENCE_ATTACHED, refund=refund, note="first")],
        occurred_at=now + timedelta(seconds=30),
    )
    audit_record_many(
        [dict(actor=Actor.system("test"), action=AuditAction.REFUND_EDITED, refund=refund, note="second")],
        occurred_at=now,
    )
    audit_record_many(
        [dict(actor=Actor.system("test"), action=AuditAction.REFUND_CANCELED, refund=refund, note="third")],
        occurred_at=now,
    )
    notes = [item.note for item in console_timeline(refund=refund) if item.note in {"first", "second", "third"}]
    assert notes == ["first", "second", "third"]


def test_plain_language_first_engineering_detail_behind_a_toggle(login):
    client = login("anna", Role.SENIOR_AGENT)
    client.user.first_name, client.user.last_name = "Anna", "Berg"
    client.user.save()
    refund = review_refund(amount_minor=123400, order_amount=500000)
    # Above the dual-control threshold: a first senior, then Anna.
    login("ben", Role.SENIOR_AGENT).post(f"/console/refunds/{refund.public_id}/approve/", {"version": refund.version})
    client.post(f"/console/refunds/{refund.public_id}/approve/", {"version": refund.version})
    html = client.get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    assert "Ben gave a first approval of the refund of 1,234.00 USD" in html
    assert "Anna Berg approved the refund of 1,234.00 USD." in html
    assert "was set aside in the books" in html
    # Ids and codes only inside the toggles.
    visible = re.sub(r"<details class=\"tl-engineering\">.*?</details>", "", html, flags=re.S)
    assert "REFUND_PENDING" in html and "REFUND_PENDING" not in visible
    assert "Correlation id" not in visible and "Idempotency key" not in visible


def test_each_sent_email_is_readable_as_the_customer_got_it(agent_client):
    refund = review_refund(amount_minor=5000)
    email = CustomerEmail.objects.get(refund=refund)
    assert email_deliver(email_id=email.pk) == "sent"
    from django.core import mail

    sent = mail.outbox[-1]
    # Edited after the email went out: the timeline still shows what the customer read.
    from refunds.models import Refund

    Refund.objects.filter(pk=refund.pk).update(amount_minor=4000)
    (item,) = [i for i in console_timeline(refund=Refund.objects.get(pk=refund.pk)) if i.email is not None]
    assert item.email.subject == sent.subject
    assert item.email.body == sent.body
    assert item.summary == f"The customer was emailed: “{sent.subject}”."
    html = agent_client.get(f"/console/refunds/{refund.public_id}/timeline/").content.decode()
    assert "Read the email as sent" in html and "50.00" in html
