"""CSV exports: documented columns, amounts in minor units and formatted, safe in a spreadsheet, streamed."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse

from audit.models import AuditEvent
from reconciliation import exports
from reconciliation.enums import ItemKind, RunSource
from reconciliation.exports import ITEM_COLUMNS, LEDGER_COLUMNS, csv_safe, format_minor
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from refunds.enums import Role
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def finance_client(client):
    client.force_login(UserFactory(username="fiona", role=Role.FINANCE))
    return client


def run_file(actor, rows):
    return reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=actor
    )


def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("re_123", "re_123"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(value, safe):
    assert csv_safe(value) == safe


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123456, "USD", "1234.56"),
        (5, "USD", "0.05"),
        (-250, "EUR", "-2.50"),
        (1000, "JPY", "1000"),
        (1, "KWD", "0.001"),
    ],
)
def test_amounts_are_formatted_with_the_currency_exponent(minor, currency, text):
    assert format_minor(minor, currency) == text


def test_run_export_has_the_documented_columns_and_both_amount_forms(system_actor, finance_client):
    refund = refund_settled(amount_minor=123456)
    run = run_file(system_actor, [provider_row(refund, amount=123400)])

    response = finance_client.get(f"/finance/runs/{run.pk}/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"reconciliation-{today()}-stripe-run{run.pk}.csv" in response["Content-Disposition"]
    rows = read_csv(response)
    assert list(rows[0].keys()) == ITEM_COLUMNS
    assert rows == [
        {
            **rows[0],
            "run_id": str(run.pk),
            "day": str(today()),
            "kind": ItemKind.AMOUNT_MISMATCH,
            "provider_refund_id": refund.provider_refund_id,
            "refund_id": refund.public_id,
            "our_amount_minor": "123456",
            "our_amount": "1234.56",
            "our_currency": "USD",
            "our_state": "completed",
            "provider_amount_minor": "123400",
            "provider_amount": "1234.00",
            "provider_currency": "USD",
            "provider_status": "succeeded",
            "difference_minor": "-56",
            "resolved": "no",
        }
    ]
    assert rows[0]["ledger_settled_at"].startswith(str(today()))


def test_values_from_the_provider_cannot_become_formulas_in_the_export(system_actor, finance_client):
    evil = provider_row(None, id='=HYPERLINK("http://evil.example","open")', currency="USD")
    run = run_file(system_actor, [evil])
    item = ReconciliationItem.objects.get(run=run)
    item.resolution_note = "@SUM(1+1)*cmd|' /C calc'!A0"
    item.resolved = True
    item.save()

    rows = read_csv(finance_client.get(f"/finance/runs/{run.pk}/export.csv"))

    assert rows[0]["provider_refund_id"] == "'" + evil["id"]
    assert rows[0]["resolution_note"].startswith("'@SUM")
    assert all(not value.startswith(("=", "+", "@")) for row in rows for value in row.values())


def test_exceptions_only_export_leaves_matched_items_out(system_actor, finance_client):
    matched = refund_settled()
    run = run_file(system_actor, [provider_row(matched), provider_row(None)])

    rows = read_csv(finance_client.get(f"/finance/runs/{run.pk}/export.csv?exceptions=1"))

    assert [row["kind"] for row in rows] == [ItemKind.MISSING_IN_LEDGER]


def test_range_export_takes_the_current_run_of_each_day(system_actor, finance_client):
    refund = refund_settled()
    run_file(system_actor, [provider_row(refund, amount=1)])
    current = run_file(system_actor, [provider_row(refund)])

    day = today()
    response = finance_client.get(f"/finance/export.csv?day_from={day - timedelta(days=3)}&day_to={day}")

    rows = read_csv(response)
    assert [(row["run_id"], row["kind"]) for row in rows] == [(str(current.pk), ItemKind.MATCHED)]


def test_range_export_refuses_a_backwards_range(finance_client):
    day = today()
    response = finance_client.get(f"/finance/export.csv?day_from={day}&day_to={day - timedelta(days=1)}")

    assert response.status_code == 400


def test_ledger_export_lists_every_posting_of_the_range(finance_client):
    refund = refund_settled(amount_minor=5000)

    rows = read_csv(finance_client.get(f"/finance/ledger/export.csv?day_from={today()}&day_to={today()}"))

    assert list(rows[0].keys()) == LEDGER_COLUMNS
    mine = [row for row in rows if row["refund_id"] == refund.public_id]
    assert {(row["entry_type"], row["account"], row["side"], row["amount_minor"], row["amount"]) for row in mine} == {
        ("REFUND_PENDING", "sales_returns", "debit", "5000", "50.00"),
        ("REFUND_PENDING", "refunds_payable", "credit", "-5000", "-50.00"),
        ("REFUND_SETTLED", "refunds_payable", "debit", "5000", "50.00"),
        ("REFUND_SETTLED", "provider_clearing", "credit", "-5000", "-50.00"),
    }
    assert sum(int(row["amount_minor"]) for row in rows) == 0


def test_downloads_are_audited(system_actor, finance_client):
    run = run_file(system_actor, [provider_row(None)])

    b"".join(finance_client.get(f"/finance/runs/{run.pk}/export.csv").streaming_content)

    event = AuditEvent.objects.get(action="reconciliation.exported")
    assert event.actor_label == "fiona" and f"run {run.pk}" in event.note


def test_postgres_copy_and_the_portable_writer_produce_the_same_bytes(system_actor):
    """The COPY path (PostgreSQL) and the csv-module path (SQLite demo) are two spellings of one format."""
    refund = refund_settled(amount_minor=123456)
    jpy = refund_settled(amount_minor=5000, currency="JPY")
    rows = [
        provider_row(refund, amount=1),
        provider_row(jpy),
        provider_row(None, id="-1+2", currency="KWD", amount=1234),
        provider_row(None, id="@x", amount=5),
    ]
    run = run_file(system_actor, rows)
    item = ReconciliationItem.objects.get(run=run, provider_refund_id="-1+2")
    item.resolution_note = 'quote " comma, new\nline and =sum'
    item.resolved = True
    item.resolved_by = UserFactory(username="=evil")
    item.resolved_at = refund.completed_at
    item.save()

    for copy_path, portable in [
        (exports.run_csv(run, use_copy=True), exports.run_csv(run, use_copy=False)),
        (
            exports.run_csv(run, exceptions_only=True, use_copy=True),
            exports.run_csv(run, exceptions_only=True, use_copy=False),
        ),
        (
            exports.ledger_csv(day_from=today(), day_to=today(), use_copy=True),
            exports.ledger_csv(day_from=today(), day_to=today(), use_copy=False),
        ),
    ]:
        copied = b"".join(copy_path)
        assert copied.count(b"\n") > 1  # a header and rows: two empty exports would agree too
        assert copied == b"".join(portable)


def _documented_columns(heading: str) -> list[str]:
    """The column names listed, in order, in the first cells of the table under `heading` in the docs."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "reconciliation.md").read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return [name for cell in cells for name in re.findall(r"`([^`]+)`", cell)]


def test_the_documented_columns_are_the_exported_columns():
    assert _documented_columns("### Run / date range") == ITEM_COLUMNS
    assert _documented_columns("### Ledger (") == LEDGER_COLUMNS


@pytest.mark.parametrize("use_copy", [True, False])
def test_ledger_export_has_correcting_entries_and_both_dates(finance_client, use_copy, monkeypatch):
    from reconciliation import exports
    from reconciliation.corrections import correction_approve, correction_draft
    from tests.reconciliation.finance_factories import finance

    monkeypatch.setattr(exports, "_use_copy", lambda requested: use_copy)
    lines = [("provider_clearing", 250), ("refunds_payable", -250)]
    draft = correction_draft(currency="USD", lines=lines, reason="fee twice", actor=finance("maker"))
    correction_approve(correction_id=draft.pk, actor=finance("checker"))

    rows = read_csv(finance_client.get(f"/finance/ledger/export.csv?day_from={today()}&day_to={today()}"))

    mine = [row for row in rows if row["entry_type"] == "CORRECTION"]
    assert {(row["refund_id"], row["account"], row["amount_minor"]) for row in mine} == {
        ("", "provider_clearing", "250"),
        ("", "refunds_payable", "-250"),
    }
    assert {(row["event_on"], row["booked_on"]) for row in mine} == {(str(today()), str(today()))}
