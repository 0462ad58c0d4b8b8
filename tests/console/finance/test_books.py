"""Finance screens of the books: periods (close, reopen four-eyes), correcting entries, bulk resolve."""

import pytest

from ledger.enums import CorrectionState, PeriodState, ReopenState
from ledger.models import AccountingPeriod, CorrectingEntry, JournalEntry, PeriodReopenRequest
from reconciliation.enums import ItemKind, RunSource
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from refunds.enums import Role
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.reconciliation.finance_factories import closed, last_month
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.django_db]


def login(client, username, role=Role.FINANCE):
    user = UserFactory(username=username, role=role)
    client.force_login(user)
    return user


@pytest.mark.parametrize("url", ["/finance/periods/", "/finance/corrections/"])
def test_the_books_are_for_finance_only(client, url):
    login(client, "agent", Role.AGENT)
    assert client.get(url).status_code == 403
    assert client.post("/finance/periods/close/", {"month": f"{last_month():%Y-%m}"}).status_code == 403
    assert client.post("/finance/corrections/new/", {}).status_code == 403
    assert not AccountingPeriod.objects.filter(state=PeriodState.CLOSED).exists()


def test_finance_closes_last_month_from_the_periods_page(client):
    login(client, "alice")
    page = client.get("/finance/periods/")
    assert page.status_code == 200
    assert f"Close {last_month():%B %Y}".encode() in page.content

    response = client.post("/finance/periods/close/", {"month": f"{last_month():%Y-%m}", "note": "books done"})

    assert response.status_code == 302
    assert AccountingPeriod.objects.get(month=last_month()).state == PeriodState.CLOSED
    assert b"is closed: nothing more is booked into it" in client.get(response.url).content


def test_the_requester_is_not_offered_the_approval_of_their_reopen(client):
    alice = login(client, "alice")
    closed(last_month())
    PeriodReopenRequest.objects.create(period_id=last_month(), reason="late fee", requested_by=alice)
    page = client.get("/finance/periods/").content
    assert b"Approve reopen" not in page and b"Another finance user must approve it." in page

    login(client, "bob")
    assert b"Approve reopen" in client.get("/finance/periods/").content
    request = PeriodReopenRequest.objects.get()
    client.post(f"/finance/periods/reopen/{request.pk}/approve/", {"note": ""})
    request.refresh_from_db()
    assert request.state == ReopenState.APPROVED


def test_a_correction_drafted_on_screen_is_posted_by_a_second_user(client):
    login(client, "alice")
    form = {
        "currency": "USD",
        "reason": "Fee booked twice",
        "account_1": "provider_clearing",
        "debit_1": "2.50",
        "account_2": "refunds_payable",
        "credit_2": "2.50",
    }
    assert client.post("/finance/corrections/new/", form).status_code == 302
    correction = CorrectingEntry.objects.get()
    assert correction.lines == [["provider_clearing", 250], ["refunds_payable", -250]]
    own = client.post(f"/finance/corrections/{correction.pk}/approve/")
    assert b"a second finance user must approve it" in client.get(own.url).content
    assert not JournalEntry.objects.exists()

    login(client, "bob")
    client.post(f"/finance/corrections/{correction.pk}/approve/")
    correction.refresh_from_db()
    assert correction.state == CorrectionState.POSTED and correction.journal_entry.amount_minor == 250


def test_an_unbalanced_draft_is_shown_again_with_the_error(client):
    login(client, "alice")
    form = {"currency": "USD", "reason": "x", "account_1": "provider_clearing", "debit_1": "2.50"}
    form |= {"account_2": "refunds_payable", "credit_2": "2.40"}
    response = client.post("/finance/corrections/new/", form)
    assert response.status_code == 400 and b"Debits and credits must be equal." in response.content
    assert not CorrectingEntry.objects.exists()


def test_bulk_resolve_from_the_run_page_reports_every_row(client, system_actor):
    off = refund_settled()
    rows = [provider_row(off, amount=off.amount_minor + 1), provider_row(None)]
    run = reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=system_actor
    )
    login(client, "alice")
    page = client.get(f"/finance/runs/{run.pk}/").content
    assert b'form="bulk-resolve"' in page and b"Resolve selected" in page
    ids = list(run.items.exclude(kind=ItemKind.MATCHED).values_list("pk", flat=True))

    response = client.post(
        f"/finance/runs/{run.pk}/resolve/", {"item": [*ids, 999_999_999], "kind": "timing", "note": "settles tomorrow"}
    )

    assert ReconciliationItem.objects.filter(pk__in=ids, resolved=True, resolution_kind="timing").count() == 2
    shown = client.get(response.url).content.decode()
    assert "Resolved 2 of 3" in shown and "Not an item of this run." in shown
