"""Issue 12 items 6-8 in a real browser: role homes and navigation, the queue at scale (bulk decisions, search,
sort, "being viewed by"), and forms that show they are working.

Screenshots: console-queue-bulk.png (the batch's confirmation), console-queue-bulk-result.png (its result per
refund), console-card-being-viewed.png (a second agent on the same card), finance-home.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from refunds.enums import Reason, RefundState, Role
from refunds.models import Refund
from tests.e2e.browser.test_console import PASSWORD, axe_problems, busy_queue
from tests.reconciliation.factories import refund_settled_earlier
from tests.refunds.factories import UserFactory, agent, captured_order, make_refund

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLES = [
    ("agent", Role.AGENT, "Agent"),
    ("senior1", Role.SENIOR_AGENT, "Sam Senior"),
    ("senior2", Role.SENIOR_AGENT, "Sara Senior"),
    ("fiona", Role.FINANCE, "Fiona"),
    ("risk", Role.RISK, "Rita"),
]


@pytest.fixture
def desk(live_server, transactional_db):
    """The live server's URL, with one staff user per role (staff, as the demo makes everyone)."""
    for username, role, name in ROLES:
        user = UserFactory(username=username, role=role, first_name=name)
        user.is_staff = True
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def nav_texts(page) -> list[str]:
    return [text.strip() for text in page.locator("nav.topnav a").all_inner_texts()]


def test_each_role_lands_on_its_home_and_sees_only_what_it_may_do(desk, browser, screenshot_dir):
    refund_settled_earlier(days=3)  # finance's default day is the last one with a settlement
    expected = {
        "agent": ("/console/", ["Review queue", "Overrides", "Needs action 0", "New refund"]),
        "senior1": ("/console/", ["Review queue", "Overrides", "Needs action 0", "New refund"]),
        "fiona": (
            "/finance/",
            [
                "Review queue",
                "Overrides",
                "Needs action 0",
                "Reconciliation",
                "Webhook inbox",
                "Periods",
                "Corrections",
                "Admin",
            ],
        ),
    }
    for username, (home, links) in expected.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        log_in(page, desk, username)
        assert page.url == f"{desk}{home}", username
        assert nav_texts(page) == links, username
        if username == "fiona":
            day = Refund.objects.get().completed_at.date()
            assert page.get_by_label("Day", exact=True).first.input_value() == str(day)
            page.screenshot(path=str(screenshot_dir / "finance-home.png"), full_page=True)
        context.close()
    context = browser.new_context()
    page = context.new_page()
    log_in(page, desk, "risk")  # risk lands on the policy, in the admin
    assert page.url == f"{desk}/admin/refunds/refundpolicy/"
    context.close()


def test_a_senior_approves_a_batch_and_reads_the_result_per_refund(desk, page, screenshot_dir):
    refunds = busy_queue()
    # One the senior requested themself: maker-checker refuses it, in the batch as on its card.
    own = make_refund(
        order=captured_order(amount_minor=50000, order__order_id="ORD-4830"),
        amount_minor=3000,
        reason=Reason.GOODWILL,
        actor=agent("senior1", Role.SENIOR_AGENT),
    )
    log_in(page, desk, "senior1")
    for key in ("goodwill", "dual"):
        page.locator(f"#select-{refunds[key].public_id}").check()
    page.locator(f"#select-{own.public_id}").check()
    page.get_by_role("button", name="Approve selected…").click()

    page.get_by_role("heading", name="Approve 3 selected refunds?").wait_for()
    summary = page.locator("#bulk-summary")
    expect(summary).to_contain_text("1 will be approved")
    expect(summary).to_contain_text("1 will get your approval and then need a second senior's")
    expect(page.locator(f"#line-{own.public_id}")).to_contain_text("Refused")
    page.screenshot(path=str(screenshot_dir / "console-queue-bulk.png"), full_page=True)

    page.get_by_role("button", name="Approve 2 refunds").click()
    page.get_by_role("heading", name="Approved: the result per refund").wait_for()
    expect(page.locator(f"#line-{refunds['goodwill'].public_id}")).to_contain_text("Approved")
    expect(page.locator(f"#line-{refunds['dual'].public_id}")).to_contain_text("Awaiting second approval")
    expect(page.locator(f"#line-{own.public_id}")).to_contain_text("Refused")
    page.screenshot(path=str(screenshot_dir / "console-queue-bulk-result.png"), full_page=True)
    states = dict(Refund.objects.values_list("public_id", "state"))
    assert states[refunds["goodwill"].public_id] == RefundState.APPROVED
    assert states[refunds["dual"].public_id] == RefundState.REQUESTED
    assert states[own.public_id] == RefundState.REQUESTED
    assert axe_problems(page) == []


def test_search_by_customer_name_and_sort_by_amount(desk, page):
    refunds = busy_queue()
    log_in(page, desk, "agent")
    page.get_by_label("Search").fill("rahman")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    expect(page.locator("table.queue tbody")).to_contain_text("ORD-4820")
    page.get_by_label("Search").fill("")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("table.queue tbody tr")).to_have_count(4)
    page.get_by_role("link", name="Amount").click()
    page.get_by_role("link", name=re.compile("^Amount")).click()  # again: largest first
    expect(page.locator("table.queue tbody tr").first).to_contain_text(refunds["late"].order.order_id)
    assert page.locator("th[aria-sort=descending]").inner_text().lower().startswith("amount")


def test_two_people_on_one_card_see_each_other(desk, browser, screenshot_dir):
    refund = busy_queue()["goodwill"]
    card = f"{desk}/console/refunds/{refund.public_id}/"
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    second = browser.new_context(viewport={"width": 1280, "height": 900})
    agent_page, senior_page = first.new_page(), second.new_page()
    log_in(agent_page, desk, "agent")
    agent_page.goto(card)
    log_in(senior_page, desk, "senior1")
    senior_page.goto(card)

    expect(senior_page.locator("#presence")).to_have_text("Being viewed by Agent")
    # The first viewer learns of the second at their card's next heartbeat.
    expect(agent_page.locator("#presence")).to_have_text("Being viewed by Sam Senior", timeout=20_000)
    senior_page.screenshot(path=str(screenshot_dir / "console-card-being-viewed.png"), full_page=True)
    senior_page.goto(f"{desk}/console/")
    expect(senior_page.locator(f"#row-{refund.public_id} .viewing")).to_have_text("Being viewed by Agent")
    first.close()
    second.close()


def test_the_approve_button_shows_it_is_working_until_the_answer_arrives(desk, page):
    refund = busy_queue()["goodwill"]
    log_in(page, desk, "agent")
    page.goto(f"{desk}/console/refunds/{refund.public_id}/")
    held = []
    # The request is held in the browser until the test lets it go: "while it runs" without any sleep.
    page.route(f"**/console/refunds/{refund.public_id}/approve/", lambda route: held.append(route))
    button = page.get_by_role("button", name="Approve and send reply")

    button.click()

    expect(page.locator("form.approve-form button[type=submit]")).to_be_disabled()
    expect(page.locator("form.approve-form button[type=submit]")).to_have_text("Working…")
    expect(page.locator("form.approve-form")).to_have_attribute("aria-busy", "true")
    page.wait_for_function("() => true")
    assert len(held) == 1
    held[0].continue_()
    page.get_by_text("Approved 75.00 USD").wait_for()
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED


def test_a_new_attempt_clears_the_previous_error(desk, page):
    refund = busy_queue()["goodwill"]
    log_in(page, desk, "agent")
    page.goto(f"{desk}/console/refunds/{refund.public_id}/")
    page.locator("form.decline-form textarea[name=note]").fill(" ")
    page.get_by_role("button", name="Decline").click()
    error = page.locator("#messages .message-error")
    expect(error).to_have_count(1)
    held = []
    page.route(f"**/console/refunds/{refund.public_id}/decline/", lambda route: held.append(route))
    page.locator("form.decline-form textarea[name=note]").fill("Outside our goodwill policy.")
    page.get_by_role("button", name="Decline").click()
    expect(error).to_have_count(0)  # gone while the new request runs, not left to be read as its answer
    expect(page.locator("form.decline-form")).to_have_attribute("aria-busy", "true")
    held[0].continue_()
    page.get_by_text("Declined.").first.wait_for()
