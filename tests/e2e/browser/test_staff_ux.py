"""Staff pages for people: on a phone (390 px), the human timeline, and times in one's own zone.

Each page is opened at 390×844 (a current phone) and must fit: nothing
wider than the viewport (`scrollWidth <= 390`), and the main actions in
view and clickable. The screenshots saved to docs/screenshots/
(UPDATE_SCREENSHOTS=1) are the ones docs/console.md shows.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from console.models import StaffProfile
from refunds.enums import Role
from refunds.models import Refund
from tests.e2e.browser.test_console import PASSWORD, axe_problems, busy_queue, sign_in
from tests.e2e.browser.test_finance import a_day_with_every_exception
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def staff(live_server, transactional_db):
    """The live server's URL, with an agent, two seniors and a finance user who can sign in."""
    people = [
        ("agent", Role.AGENT, "Agnes", "Field"),
        ("senior1", Role.SENIOR_AGENT, "Anna", "Berg"),
        ("senior2", Role.SENIOR_AGENT, "Ben", "Okoro"),
        ("fiona", Role.FINANCE, "Fiona", "Reyes"),
    ]
    for username, role, first, last in people:
        user = UserFactory(username=username, role=role, first_name=first, last_name=last)
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def fits(page) -> int:
    """How wide the page is: at most the viewport, or something overflows sideways."""
    return page.evaluate("() => document.documentElement.scrollWidth")


def usable(locator) -> None:
    """In the layout, inside the 390 px, and clickable (nothing covers it)."""
    locator.scroll_into_view_if_needed()
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    locator.click(trial=True)


def test_queue_card_and_timeline_fit_a_phone(staff, phone, screenshot_dir):
    refunds = busy_queue()
    sign_in(phone, staff, "agent")
    assert fits(phone) <= 390
    usable(phone.get_by_role("link", name="ORD-4816"))
    usable(phone.get_by_role("button", name="Apply filters"))
    phone.screenshot(path=str(screenshot_dir / "console-queue-phone.png"), full_page=True)

    phone.get_by_role("link", name="ORD-4816").click()
    phone.get_by_role("heading", name="Policy outcome").wait_for()
    assert fits(phone) <= 390
    usable(phone.get_by_role("button", name="Approve and send reply"))
    usable(phone.get_by_role("button", name="Decline"))
    usable(phone.locator("form.decline-form textarea[name=note]"))
    phone.screenshot(path=str(screenshot_dir / "console-card-phone.png"), full_page=True)

    phone.goto(f"{staff}/console/refunds/{refunds['dual'].public_id}/timeline/")
    phone.get_by_role("heading", name="Why did we refund this?").wait_for()
    assert fits(phone) <= 390
    assert axe_problems(phone) == []


def test_finance_runs_fit_a_phone(staff, phone):
    run = a_day_with_every_exception()
    phone.goto(f"{staff}/finance/")
    phone.get_by_label("Username").fill("fiona")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url(f"{staff}/finance/")
    assert fits(phone) <= 390
    phone.goto(f"{staff}/finance/runs/{run.pk}/")
    phone.get_by_role("heading", name="Reconciliation of").first.wait_for()
    assert fits(phone) <= 390


def test_the_timeline_reads_as_sentences_with_emails_and_detail_behind_toggles(staff, browser, page, screenshot_dir):
    refund = busy_queue()["dual"]
    for senior in ("senior1", "senior2"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        other = context.new_page()
        sign_in(other, staff, senior)
        other.goto(f"{staff}/console/refunds/{refund.public_id}/")
        other.get_by_role("button", name="Approve").first.click()
        other.get_by_text("Approv").first.wait_for()
        context.close()
    from notifications.models import CustomerEmail
    from notifications.outbox import email_deliver

    for email in CustomerEmail.objects.filter(refund=refund, status="pending"):
        email_deliver(email_id=email.pk)
    sign_in(page, staff, "agent")
    page.goto(f"{staff}/console/refunds/{refund.public_id}/timeline/")
    main = page.locator("main")
    expect(main).to_contain_text("Anna Berg gave a first approval of the refund of 250.00 USD")
    expect(main).to_contain_text("Ben Okoro approved the refund of 250.00 USD.")
    expect(main).to_contain_text("The customer was emailed")
    # Engineering detail is folded away until asked for.
    expect(page.get_by_text("REFUND_PENDING").first).to_be_hidden()
    page.get_by_text("Read the email as sent").first.click()
    expect(page.locator(".email-preview").first).to_be_visible()
    page.locator(".tl-ledger summary").first.click()
    expect(page.locator(".tl-ledger").first.get_by_text("Ledger entry REFUND_PENDING")).to_be_visible()
    assert Refund.objects.get(pk=refund.pk).state == "approved"
    page.screenshot(path=str(screenshot_dir / "console-timeline-human.png"), full_page=True)


def test_a_person_sets_their_time_zone_and_times_follow_it(staff, page, screenshot_dir):
    refund = busy_queue()["goodwill"]
    sign_in(page, staff, "senior1")
    page.get_by_role("link", name="Account").click()
    page.get_by_role("combobox", name="Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_text("Times are now shown in Europe/Berlin.")).to_be_visible()
    assert StaffProfile.objects.get(user__username="senior1").time_zone == "Europe/Berlin"
    expect(page.locator("main")).to_contain_text("CET")
    page.screenshot(path=str(screenshot_dir / "console-account-timezone.png"), full_page=True)
    page.goto(f"{staff}/console/refunds/{refund.public_id}/timeline/")
    expect(page.locator(".tl-when").first).to_contain_text("CET")
