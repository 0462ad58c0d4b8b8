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


def click_and_settle(page, target) -> None:
    """Click something that makes htmx swap the card, and return once htmx has settled the new one.

    Until then htmx has not wired the new elements (a form would post without
    it) and is still to move the focus to the new `[autofocus]` field.
    Chromium focuses that field itself as soon as it is inserted, so seeing
    it focused proves nothing: text typed elsewhere in that window follows
    the focus into the draft. htmx:afterSettle fires after its last step.
    """
    page.evaluate(
        "() => { window.settledForTest = false; document.body.addEventListener("
        "'htmx:afterSettle', () => { window.settledForTest = true; }, {once: true}); }"
    )
    target.click()
    page.wait_for_function("() => window.settledForTest === true")


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
    page.get_by_label("Message to the customer").fill("The order shipped late but arrived complete; no refund is due.")
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
    click_and_settle(page, page.get_by_role("link", name="Edit draft or amount"))
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
    click_and_settle(page, page.get_by_role("link", name="Edit draft or amount"))
    expect(page.get_by_label("Reply to the customer")).to_be_focused()
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


def test_approving_against_a_decline_recommendation_needs_an_approval_reply(console, page, screenshot_dir):
    refund = busy_queue()["quality"]  # quality without evidence: the policy recommends declining
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    card = page.locator("#card")
    assert "cannot approve it" in card.inner_text()
    expect(page.get_by_role("button", name="Approve and send reply")).to_have_count(0)
    click_and_settle(page, page.get_by_role("link", name="Write the approval reply"))
    reply = page.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()
    reply.fill("Thank you for the photo of the cracked lid. We are refunding 45.00 USD.")
    page.get_by_label("Why the change (internal, audited)").fill("Customer sent the photo by phone.")
    page.screenshot(path=str(screenshot_dir / "console-card-override.png"), full_page=True)
    page.get_by_role("button", name="Save and approve").click()
    page.get_by_text("Approved 45.00 USD").wait_for()
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED and refund.override_flagged
    assert refund.draft_reply.startswith("Thank you for the photo")


def test_the_queue_refresh_keeps_the_filters_the_focus_and_fresh_counts(console, page):
    refunds = busy_queue()
    sign_in(page, console, "agent")
    page.get_by_label("Reason").select_option("goodwill")
    page.wait_for_url("**/console/?*reason=goodwill*")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    link = page.get_by_role("link", name="ORD-4816")
    link.focus()
    # Meanwhile another goodwill refund arrives and one is decided elsewhere.
    refund_for("ORD-4830", customer="Lena Vogel", amount_minor=3000, reason=Reason.GOODWILL)
    Refund.objects.filter(pk=refunds["quality"].pk).update(state=RefundState.DENIED)
    # One tick of the results region's own poll (hx-trigger="every 20s"), without waiting 20 s.
    page.evaluate(
        "() => { const r = document.getElementById('queue-results');"
        " htmx.ajax('GET', r.getAttribute('hx-get'), {source: r, target: r, swap: 'outerHTML'}); }"
    )
    expect(rows).to_have_count(3)
    assert "ORD-4811" not in page.inner_text("#queue-results")  # still only goodwill
    expect(page.get_by_role("link", name="ORD-4816")).to_be_focused()
    expect(page.locator("#tab-waiting .count")).to_have_text("4")
    assert "reason=goodwill" in page.get_attribute("#tab-overrides", "href")


SERIOUS = {"serious", "critical"}


def axe_problems(page) -> list:
    """axe-core's serious or critical findings (and unresolved ARIA references) on the page as it is now.

    axe.min.js ships inside axe-playwright-python and runs in the page through
    the DevTools protocol: no network, and the console's CSP is untouched.
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    # Proof that axe checked this page, not an empty or error document.
    assert results["testEngine"]["name"] == "axe-core" and results["url"] == page.url
    passed = {rule["id"] for rule in results["passes"]}
    assert {"html-has-lang", "document-title", "color-contrast", "landmark-one-main"} <= passed, passed
    return [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]])
        for v in results["violations"] + [r for r in results["incomplete"] if r["id"].startswith("aria-")]
        if v["impact"] in SERIOUS
    ]


def test_every_console_page_passes_axe(console, page):
    """Labelled controls, contrast, landmarks, valid ARIA: on each page an agent uses, in its busy states."""
    refunds = busy_queue()
    captured_order(amount_minor=12000, order__order_id="ORD-5001")
    page.goto(f"{console}/console/login/")
    pages = {"login": axe_problems(page)}
    sign_in(page, console, "agent")
    card = f"{console}/console/refunds/{refunds['late'].public_id}/"
    for name, url in [
        ("queue", f"{console}/console/"),
        ("queue with a mistyped filter", f"{console}/console/?view=all&amount_min=lots&amount_max=1e30"),
        ("card: decline recommended", f"{console}/console/refunds/{refunds['quality'].public_id}/"),
        ("card: dual control", f"{console}/console/refunds/{refunds['dual'].public_id}/"),
        ("card: editing", f"{card}edit/"),
        ("create", f"{console}/console/refunds/new/?order=ORD-5001"),
        ("timeline", f"{card}timeline/"),
    ]:
        page.goto(url)
        pages[name] = axe_problems(page)
    page.goto(card)
    page.get_by_label("Message to the customer").fill(" ")
    click_and_settle(page, page.get_by_role("button", name="Decline"))  # a refusal, swapped in by htmx
    page.locator("#decline_note_error").wait_for()
    pages["card: refused decline"] = axe_problems(page)
    assert {name: found for name, found in pages.items() if found} == {}


def test_axe_would_catch_an_unlabelled_control_on_the_card(console, page):
    """The scan above cannot pass vacuously: the same run flags a planted fault."""
    refund = busy_queue()["goodwill"]
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    assert axe_problems(page) == []
    page.evaluate("() => document.querySelector('label[for=decline_note]').remove()")
    assert "label" in {rule_id for rule_id, _, _ in axe_problems(page)}
