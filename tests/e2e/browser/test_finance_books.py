"""Month close and a correcting entry in a real browser, as two finance users work them (issue 12, item 13).

Fiona closes last month (the page warns about a refund approved then and not
settled yet) and drafts a correcting entry; she is not offered its approval.
Frank, the second finance user, approves it and it is posted. The
screenshots (UPDATE_SCREENSHOTS=1) are the ones docs/ledger.md shows.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ledger.enums import CorrectionState, PeriodState
from ledger.models import AccountingPeriod, CorrectingEntry
from refunds.enums import Role
from refunds.models import Refund
from tests.e2e.browser.test_console import axe_problems
from tests.e2e.browser.test_finance import PASSWORD, sign_in
from tests.reconciliation.factories import refund_submitted
from tests.reconciliation.finance_factories import last_month, moment_in
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def books(live_server, transactional_db):
    for username in ("fiona", "frank"):
        user = UserFactory(username=username, role=Role.FINANCE, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    refund = refund_submitted(amount_minor=4200)
    Refund.objects.filter(pk=refund.pk).update(decided_at=moment_in(last_month(), day=30))
    return live_server.url


def test_finance_closes_last_month(page, books, screenshot_dir):
    sign_in(page, books, "fiona", then="/finance/periods/")
    month = f"{last_month():%B %Y}"
    expect(page.get_by_role("heading", name=f"Close {month}")).to_be_visible()
    expect(page.get_by_text("1 refund(s) approved by month end are not settled yet")).to_be_visible()

    page.get_by_label("Note").fill("Trial balance zero; no open exceptions.")
    page.get_by_role("button", name=f"Close {month}").click()

    expect(page.get_by_text(f"{month} is closed: nothing more is booked into it.")).to_be_visible()
    expect(page.get_by_role("button", name="Request reopen").first).to_be_visible()
    assert AccountingPeriod.objects.get(month=last_month()).state == PeriodState.CLOSED
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "finance-period-close.png"), full_page=True)


def test_a_correcting_entry_needs_a_second_finance_user(page, books, screenshot_dir):
    sign_in(page, books, "fiona", then="/finance/corrections/")
    page.get_by_label("Reason").fill("Provider fee of 2026-11-30 booked twice (ticket FIN-12)")
    page.get_by_label("Account of line 1").select_option("provider_clearing")
    page.get_by_label("Debit of line 1").fill("12.50")
    page.get_by_label("Account of line 2").select_option("refunds_payable")
    page.get_by_label("Credit of line 2").fill("12.50")
    page.get_by_role("button", name="Draft for approval").click()

    expect(page.get_by_text("another finance user must approve it").first).to_be_visible()
    expect(page.get_by_role("button", name="Approve and post")).to_have_count(0)
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "finance-correcting-entry.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, books, "frank", then="/finance/corrections/")
    page.get_by_role("button", name="Approve and post").click()

    expect(page.get_by_text("posted as journal entry")).to_be_visible()
    correction = CorrectingEntry.objects.get()
    assert (correction.state, correction.checker.username) == (CorrectionState.POSTED, "frank")
