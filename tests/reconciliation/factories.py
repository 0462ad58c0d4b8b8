"""Our side of a reconciliation, built through the real services, and provider reports to compare it with."""

from __future__ import annotations

import csv
import importlib
import io
import time
import uuid
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from providers.base import ProviderOutcome
from refunds.enums import Reason, RefundState, Role
from refunds.models import OutboxMessage, Refund
from refunds.services.decide import refund_approve
from refunds.services.outbox import outbox_claim
from refunds.services.outcome import refund_apply_outcome
from tests.refunds.factories import agent, captured_order, make_refund

LIST_COLUMNS = ["id", "amount", "currency", "status", "created", "payment_intent", "metadata[refund_id]"]


def new_provider_id() -> str:
    return "re_" + uuid.uuid4().hex[:24]


def refund_submitted(*, amount_minor: int = 5000, currency: str = "USD") -> Refund:
    """An auto-approved refund handed to the provider (state submitting, submitted now)."""
    order = captured_order(
        amount_minor=amount_minor * 2, currency=currency, provider_payment_id=f"pi_sim_ok_{uuid.uuid4().hex}"
    )
    refund = make_refund(order=order, amount_minor=amount_minor, reason=Reason.NOT_RECEIVED)
    if refund.state == RefundState.REQUESTED:  # over the auto-approve ceiling: a senior agent approves it
        refund = refund_approve(refund_id=refund.pk, actor=agent("senior", role=Role.SENIOR_AGENT))
    assert refund.state == RefundState.APPROVED
    assert outbox_claim(message_id=OutboxMessage.objects.get(refund=refund).pk) is not None
    refund.refresh_from_db()
    return refund


def refund_answered(
    *, status: str = "succeeded", amount_minor: int = 5000, currency: str = "USD", provider_refund_id: str | None = None
) -> Refund:
    """A submitted refund the provider answered: succeeded (completed, REFUND_SETTLED), pending or failed."""
    refund = refund_submitted(amount_minor=amount_minor, currency=currency)
    outcome = ProviderOutcome(
        status=status,
        provider_refund_id=provider_refund_id or new_provider_id(),
        failure_code="expired_or_canceled_card" if status == "failed" else None,
    )
    refund, applied = refund_apply_outcome(refund_id=refund.pk, outcome=outcome, source="test")
    assert applied
    return refund


def refund_settled(**kwargs) -> Refund:
    return refund_answered(status="succeeded", **kwargs)


# The SQLite triggers of the append-only ledger (the migration's module name is not importable as such).
SQLITE_SQL = importlib.import_module("ledger.migrations.0002_append_only_and_balanced").SQLITE_SQL


def refund_settled_earlier(*, days: int, **kwargs) -> Refund:
    """A refund submitted, completed and settled in the ledger `days` days ago.

    The services only post "now", and the ledger refuses updates, so the
    test moves the refund's entries back in time with the triggers switched
    off for that one statement (as the benchmark's bulk load does; the test
    database role is a superuser).
    """
    refund = refund_settled(**kwargs)
    moment = timezone.now() - timedelta(days=days)
    move = "UPDATE ledger_journalentry SET created_at = %s WHERE refund_id = %s"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            try:
                cursor.execute(move, [moment, refund.pk])
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
        else:  # the SQLite demo database: its append-only trigger, dropped and put back
            cursor.execute("DROP TRIGGER ledger_journalentry_no_update")
            try:
                cursor.execute(move, [connection.ops.adapt_datetimefield_value(moment), refund.pk])
            finally:
                cursor.execute(SQLITE_SQL[0])
    Refund.objects.filter(pk=refund.pk).update(submitted_at=moment, completed_at=moment, decided_at=moment)
    refund.refresh_from_db()
    return refund


def provider_row(refund: Refund | None = None, **overrides) -> dict:
    """What the provider reports for `refund` (as we think it is), with `overrides` planted."""
    row = {
        "id": refund.provider_refund_id if refund else new_provider_id(),
        "amount": refund.amount_minor if refund else 1234,
        "currency": refund.currency if refund else "USD",
        "status": "succeeded",
        "created": int(time.time()),
        "payment_intent": refund.payment.provider_payment_id if refund else "pi_unknown",
        "metadata[refund_id]": refund.public_id if refund else "",
    }
    if refund is not None and refund.state == RefundState.FAILED:
        row["status"] = "failed"
    elif refund is not None and refund.state == RefundState.PROVIDER_PENDING:
        row["status"] = "pending"
    row.update(overrides)
    return row


def provider_report(rows: list[dict], columns: list[str] = LIST_COLUMNS) -> io.BytesIO:
    """A provider report CSV (refund list layout) as an uploaded file would arrive."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    data = io.BytesIO(text.getvalue().encode())
    data.name = "provider-report.csv"
    return data


def today():
    return timezone.now().date()
