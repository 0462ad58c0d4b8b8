"""Risk's policy limits table, the draft's backtest and four-eyes approval, and the card's high-value
confirmation — in a real browser (issue 12 items 5, 8 and 12)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from refunds.enums import PolicyStatus, Reason, RefundState, Role
from refunds.models import Refund, RefundPolicy
from refunds.services.policy import policy_get_active
from tests.refunds.factories import UserFactory, captured_order, make_refund

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "policy-browser-pw"


@pytest.fixture
def site(live_server, transactional_db):
    for username, role in [("risk1", Role.RISK), ("risk2", Role.RISK), ("senior1", Role.SENIOR_AGENT)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.is_staff = role == Role.RISK
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def admin_sign_in(page, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def recent_refunds() -> None:
    """A month of refunds in several currencies for the backtest to re-decide."""
    for amount, currency, reason in [
        (3000, "USD", Reason.OTHER),
        (45000, "USD", Reason.OTHER),
        (42000, "USD", Reason.NOT_RECEIVED),
        (4500, "JPY", Reason.OTHER),
        (90000, "JPY", Reason.DUPLICATE),
        (120000, "KWD", Reason.OTHER),
        (250000, "EUR", Reason.GOODWILL),
    ]:
        make_refund(
            order=captured_order(amount_minor=amount * 4, currency=currency), amount_minor=amount, reason=reason
        )


def test_risk_edits_the_limits_table_and_a_second_risk_user_approves_it_after_the_backtest(
    site, browser, screenshot_dir
):
    recent_refunds()
    author = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    admin_sign_in(author, site, "risk1", "/admin/refunds/refundpolicy/add/")
    author.get_by_role("heading", name="Add refund policy").wait_for()
    assert author.get_by_label("KWD: Auto-approve ceiling: Other").input_value() == "150.000"
    assert author.get_by_label("JPY: High-value dual control above").input_value() == "300000"

    author.get_by_label("USD: Auto-approve ceiling: Other").fill("300.00")
    author.get_by_label("USD: Auto-approve ceiling: Not Received").fill("400.00")
    author.get_by_label("JPY: Auto-approve ceiling: Other").fill("45000.5")  # JPY has no minor unit
    author.get_by_label("Currency, row 8").fill("CHF")
    author.get_by_label("Row 8: Goodwill dual control above").fill("180")
    author.get_by_label("Row 8: High-value dual control above").fill("1800")
    author.get_by_label("Why this change").fill("Lower USD ceilings; add CHF")
    author.get_by_role("button", name="Save", exact=True).click()
    error = author.locator(".errorlist").first
    expect(error).to_contain_text("JPY, Auto-approve ceiling: Other: JPY has 0 decimal places (whole amounts only).")
    expect(author.locator('input[aria-invalid="true"]')).to_have_count(1)
    author.locator("table.limits-table").scroll_into_view_if_needed()
    author.screenshot(path=str(screenshot_dir / "console-admin-policy-limits.png"), full_page=True)

    author.get_by_label("JPY: Auto-approve ceiling: Other").fill("45000")
    author.get_by_role("button", name="Save", exact=True).click()
    author.get_by_role("heading", name="Backtest: the last 30 days").wait_for()
    expect(author.locator(".errornote")).to_contain_text("another risk user must approve or reject it")
    draft = RefundPolicy.objects.get(status=PolicyStatus.DRAFT)
    assert draft.limits["CHF"]["high_value"] == 180000 and draft.limits["USD"]["other"] == 30000
    assert policy_get_active().version == 1

    reviewer = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    admin_sign_in(reviewer, site, "risk2", f"/admin/refunds/refundpolicy/{draft.pk}/review/")
    reviewer.get_by_role("heading", name="Backtest: the last 30 days").wait_for()
    changed = reviewer.locator("h3:has-text('Refunds that would be decided differently') + table tbody tr")
    expect(changed).to_have_count(2)  # 450 USD other and 420 USD not received move to review
    reviewer.screenshot(path=str(screenshot_dir / "console-policy-backtest.png"), full_page=True)
    reviewer.get_by_label("Note (required to reject: the author reads it)").fill(
        "Backtest: two USD refunds move to review."
    )
    reviewer.get_by_role("button", name="Approve version 2").click()
    expect(reviewer.locator(".messagelist")).to_contain_text("Approved version 2")
    assert policy_get_active().version == 2


def test_approving_a_high_value_refund_asks_for_one_confirmation(site, page, screenshot_dir):
    order = captured_order(amount_minor=500000, order__order_id="ORD-9001")
    refund = make_refund(order=order, amount_minor=250000, reason=Reason.OTHER)
    assert refund.approvals_required == 2
    page.goto(f"{site}/console/login/")
    page.get_by_label("Username").fill("senior1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{site}/console/refunds/{refund.public_id}/")
    card = page.locator("#card")
    expect(card).to_contain_text("2,500.00 USD is above 2,000.00 USD")
    page.get_by_role("button", name="Approve (1 of 2)").click()
    expect(page.locator(".field-error")).to_contain_text("Tick this box to approve an amount above")
    expect(page.locator("#messages")).to_contain_text("Tick “I confirm approving")
    page.get_by_label("I confirm approving this high-value refund").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "console-card-high-value-confirm.png"), full_page=True)
    assert Refund.objects.get(pk=refund.pk).decisions.count() == 0
    page.get_by_label("I confirm approving this high-value refund").check()
    page.get_by_role("button", name="Approve (1 of 2)").click()
    expect(page.locator("#card")).to_contain_text("Your approval is recorded (1 of 2)")
    refund.refresh_from_db()
    assert refund.state == RefundState.REQUESTED and refund.decisions.count() == 1
