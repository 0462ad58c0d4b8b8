"""Money refunded, per currency, read from the ledger at scrape time (see `core.metrics`).

The executive dashboard shows amounts, not only counts (issue 16). The
ledger is the book of record for them: a REFUND_SETTLED entry is posted once
per refund when the provider paid the customer back, and a
REFUND_SETTLEMENT_REVERSED once when the provider took it back. Both only
ever grow (the ledger is append-only), so they are exported as counters and
Prometheus' `increase()` gives the amount of any window. Major units (1.25 USD,
150 JPY), so currencies of different exponents read alike on one panel.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Sum
from prometheus_client.core import CounterMetricFamily

from core.money import minor_to_major
from ledger.enums import EntryType
from ledger.models import JournalEntry

# entry type -> the `kind` label: what happened to the money.
_KINDS = {EntryType.REFUND_SETTLED: "settled", EntryType.REFUND_SETTLEMENT_REVERSED: "reversed"}


def database_gauges() -> Iterator[CounterMetricFamily]:
    """One sum per currency and kind, in one grouped query over the two entry types."""
    family = CounterMetricFamily(
        "ledger_refunds_amount",
        "Money refunded to customers through providers (settled) and taken back (reversed), per currency, "
        "in major units, from the ledger.",
        labels=["currency", "kind"],
    )
    rows = (
        JournalEntry.objects.filter(entry_type__in=list(_KINDS))
        .values("currency", "entry_type")
        .annotate(total=Sum("amount_minor"))
        .order_by("currency", "entry_type")
    )
    for row in rows:
        family.add_metric(
            [row["currency"], _KINDS[row["entry_type"]]], float(minor_to_major(row["total"], row["currency"]))
        )
    yield family
