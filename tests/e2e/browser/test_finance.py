"""The finance screens in a real browser (Debian chromium via Playwright), as a finance user works them.

A day with every kind of exception is reconciled from a provider report;
the finance user signs in through the console login, reads the runs and the
trial balance, filters the run's exceptions, resolves one with a note and
downloads the exceptions CSV. The screenshots saved to docs/screenshots/
(UPDATE_SCREENSHOTS=1) are the ones docs/reconciliation.md shows.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEvent
from core.actor import Actor
from reconciliation.enums import ItemKind, RunSource
from reconciliation.exports import ITEM_COLUMNS
from reconciliation.models import ReconciliationItem, ReconciliationRun
from reconciliation.services import reconciliation_run, trial_balance_check
from refunds.enums import Role, WebhookStatus
from refunds.models import WebhookEvent
from tests.e2e.browser.test_console import axe_problems
from tests.reconciliation.factories import (
    new_provider_id,
    provider_report,
    provider_row,
    refund_answered,
    refund_settled,
)
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "finance-browser-pw"
K = ItemKind


@pytest.fixture
def finance(live_server, transactional_db):
    """The live server's URL, with a finance user and an agent who can sign in."""
    for username, role in [("fiona", Role.FINANCE), ("agent", Role.AGENT)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def sign_in(page, base_url: str, username: str, then: str = "/finance/") -> None:
    page.goto(f"{base_url}{then}")  # not signed in: the console login, coming back here
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}{then}")


def a_day_with_every_exception() -> ReconciliationRun:
    """Our refunds through the real services, and a provider report that disagrees in every way there is."""
    matched = [refund_settled(amount_minor=amount) for amount in (1250, 4999, 18000)]
    matched.append(refund_settled(amount_minor=120000, currency="JPY"))
    matched.append(refund_settled(amount_minor=3400, currency="EUR"))
    pending = refund_answered(status="pending", amount_minor=2200)
    amount = refund_settled(amount_minor=7500)
    currency = refund_settled(amount_minor=2590, currency="EUR")
    state = refund_settled(amount_minor=6100)
    refund_settled(amount_minor=4200)  # the provider's report does not have it: missing at provider
    WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_dashboard_1",
        event_type="refund.updated",
        provider_refund_id="re_made_in_the_dashboard",
        payload={
            "data": {
                "object": {"id": "re_made_in_the_dashboard", "amount": 1500, "currency": "usd", "status": "succeeded"}
            }
        },
        status=WebhookStatus.UNKNOWN_REFUND,
    )
    rows = [
        *(provider_row(refund) for refund in matched),
        provider_row(pending),
        provider_row(amount, amount=7600),
        provider_row(currency, currency="GBP"),
        provider_row(state, status="failed"),
        provider_row(None, id=new_provider_id(), amount=999, payment_intent="pi_dashboard"),
    ]
    report = provider_report(rows)
    report.name = "stripe-refunds-report.csv"
    return reconciliation_run(
        day=timezone.now().date(),
        provider="stripe",
        source=RunSource.FILE,
        file=report,
        actor=Actor.system("nightly job"),
    )


def test_finance_reads_a_run_resolves_an_exception_and_downloads_the_csv(finance, page, screenshot_dir):
    run = a_day_with_every_exception()
    trial_balance_check(checked_by="nightly job")
    assert run.exception_count == 6 and set(run.counts) == set(ItemKind.values)

    sign_in(page, finance, "fiona")
    page.get_by_role("heading", name="Reconciliation", exact=True).wait_for()
    expect(page.locator("#tb-title + p")).to_contain_text("Every currency sums to zero.")
    runs = page.locator("section[aria-labelledby=runs-title] table tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("Succeeded")
    expect(runs.first).to_contain_text(f"{run.mismatch_rate_pct} %")
    page.screenshot(path=str(screenshot_dir / "finance-runs.png"), full_page=True)

    runs.first.get_by_role("link").first.click()
    page.get_by_role("heading", name="Per currency: ledger against provider").wait_for()
    totals = page.locator("section[aria-labelledby=totals-title] tbody tr")
    expect(totals).to_have_count(4)  # EUR, GBP (only the provider's), JPY, USD
    expect(totals.filter(has_text="GBP")).to_contain_text("25.90 GBP")
    expect(totals.filter(has_text="JPY")).to_contain_text("0 — in parity")
    expect(page.locator("table.items tbody tr")).to_have_count(6)
    page.screenshot(path=str(screenshot_dir / "finance-run.png"), full_page=True)

    page.get_by_label("Kind", exact=True).select_option(K.AMOUNT_MISMATCH)
    page.get_by_role("button", name="Filter").click()
    items = page.locator("table.items tbody tr")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("75.00 USD")
    expect(items.first).to_contain_text("76.00 USD")
    items.first.get_by_label("Resolution note").fill("Provider added a 1.00 fee; booked as JE-2291")
    items.first.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status").first).to_contain_text("resolved")
    item = ReconciliationItem.objects.get(run=run, kind=K.AMOUNT_MISMATCH)
    assert (item.resolved, item.resolution_note, item.resolved_by.username) == (
        True,
        "Provider added a 1.00 fee; booked as JE-2291",
        "fiona",
    )
    assert AuditEvent.objects.filter(action="reconciliation.item_resolved", actor_label="fiona").count() == 1

    page.get_by_label("Resolution", exact=True).select_option("all")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.items tbody tr").first).to_contain_text("Resolved by fiona")
    page.screenshot(path=str(screenshot_dir / "finance-run-resolved.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Exceptions CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert list(rows[0]) == ITEM_COLUMNS
    assert sorted(row["kind"] for row in rows) == sorted(kind for kind in ItemKind.values if kind != K.MATCHED)
    assert next(row for row in rows if row["kind"] == K.AMOUNT_MISMATCH)["resolution_note"].startswith("Provider")


def test_an_agent_signed_in_is_refused_the_finance_screens(finance, page, screenshot_dir):
    sign_in(page, finance, "agent")

    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert axe_problems(page) == []
    response = page.request.get(f"{finance}/finance/ledger/export.csv?day_from=2026-01-01&day_to=2026-01-31")
    assert response.status == 403
    page.screenshot(path=str(screenshot_dir / "finance-forbidden.png"), full_page=True)


def test_every_finance_page_passes_axe(finance, page):
    """The shared chrome with the finance accent: contrast, labels, landmarks and ARIA on each finance page."""
    run = a_day_with_every_exception()
    trial_balance_check(checked_by="nightly job")
    item = ReconciliationItem.objects.filter(run=run, kind=K.AMOUNT_MISMATCH).get()
    sign_in(page, finance, "fiona")
    pages = {"runs": axe_problems(page)}
    for name, url in [
        ("runs, filtered with history", f"{finance}/finance/?provider=stripe&history=on"),
        ("run", f"{finance}/finance/runs/{run.pk}/"),
        ("run, all items of a kind", f"{finance}/finance/runs/{run.pk}/?kind={K.AMOUNT_MISMATCH}&resolution=all"),
        ("not found", f"{finance}/finance/runs/{run.pk + 1000}/"),
        ("bad export dates", f"{finance}/finance/export.csv?day_from=2026-02-01&day_to=2026-01-01"),
    ]:
        page.goto(url)
        pages[name] = axe_problems(page)
    page.goto(f"{finance}/finance/runs/{run.pk}/")
    row = page.locator(f"#item-{item.pk}")
    row.get_by_label("Resolution note").fill(" ")  # blank once stripped: refused with a message
    row.get_by_role("button", name="Resolve").click()
    page.get_by_role("alert").wait_for()
    pages["run: refused resolve"] = axe_problems(page)
    assert {name: found for name, found in pages.items() if found} == {}
