"""Finance screens: only finance and admin get in; runs are queued, read, filtered and resolved from here."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from reconciliation.enums import ItemKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun
from reconciliation.services import reconciliation_run
from refunds.enums import Role
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def a_run(system_actor):
    refund = refund_settled()
    report = provider_report([provider_row(refund, amount=refund.amount_minor + 1), provider_row(None)])
    return reconciliation_run(day=today(), provider="stripe", source=RunSource.FILE, file=report, actor=system_actor)


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Runs handed to the worker (the task is not run here; tests/reconciliation/test_operations.py runs it)."""
    sent: list[int] = []
    monkeypatch.setattr("reconciliation.tasks.reconcile_run.apply_async", lambda kwargs: sent.append(kwargs["run_id"]))
    return sent


def login(client, role):
    user = UserFactory(username=f"user-{role or 'none'}", role=role)
    client.force_login(user)
    return user


def finance_urls(run) -> list[tuple[str, str]]:
    item = ReconciliationItem.objects.filter(run=run).first()
    day = today()
    return [
        ("get", "/finance/"),
        ("get", f"/finance/runs/{run.pk}/"),
        ("get", f"/finance/runs/{run.pk}/export.csv"),
        ("get", f"/finance/export.csv?day_from={day}&day_to={day}"),
        ("get", f"/finance/ledger/export.csv?day_from={day}&day_to={day}"),
        ("post", f"/finance/items/{item.pk}/resolve/"),
        ("post", "/finance/runs/new/"),
        ("post", "/finance/trial-balance/"),
    ]


def test_anonymous_visitors_are_sent_to_the_console_login(client, a_run):
    for method, url in finance_urls(a_run):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/console/login/?next=/finance/"), url


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT, Role.RISK, None])
def test_roles_without_finance_get_403_everywhere(client, a_run, role):
    login(client, role)

    for method, url in finance_urls(a_run):
        assert getattr(client, method)(url, {"note": "x"} if method == "post" else None).status_code == 403, url
    assert not ReconciliationItem.objects.filter(resolved=True).exists()


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN])
def test_finance_and_admin_can_read_and_download(client, a_run, role):
    login(client, role)

    for method, url in finance_urls(a_run):
        if method == "get":
            response = client.get(url)
            assert response.status_code == 200, url
            if response.streaming:  # a CSV fails while streaming, after its 200: read it to the end
                body = b"".join(response.streaming_content)
                assert body.count(b"\n") >= 2, url  # the header and at least one row


def test_runs_page_lists_runs_with_status_counts_and_rate(client, a_run):
    login(client, Role.FINANCE)

    page = client.get("/finance/").content.decode()

    assert f'href="/finance/runs/{a_run.pk}/"' in page
    assert "Succeeded" in page and "100.000 %" in page
    assert "Trial balance" in page


def test_run_page_shows_totals_and_open_exceptions_with_filters(client, a_run):
    login(client, Role.FINANCE)

    page = client.get(f"/finance/runs/{a_run.pk}/").content.decode()
    only_missing = client.get(f"/finance/runs/{a_run.pk}/?kind=missing_in_ledger").content.decode()

    assert "Amount mismatch" in page and "Missing in ledger" in page
    assert "USD" in page and "Difference" in page
    amount_item = ReconciliationItem.objects.get(run=a_run, kind=ItemKind.AMOUNT_MISMATCH)
    assert f'id="item-{amount_item.pk}"' in page
    assert f'id="item-{amount_item.pk}"' not in only_missing


def test_resolving_from_the_screen_records_the_note_and_who(client, a_run):
    user = login(client, Role.FINANCE)
    item = ReconciliationItem.objects.get(run=a_run, kind=ItemKind.MISSING_IN_LEDGER)

    response = client.post(
        f"/finance/items/{item.pk}/resolve/",
        {"note": "Manual refund in the dashboard, booked JE-12", "next": f"/finance/runs/{a_run.pk}/"},
    )

    assert response.status_code == 302 and response["Location"] == f"/finance/runs/{a_run.pk}/"
    item.refresh_from_db()
    assert (item.resolved, item.resolved_by, item.resolution_note) == (
        True,
        user,
        "Manual refund in the dashboard, booked JE-12",
    )
    assert AuditEvent.objects.filter(action="reconciliation.item_resolved", actor_user=user).exists()
    assert "2 exceptions (1 open, 1 resolved)" in client.get(f"/finance/runs/{a_run.pk}/").content.decode()


def test_resolving_without_a_note_changes_nothing(client, a_run):
    login(client, Role.FINANCE)
    item = ReconciliationItem.objects.get(run=a_run, kind=ItemKind.MISSING_IN_LEDGER)

    client.post(f"/finance/items/{item.pk}/resolve/", {"note": "   "})

    item.refresh_from_db()
    assert not item.resolved


def test_resolve_never_redirects_off_site(client, a_run):
    login(client, Role.FINANCE)
    item = ReconciliationItem.objects.get(run=a_run, kind=ItemKind.MISSING_IN_LEDGER)

    response = client.post(f"/finance/items/{item.pk}/resolve/", {"note": "ok", "next": "https://evil.example/"})

    assert response["Location"] == f"/finance/runs/{a_run.pk}/"


def test_requesting_an_api_run_queues_it_for_a_worker(client, queued, django_capture_on_commit_callbacks):
    login(client, Role.FINANCE)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/finance/runs/new/", {"day": str(today()), "provider": "stripe", "source": "api"})

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/finance/runs/{run.pk}/"
    assert (run.status, run.source, run.requested_label) == (RunStatus.QUEUED, RunSource.API, "user-finance")
    assert queued == [run.pk]


def test_requesting_a_report_run_keeps_the_upload_for_the_worker(client, queued, django_capture_on_commit_callbacks):
    login(client, Role.FINANCE)
    report = provider_report([provider_row(None)]).getvalue()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/finance/runs/new/",
            {
                "day": str(today()),
                "provider": "stripe",
                "source": "file",
                "report": SimpleUploadedFile("stripe-2026.csv", report, content_type="text/csv"),
            },
        )

    run = ReconciliationRun.objects.get()
    assert (run.source, run.source_name) == (RunSource.FILE, "stripe-2026.csv")
    with default_storage.open(run.upload_path, "rb") as stored:
        assert stored.read() == report
    assert queued == [run.pk]
    default_storage.delete(run.upload_path)


def test_a_report_in_an_unknown_layout_is_refused_before_queueing(client, queued):
    login(client, Role.FINANCE)

    response = client.post(
        "/finance/runs/new/",
        {
            "day": str(today()),
            "provider": "stripe",
            "source": "file",
            "report": SimpleUploadedFile("notes.csv", io.BytesIO(b"date,text\n2026-01-01,hi\n").read()),
        },
    )

    assert response.status_code == 400
    assert "unknown report layout" in response.content.decode()
    assert not ReconciliationRun.objects.exists() and queued == []


def test_checking_the_trial_balance_from_the_screen_stores_the_result(client):
    login(client, Role.FINANCE)
    refund_settled()

    client.post("/finance/trial-balance/")

    page = client.get("/finance/").content.decode()
    assert "Every currency sums to zero." in page


def test_a_superseded_run_points_to_the_current_one(client, a_run, system_actor):
    login(client, Role.FINANCE)
    newer = reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report([]), actor=system_actor
    )

    page = client.get(f"/finance/runs/{a_run.pk}/").content.decode()

    assert "This run is history" in page and f'href="/finance/runs/{newer.pk}/"' in page
    assert "/resolve/" not in page and "resolve it in the current run" in page
    assert newer.exception_count == 1  # the settled refund the empty report misses
    assert "/resolve/" in client.get(f"/finance/runs/{newer.pk}/").content.decode()


def test_a_currency_with_exceptions_links_to_its_exceptions(client, a_run):
    login(client, Role.FINANCE)

    page = client.get(f"/finance/runs/{a_run.pk}/").content.decode()
    only_eur = client.get(f"/finance/runs/{a_run.pk}/?currency=EUR&resolution=all").content.decode()

    assert 'href="?currency=USD&amp;resolution=all"' in page
    assert "Nothing here: no items match these filters." in only_eur
