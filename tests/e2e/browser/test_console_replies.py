"""Reply templates and the decline rationale on the refund card, in a real browser (issue 12, items 1-2).

The customer's emails are delivered here in the test process (the live
server has no Celery worker): each pending CustomerEmail row goes through
`email_deliver`, exactly what the worker would run, into Django's locmem
outbox.
"""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from notifications.messages import MSG_APPROVED, MSG_DECLINED
from notifications.models import CustomerEmail, EmailStatus
from notifications.outbox import email_deliver
from refunds.enums import DecisionKind, Reason, RefundState
from refunds.models import Customer, Decision, Refund
from tests.e2e.browser.test_console import click_and_settle, console, sign_in  # noqa: F401 - `console` is a fixture
from tests.refunds.factories import OrderLineFactory, captured_order, make_refund, requester

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RATIONALE = "customer gaming the window"


def _refund(order_id: str, *, name: str, amount_minor: int, locale: str = "en", currency: str = "USD") -> Refund:
    order = captured_order(amount_minor=200000, currency=currency, order__order_id=order_id)
    OrderLineFactory(order=order, line_no=1, description="Ceramic teapot, 1.2 l", unit_amount_minor=200000, tax_minor=0)
    Customer.objects.filter(pk=order.customer_id).update(
        name=name, email=f"{name.split()[0].lower()}@example.com", locale=locale
    )
    order.customer.refresh_from_db()
    return make_refund(order=order, amount_minor=amount_minor, reason=Reason.GOODWILL, actor=requester())


def _deliver_email(refund: Refund, message_id: str):
    """Deliver the refund's pending emails as the worker would; return the one of `message_id`."""
    mail.outbox.clear()
    for email in CustomerEmail.objects.filter(refund=refund, status=EmailStatus.PENDING).order_by("id"):
        email_deliver(email_id=email.pk)
    (email,) = [m for m in mail.outbox if m.extra_headers["X-Refund-Message"] == message_id]
    return email


def test_senior_lowers_the_amount_and_the_reply_states_the_new_amount(console, page, screenshot_dir):  # noqa: F811
    refund = _refund("ORD-5100", name="Mara Lindqvist", amount_minor=500)
    sign_in(page, console, "senior1")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    preview = page.locator("#reply-preview")
    expect(preview).to_contain_text("approved your refund of $5.00 for order ORD-5100")

    click_and_settle(page, page.get_by_role("link", name="Edit draft or amount"))
    reply = page.get_by_label("Reply to the customer")
    expect(reply).to_have_value(refund.draft_reply)  # the template, {amount} and all
    page.get_by_label("Amount (USD)").fill("4.00")
    page.get_by_label("Why the change (internal, audited)").fill("One of five cups was fine.")
    click_and_settle(page, page.get_by_role("button", name="Save changes"))
    expect(preview).to_contain_text("approved your refund of $4.00 for order ORD-5100")
    assert "$5.00" not in preview.inner_text()
    page.locator("details.reply-template summary").click()
    page.locator("#reply-panel").screenshot(path=str(screenshot_dir / "console-card-reply-template.png"))

    click_and_settle(page, page.get_by_role("button", name="Approve and send reply"))
    page.get_by_text("Approved 4.00 USD").wait_for()
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.APPROVED, 400)
    email = _deliver_email(refund, MSG_APPROVED)
    assert "approved your refund of $4.00" in email.body and "5.00" not in email.body


def test_a_reply_stating_another_amount_is_refused_on_the_form(console, page):  # noqa: F811
    refund = _refund("ORD-5101", name="Jon Ng", amount_minor=500)
    sign_in(page, console, "senior1")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    click_and_settle(page, page.get_by_role("link", name="Edit draft or amount"))
    page.get_by_label("Reply to the customer").fill("We approved your refund of 5.00 USD.")
    page.get_by_label("Amount (USD)").fill("4.00")
    click_and_settle(page, page.get_by_role("button", name="Save and approve"))
    expect(page.locator("#card")).to_contain_text("Write {amount} where the amount goes")
    expect(page.get_by_label("Reply to the customer")).to_have_attribute("aria-invalid", "true")
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 500)


def test_a_german_customers_draft_is_german(console, page, screenshot_dir):  # noqa: F811
    refund = _refund("ORD-5102", name="Lena Hoffmann", amount_minor=123456, locale="de", currency="EUR")
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    expect(page.locator("#reply-preview")).to_contain_text(
        "Gute Nachricht: Wir haben Ihre Erstattung über 1.234,56\u00a0€ für die Bestellung ORD-5102 genehmigt."
    )
    expect(page.get_by_label("Message to the customer")).to_have_value(
        "Vielen Dank für Ihren Erstattungsantrag über {amount} für die Bestellung {order}. Wir haben ihn "
        "sorgfältig geprüft, können ihn aber leider nicht genehmigen."
    )
    page.locator("#reply-panel").screenshot(path=str(screenshot_dir / "console-card-reply-german.png"))


def test_decline_with_a_message_and_an_internal_rationale(console, page, screenshot_dir):  # noqa: F811
    refund = _refund("ORD-5103", name="Peter Okafor", amount_minor=2500)
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    message = page.get_by_label("Message to the customer")
    expect(message).to_have_value(
        "Thank you for your refund request of {amount} for order {order}. We have looked at it carefully "
        "and unfortunately cannot approve it."
    )
    message.fill("We cannot refund {amount} for order {order}: the teapot was a final-sale item.")
    page.get_by_label("Internal rationale").fill(RATIONALE)
    page.locator(".decline-form").screenshot(path=str(screenshot_dir / "console-card-decline-form.png"))
    click_and_settle(page, page.get_by_role("button", name="Decline", exact=True))
    page.get_by_text("Declined.").wait_for()

    card = page.locator("#card")
    expect(page.locator("#decline-message")).to_contain_text(
        "We cannot refund $25.00 for order ORD-5103: the teapot was a final-sale item."
    )
    expect(page.locator("#decline-rationale")).to_contain_text(RATIONALE)
    card.screenshot(path=str(screenshot_dir / "console-card-decline-rationale.png"))
    assert Decision.objects.get(refund=refund, kind=DecisionKind.DENY).rationale == RATIONALE

    email = _deliver_email(refund, MSG_DECLINED)
    assert "We cannot refund $25.00 for order ORD-5103" in email.body
    assert RATIONALE not in email.body and RATIONALE not in email.alternatives[0][0]
    page.goto(f"{console}/r/{refund.status_token}/")
    expect(page.locator("main")).to_contain_text("We cannot refund $25.00")
    assert RATIONALE not in page.content()
