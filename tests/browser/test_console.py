"""The agent console in a real browser (Debian chromium via Playwright), end to end.

Each test signs in through the login page and works refunds with the mouse
and keyboard as an agent would; the database is checked afterwards. The
screenshots saved to docs/screenshots/ are the ones the docs show.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEvent
from refunds.enums import Reason, RefundState, Role
from refunds.models import Customer, Refund
from tests.refunds.factories import OrderLineFactory, UserFactory, captured_order, make_refund, requester

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "console-browser-pw"


@pytest.fixture
def console(live_server, transactional_db):
    """The live server's URL, with users that can sign in."""
    for username, role in [("agent", Role.AGENT), ("senior1", Role.SENIOR_AGENT), ("senior2", Role.SENIOR_AGENT)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Review queue").wait_for()


def refund_for(
    order_id: str,
    *,
    customer: str,
    amount_minor: int,
    reason: str,
    captured: int = 100000,
    hours_ago: int = 0,
    item: str = "Item",
    **kwargs,
) -> Refund:
    order = captured_order(amount_minor=captured, order__order_id=order_id)
    tax = captured // 11
    OrderLineFactory(
        order=order,
        line_no=1,
        description=item,
        sku=f"SKU-{order_id[-4:]}",
        unit_amount_minor=captured - tax,
        tax_minor=tax,
    )
    Customer.objects.filter(pk=order.customer_id).update(
        name=customer, email=f"{customer.split()[0].lower()}@example.com"
    )
    refund = make_refund(order=order, amount_minor=amount_minor, reason=reason, actor=requester(), **kwargs)
    if hours_ago:
        # Only for a realistic queue: ages differ as they would in a working day.
        Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return refund


def busy_queue() -> dict[str, Refund]:
    return {
        "quality": refund_for(
            "ORD-4811",
            customer="Mara Lindqvist",
            amount_minor=4500,
            reason=Reason.QUALITY,
            hours_ago=30,
            item="Ceramic teapot, 1.2 l",
        ),
        "goodwill": refund_for(
            "ORD-4816", customer="Jon Ng", amount_minor=7500, reason=Reason.GOODWILL, hours_ago=9, item="Desk lamp"
        ),
        "dual": refund_for(
            "ORD-4820",
            customer="Aisha Rahman",
            amount_minor=25000,
            reason=Reason.GOODWILL,
            hours_ago=5,
            item="Weekend stay, 2 nights",
        ),
        "late": refund_for(
            "ORD-4824",
            customer="Peter Okafor",
            amount_minor=80000,
            reason=Reason.NOT_RECEIVED,
            captured=90000,
            hours_ago=2,
            item="Road bike helmet",
        ),
    }


def test_agent_signs_in_opens_the_queue_and_approves_a_card(console, page, screenshot_dir):
    refunds = busy_queue()
    sign_in(page, console, "agent")
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 4
    # Oldest first: the quality refund has waited longest.
    assert "ORD-4811" in rows.first.inner_text()
    page.screenshot(path=str(screenshot_dir / "console-queue.png"), full_page=True)

    page.get_by_role("link", name="ORD-4816").click()
    page.get_by_role("heading", name="Policy outcome").wait_for()
    assert "R-GOODWILL-REVIEW" in page.inner_text("#card")
    page.screenshot(path=str(screenshot_dir / "console-card.png"), full_page=True)

    page.get_by_role("button", name="Approve and send reply").click()
    page.get_by_text("Approved 75.00 USD").wait_for()
    assert Refund.objects.get(pk=refunds["goodwill"].pk).state == RefundState.APPROVED


def test_goodwill_card_above_the_threshold_needs_two_different_seniors(console, browser, page, screenshot_dir):
    refund = busy_queue()["dual"]
    sign_in(page, console, "senior1")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    page.get_by_role("button", name="Approve (1 of 2)").click()
    page.get_by_text("Your approval is recorded (1 of 2)").wait_for()
    card = page.inner_text("#card")
    assert "1 of 2 approvals" in card and "senior1" in card
    assert "a different senior agent must give the second one" in card
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED
    page.screenshot(path=str(screenshot_dir / "console-card-dual-control.png"), full_page=True)

    second = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(second, console, "senior2")
        second.goto(f"{console}/console/refunds/{refund.public_id}/")
        second.get_by_role("button", name="Approve (2 of 2)").click()
        second.get_by_text("Approved 250.00 USD").wait_for()
    finally:
        second.context.close()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED


def test_agent_declines_with_a_reason_and_the_override_is_flagged_in_the_queue(console, page, screenshot_dir):
    refund = busy_queue()["goodwill"]
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    assert "recommends approving" in page.inner_text("#card")
    page.get_by_label("Reason for declining").fill("The order shipped late but arrived complete; no refund is due.")
    page.get_by_role("button", name="Decline").click()
    page.get_by_text("This overrides the policy's approve recommendation").wait_for()
    refund.refresh_from_db()
    assert refund.state == RefundState.DENIED and refund.override_flagged

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Overrides").click()
    page.get_by_role("link", name="ORD-4816").wait_for()
    assert "Override" in page.locator("table.queue tbody tr").first.inner_text()
    page.screenshot(path=str(screenshot_dir / "console-overrides.png"), full_page=True)


def test_agent_edits_the_amount_and_wording_then_approves(console, page, screenshot_dir):
    refund = busy_queue()["late"]
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    page.get_by_role("link", name="Edit draft or amount").click()
    reply = page.get_by_label("Reply to the customer")
    # The draft opens in place with the focus in it, ready to type.
    expect(reply).to_be_focused()
    reply.fill("Sorry your parcel went missing. We are refunding the item now: 600.00 USD.")
    page.get_by_label("Amount (USD)").fill("600.00")
    page.get_by_label("Why the change (internal, audited)").fill("Shipping was not lost, only the item.")
    page.screenshot(path=str(screenshot_dir / "console-card-edit.png"), full_page=True)
    page.get_by_role("button", name="Save and approve").click()
    page.get_by_text("Approved 600.00 USD").wait_for()

    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.APPROVED, 60000)
    edited = AuditEvent.objects.get(refund=refund, action="refund.edited")
    assert edited.before["amount_minor"] == 80000 and edited.after["amount_minor"] == 60000

    page.get_by_role("link", name="Timeline: why did we refund this?").click()
    page.get_by_role("heading", name="Why did we refund this?").wait_for()
    assert "Draft or amount edited" in page.inner_text("main")
    page.screenshot(path=str(screenshot_dir / "console-timeline.png"), full_page=True)


def test_edit_above_the_remaining_refundable_is_refused_on_the_form(console, page):
    refund = busy_queue()["late"]
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    page.get_by_role("link", name="Edit draft or amount").click()
    page.get_by_label("Amount (USD)").fill("950.00")
    page.get_by_role("button", name="Save and approve").click()
    page.get_by_role("alert").filter(has_text="more than what is left to refund").wait_for()
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 80000)


def test_core_actions_work_without_javascript(console, browser):
    refund = busy_queue()["goodwill"]
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, console, "agent")
        page.get_by_role("link", name="ORD-4816").click()
        page.get_by_role("button", name="Approve and send reply").click()
        page.get_by_text("Approved 75.00 USD").wait_for()
    finally:
        context.close()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED


def test_keyboard_alone_reaches_and_uses_the_approve_button(console, page):
    refund = busy_queue()["goodwill"]
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    page.get_by_label("Note (internal, optional)").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Approve and send reply"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.get_by_text("Approved 75.00 USD").wait_for()
    # The outcome message takes the focus, so a screen reader reads it out.
    expect(page.locator("#messages")).to_be_focused()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED


def test_agent_creates_a_refund_on_behalf_of_a_customer(console, page, screenshot_dir, tmp_path):
    order = captured_order(amount_minor=12000, order__order_id="ORD-5001")
    photo = tmp_path / "broken-mug.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    sign_in(page, console, "agent")
    page.get_by_role("link", name="New refund for a customer").click()
    page.get_by_label("Order id").fill(order.order_id)
    page.get_by_role("button", name="Find order").click()
    assert page.get_by_label("Amount (USD)").input_value() == "120.00"
    page.get_by_label("Amount (USD)").fill("40.00")
    page.get_by_label("Reason").select_option("quality")
    page.get_by_label("Customer's note").fill("Mug arrived cracked, photo attached.")
    page.get_by_label("Evidence").set_input_files(str(photo))
    page.screenshot(path=str(screenshot_dir / "console-create.png"), full_page=True)
    page.get_by_role("button", name="Create refund").click()
    page.get_by_role("heading", name="Policy outcome").wait_for()
    refund = Refund.objects.get(order=order)
    assert refund.amount_minor == 4000 and refund.evidence_files.get().original_name == "broken-mug.png"
    assert "broken-mug.png" in page.inner_text("#card")


def test_risk_opens_the_policy_form_in_admin(console, page, screenshot_dir):
    risk = UserFactory(username="risk", role=Role.RISK)
    risk.is_staff = True
    risk.set_password(PASSWORD)
    risk.save()
    page.goto(f"{console}/admin/login/?next=/admin/refunds/refundpolicy/add/")
    page.get_by_label("Username").fill("risk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Add refund policy").wait_for()
    assert page.get_by_label("Refund window (days since capture)").input_value() == "60"
    page.screenshot(path=str(screenshot_dir / "console-admin-policy.png"), full_page=True)
