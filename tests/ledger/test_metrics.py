"""The amount refunded per currency that /metrics exports, read from the ledger (issue 16, executive dashboard)."""

from __future__ import annotations

import pytest

from core.metrics import scrape
from tests.reconciliation.factories import refund_answered, refund_settled, refund_submitted

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in scrape().decode().splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_settled_refunds_are_summed_per_currency_in_major_units():
    refund_settled(amount_minor=1250, currency="USD")
    refund_settled(amount_minor=750, currency="USD")
    refund_settled(amount_minor=300, currency="JPY")

    assert sample("ledger_refunds_amount_total", currency="USD", kind="settled") == 20.0
    assert sample("ledger_refunds_amount_total", currency="JPY", kind="settled") == 300.0


def test_refunds_not_yet_paid_back_or_failed_count_nothing():
    refund_submitted(amount_minor=5000)
    refund_answered(status="failed", amount_minor=4000)

    assert sample("ledger_refunds_amount_total", currency="USD", kind="settled") is None
    # Exported all the same (its TYPE line), so a dashboard naming it is checked against something real.
    assert "# TYPE ledger_refunds_amount_total counter" in scrape().decode()
