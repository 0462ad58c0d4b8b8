"""Operations: the nightly task, queued runs, the trial balance alarm, the gauges, `manage.py reconcile`."""

import logging
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from celery.schedules import crontab
from django.core.management import CommandError, call_command
from django.urls import resolve
from django.utils import timezone

from core.actor import Actor
from core.metrics import scrape as scrape_metrics
from providers.base import ReportRow
from reconciliation.enums import RunSource, RunStatus
from reconciliation.models import ReconciliationRun, TrialBalanceCheck
from reconciliation.services import reconciliation_run, reconciliation_run_create, trial_balance_check
from reconciliation.tasks import reconcile_run, reconcile_yesterday
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today

pytestmark = pytest.mark.django_db


class _Listing:
    """A provider listing only (the provider is not the subject here)."""

    lists_refunds, sends_webhooks, api_base = True, False, "listing"

    def __init__(self, records):
        self.records, self.asked = records, []

    def iter_refunds(self, *, created_gte, created_lt, page_size=100):
        self.asked.append((created_gte, created_lt))
        return iter(self.records)


def scrape() -> str:
    return scrape_metrics().decode()


def test_nightly_task_checks_the_trial_balance_and_reconciles_yesterday(monkeypatch, settings):
    settings.PROVIDER = "stripe"
    listing = _Listing([])
    monkeypatch.setattr("reconciliation.services.get_provider", lambda name=None: listing)

    result = reconcile_yesterday.run()

    run = ReconciliationRun.objects.get()
    yesterday = today() - timedelta(days=1)
    assert (run.day, run.source, run.status, run.requested_label) == (
        yesterday,
        RunSource.API,
        RunStatus.SUCCEEDED,
        "nightly job",
    )
    assert result == {"trial_balance_ok": True, "run_id": run.pk, "status": "succeeded", "exceptions": 0}
    [(gte, lt)] = listing.asked
    assert gte == run.window_start.timestamp() - 3600 and lt == run.window_end.timestamp() + 3600
    assert TrialBalanceCheck.objects.get().is_balanced


def test_nightly_task_only_checks_the_ledger_for_manual_payouts(settings):
    settings.PROVIDER = "manual"

    assert reconcile_yesterday.run() == {"trial_balance_ok": True}
    assert not ReconciliationRun.objects.exists()


def test_queued_run_is_done_by_the_worker_task(system_actor):
    refund = refund_settled()
    run = reconciliation_run_create(day=today(), provider="stripe", source=RunSource.API, actor=system_actor)

    with mock.patch(
        "reconciliation.services.get_provider",
        return_value=_Listing(
            [
                ReportRow(
                    provider_refund_id=refund.provider_refund_id,
                    amount_minor=refund.amount_minor,
                    currency="USD",
                    status="succeeded",
                    created_unix=int(timezone.now().timestamp()),
                    payment_id="",
                    refund_public_id="",
                )
            ]
        ),
    ):
        assert reconcile_run.run(run_id=run.pk) == "succeeded"

    run.refresh_from_db()
    assert (run.is_current, run.matched_count, run.exception_count) == (True, 1, 0)


def test_worker_task_records_a_failed_run_instead_of_crashing(system_actor, monkeypatch):
    run = reconciliation_run_create(day=today(), provider="stripe", source=RunSource.FILE, actor=system_actor)

    assert reconcile_run.run(run_id=run.pk) == "failed"

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "no report" in run.error


def test_unbalanced_trial_balance_is_logged_and_shown_by_the_gauge(monkeypatch, caplog):
    monkeypatch.setattr("reconciliation.services.trial_balance", lambda: {"USD": 0, "EUR": 15})

    with caplog.at_level(logging.ERROR, logger="reconciliation"):
        check = trial_balance_check()

    assert not check.is_balanced
    assert any(getattr(r, "message_id", "") == "MSG.ledger.trial_balance_unbalanced" for r in caplog.records)
    metrics = scrape()
    assert "ledger_trial_balance_ok 0.0" in metrics
    assert 'ledger_trial_balance_minor{currency="EUR"} 15.0' in metrics


def test_mismatch_rate_gauge_reads_the_latest_current_run(system_actor):
    refund = refund_settled()
    report = provider_report([provider_row(refund), provider_row(None)])
    reconciliation_run(day=today(), provider="stripe", source=RunSource.FILE, file=report, actor=system_actor)

    assert 'refund_mismatch_rate_pct{provider="stripe"} 50.0' in scrape()


def test_manage_py_reconcile_reads_a_report_and_prints_the_summary(tmp_path):
    refund = refund_settled(amount_minor=4200)
    path = tmp_path / "report.csv"
    path.write_bytes(provider_report([provider_row(refund), provider_row(None, amount=99)]).getvalue())
    out = StringIO()

    call_command("reconcile", "--date", str(today()), "--provider-file", str(path), stdout=out)

    text = out.getvalue()
    assert "2 items, 1 exceptions, mismatch rate 50.000 %" in text
    assert "missing_in_ledger      1" in text
    assert "USD: ledger 42.00 USD  provider 42.99 USD  difference 0.99 USD" in text
    run = ReconciliationRun.objects.get()
    assert (run.source_name, run.requested_label) == ("report.csv", "manage.py reconcile")


def test_manage_py_reconcile_fails_loudly_on_a_bad_report(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("hello,world\n1,2\n")

    with pytest.raises(CommandError, match="unknown report layout"):
        call_command("reconcile", "--date", str(today()), "--provider-file", str(path), stdout=StringIO())
    assert ReconciliationRun.objects.get().status == RunStatus.FAILED


def test_system_actor_needs_no_role():
    run = reconciliation_run_create(
        day=today(), provider="stripe", source=RunSource.API, actor=Actor.system("operator")
    )
    assert run.status == RunStatus.QUEUED


def test_celery_beat_runs_the_nightly_reconciliation_every_night():
    from django.conf import settings

    from config.celery import app

    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == reconcile_yesterday.name]
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.hour, schedule.minute, schedule.day_of_week) == ({2}, {30}, set(range(7)))
    assert reconcile_yesterday.name in app.tasks


def test_the_finance_screens_are_mounted_at_finance():
    from console.finance import views

    assert resolve("/finance/").func is views.runs


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("22/11/2026", "not a date as YYYY-MM-DD"),
        ("2026-13-01", "not a calendar day"),
        ("2026-02-30", "not a calendar day"),
        ("20261122", "not a date as YYYY-MM-DD"),
    ],
)
def test_manage_py_reconcile_explains_a_bad_date(argument, message):
    with pytest.raises(CommandError, match=message):
        call_command("reconcile", "--date", argument, stdout=StringIO())
    assert not ReconciliationRun.objects.exists()


def test_manage_py_reconcile_refuses_a_missing_report_without_recording_a_run(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("reconcile", "--date", str(today()), "--provider-file", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match="not a file"):
        call_command("reconcile", "--date", str(today()), "--provider-file", str(tmp_path))
    assert not ReconciliationRun.objects.exists()


def test_manage_py_reconcile_refuses_a_future_day_and_manual_payouts_without_a_report():
    with pytest.raises(CommandError, match="future"):
        call_command("reconcile", "--date", str(today() + timedelta(days=3)), stdout=StringIO())
    with pytest.raises(CommandError, match="--provider-file"):
        call_command("reconcile", "--date", str(today()), "--provider", "manual", stdout=StringIO())
    assert not ReconciliationRun.objects.exists()


def test_manage_py_reconcile_fails_loudly_when_the_provider_is_down(settings):
    settings.PROVIDER = "stripe"
    settings.PROVIDER_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0

    with pytest.raises(CommandError, match="ProviderUnavailable"):
        call_command("reconcile", "--date", str(today()), stdout=StringIO())
    run = ReconciliationRun.objects.get()
    assert run.status == RunStatus.FAILED and not run.is_current
