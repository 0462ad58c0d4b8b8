"""Classifying a day in one statement, and summing it up (docs/reconciliation.md "Classification").

The item rows are written by a single INSERT … SELECT over the staged
provider rows and our side of the day, so PostgreSQL hash-joins a million
refunds without a row ever travelling to Python. Each refund is reconciled on
exactly one day: its ledger settlement day if our ledger settled it, else the
day the provider created it, else the day we submitted it. That keeps the
per-currency ledger total of a run equal to what the ledger posted that day.
One exception to "one day per refund": a provider report's `refund_failure`
row for a refund our ledger settled on an earlier day (the money came back
later) is compared on the day of the failure too - otherwise nobody would
ever see it.

SQL text is built from module constants (table and column names) only; every
value is a query parameter - hence the `noqa: S608` markers.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from reconciliation.enums import ItemKind
from reconciliation.staging import FAILED, META, STAGE, UNLISTED
from reconciliation.window import DayWindow

K = ItemKind

_ITEM_COLUMNS = (
    "run_id, kind, provider_refund_id, refund_id, refund_public_id, "
    "our_amount_minor, our_currency, our_state, ledger_settled_at, "
    "provider_amount_minor, provider_currency, provider_status, provider_created_at, "
    "note, resolved, resolution_note, resolved_by_id, resolved_at"
)
# The provider side as one row `x` (NULL columns when absent) next to our refund `r_*`.
_X_COLUMNS = (
    "s.provider_refund_id, s.amount_minor, s.currency, s.status, s.created_unix, s.metadata_refund_id, "
    "r.id AS r_id, r.public_id AS r_public_id, r.amount_minor AS r_amount, r.currency AS r_currency, "
    "r.state AS r_state, r.provider_refund_id AS r_provider_refund_id"
)
# A reversal row anywhere in the report makes the refund failed.
PROVIDER_STATUS_SQL = (
    "CASE WHEN x.provider_refund_id IS NULL THEN NULL WHEN f.provider_refund_id IS NOT NULL THEN 'failed' "
    "ELSE x.status END"
)
# First rule that applies wins; `je` is our refund's REFUND_SETTLED entry, `jr` its
# REFUND_SETTLEMENT_REVERSED (issue 12: the provider failed it after it succeeded, and so do we).
KIND_SQL = f"""
    CASE
        WHEN x.at_provider = 0 THEN '{K.MISSING_AT_PROVIDER}'
        WHEN x.r_id IS NULL THEN '{K.MISSING_IN_LEDGER}'
        WHEN x.currency <> COALESCE(je.currency, x.r_currency) THEN '{K.CURRENCY_MISMATCH}'
        WHEN x.amount_minor <> COALESCE(je.amount_minor, x.r_amount) THEN '{K.AMOUNT_MISMATCH}'
        WHEN ({PROVIDER_STATUS_SQL}) = 'succeeded' AND je.id IS NULL THEN '{K.MISSING_IN_LEDGER}'
        WHEN ({PROVIDER_STATUS_SQL}) <> CASE
                WHEN jr.id IS NOT NULL THEN 'failed'
                WHEN je.id IS NOT NULL THEN 'succeeded'
                WHEN x.r_state IN ('submitting', 'provider_pending') THEN 'pending'
                ELSE x.r_state
            END THEN '{K.STATE_MISMATCH}'
        ELSE '{K.MATCHED}'
    END
"""


def _unix_to_timestamp(vendor: str, column: str) -> str:
    if vendor == "postgresql":
        return f"to_timestamp({column})"
    return f"datetime({column}, 'unixepoch')"


LATE_FAILURE_NOTE = "failed at the provider on this day; our ledger settled it on an earlier day"


def _insert(x_sql: str, where: str, vendor: str) -> str:
    """INSERT … SELECT of items from a derived table `x` of provider rows next to our refunds.

    Parameters, in order: the run id, the day's start (to recognise a late
    failure for the note), then those of `x_sql` and `where`.
    """
    false = "false" if vendor == "postgresql" else "0"
    return f"""
        INSERT INTO reconciliation_reconciliationitem ({_ITEM_COLUMNS})
        SELECT %s, {KIND_SQL},
               COALESCE(x.provider_refund_id, x.r_provider_refund_id), x.r_id, COALESCE(x.r_public_id, ''),
               COALESCE(je.amount_minor, x.r_amount), COALESCE(je.currency, x.r_currency, ''),
               COALESCE(x.r_state, ''), je.created_at,
               x.amount_minor, COALESCE(x.currency, ''), COALESCE({PROVIDER_STATUS_SQL}, ''),
               {_unix_to_timestamp(vendor, "x.created_unix")},
               CASE WHEN f.provider_refund_id IS NOT NULL AND je.created_at < %s THEN '{LATE_FAILURE_NOTE}'
                    WHEN x.r_id IS NULL AND x.metadata_refund_id <> ''
                    THEN substr('provider metadata names refund ' || x.metadata_refund_id, 1, 200)
                    ELSE '' END,
               {false}, '', NULL, NULL
        FROM ({x_sql}) x
        LEFT JOIN {FAILED} f ON f.provider_refund_id = x.provider_refund_id
        LEFT JOIN ledger_journalentry je ON je.refund_id = x.r_id AND je.entry_type = 'REFUND_SETTLED'
        LEFT JOIN ledger_journalentry jr ON jr.refund_id = x.r_id AND jr.entry_type = 'REFUND_SETTLEMENT_REVERSED'
        WHERE {where}
    """  # noqa: S608


def items_insert_listed(
    cursor, *, run_id: int, window: DayWindow, start: Any, end: Any, vendor: str, with_meta: bool = True
) -> int:
    """Pass 1: every refund the provider created on the day, with our refund next to it.

    Matched to ours by provider id, or by the metadata `refund_id` (recon_meta).
    Left out: refunds our ledger settled on another day - that day's run has
    them - unless the report says on this day that the refund failed (a late
    failure: a state mismatch that no other day's run can see).
    Without metadata matches (the usual day) the statement leaves that branch
    out: an anti-join against an empty table still costs a pass per row.
    """
    in_day = "(s.created_unix IS NULL OR (s.created_unix >= %s AND s.created_unix < %s))"
    window_params = [window.start_unix, window.end_unix]
    x_sql = f"""
        SELECT {_X_COLUMNS}, 1 AS at_provider
        FROM {STAGE} s
        LEFT JOIN refunds_refund r ON r.provider_refund_id = s.provider_refund_id
        WHERE s.reversal = 0 AND {in_day}
    """  # noqa: S608
    params = [run_id, start, *window_params]
    if with_meta:
        x_sql += f"""
              AND NOT EXISTS (SELECT 1 FROM {META} m WHERE m.provider_refund_id = s.provider_refund_id)
            UNION ALL
            SELECT {_X_COLUMNS}, 1
            FROM {META} m
            JOIN {STAGE} s ON s.provider_refund_id = m.provider_refund_id AND s.reversal = 0
            JOIN refunds_refund r ON r.id = m.refund_id
            WHERE {in_day}
        """  # noqa: S608
        params += window_params
    cursor.execute(
        _insert(
            x_sql,
            "je.id IS NULL OR (je.created_at >= %s AND je.created_at < %s) OR f.provider_refund_id IS NOT NULL",
            vendor,
        ),
        [*params, start, end],
    )
    return cursor.rowcount


def items_insert_unlisted(cursor, *, run_id: int, start: Any, vendor: str) -> int:
    """Pass 2: our refunds of the day the provider's day did not list.

    With no provider row at all: missing at provider. With a provider row of
    another day (grace window or looked up by id): compared here only when our
    ledger settled the refund on this day; otherwise it belongs to the
    provider's day.
    """
    x_sql = f"""
        SELECT {_X_COLUMNS}, CASE WHEN s.provider_refund_id IS NULL THEN 0 ELSE 1 END AS at_provider, u.settled
        FROM {UNLISTED} u
        JOIN refunds_refund r ON r.id = u.refund_id
        LEFT JOIN {META} m ON m.refund_id = u.refund_id
        LEFT JOIN {STAGE} s
               ON s.reversal = 0 AND s.provider_refund_id = COALESCE(r.provider_refund_id, m.provider_refund_id)
    """  # noqa: S608
    cursor.execute(_insert(x_sql, "x.at_provider = 0 OR x.settled = 1", vendor), [run_id, start])
    return cursor.rowcount


# A late failure (see the module docstring): the provider gave the money back on this day for a
# refund whose settlement belongs to an earlier day's ledger total.
_LATE_FAILURE_SQL = "provider_status = 'failed' AND ledger_settled_at < %s"


def run_summary(cursor, *, run_id: int, start: Any, end: Any) -> dict[str, Any]:
    """Counts per kind and per-currency totals of a run, in one pass over its items.

    Ledger total: amounts of items whose REFUND_SETTLED entry was posted on
    the day (by our currency) - what the ledger says we refunded that day.
    Provider total: amounts the provider reports as succeeded (by its
    currency), minus late failures (money it gave back on this day for a
    refund settled earlier). Items known only from webhooks are counted, but
    not summed: they are not part of the provider's listing. An exception
    counts in each currency it involves, so a currency mismatch shows on the
    provider's currency row too.
    """
    cursor.execute(
        f"""
        SELECT kind, our_currency, provider_currency, COUNT(*),
               SUM(CASE WHEN ledger_settled_at >= %s AND ledger_settled_at < %s THEN our_amount_minor ELSE 0 END),
               SUM(CASE WHEN ledger_settled_at >= %s AND ledger_settled_at < %s THEN 1 ELSE 0 END),
               SUM(CASE WHEN provider_status = 'succeeded' THEN provider_amount_minor
                        WHEN {_LATE_FAILURE_SQL} THEN -provider_amount_minor ELSE 0 END),
               SUM(CASE WHEN provider_status = 'succeeded' OR ({_LATE_FAILURE_SQL}) THEN 1 ELSE 0 END)
        FROM reconciliation_reconciliationitem
        WHERE run_id = %s
        GROUP BY kind, our_currency, provider_currency
        """,  # noqa: S608 - a module constant; values are parameters
        [start, end, start, end, start, start, run_id],
    )
    counts: dict[str, int] = dict.fromkeys(ItemKind.values, 0)
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {"ledger_minor": 0, "ledger_count": 0, "provider_minor": 0, "provider_count": 0, "exceptions": 0}
    )
    for kind, our_currency, provider_currency, count, ledger, ledger_n, provider, provider_n in cursor.fetchall():
        counts[kind] += count
        if kind != K.MATCHED:
            for currency in {our_currency, provider_currency} - {"", None}:
                totals[currency]["exceptions"] += count
        if kind == K.UNKNOWN_REFUND_EVENT:
            continue
        if our_currency and ledger_n:
            totals[our_currency]["ledger_minor"] += int(ledger or 0)
            totals[our_currency]["ledger_count"] += int(ledger_n)
        if provider_currency and provider_n:
            totals[provider_currency]["provider_minor"] += int(provider or 0)
            totals[provider_currency]["provider_count"] += int(provider_n)
    for values in totals.values():
        values["difference_minor"] = values["provider_minor"] - values["ledger_minor"]
    item_count = sum(counts.values())
    exceptions = item_count - counts[K.MATCHED]
    rate = (Decimal(100 * exceptions) / item_count).quantize(Decimal("0.001")) if item_count else Decimal(0)
    return {
        "counts": counts,
        "totals": dict(sorted(totals.items())),
        "item_count": item_count,
        "matched_count": counts[K.MATCHED],
        "exception_count": exceptions,
        "mismatch_rate_pct": rate,
    }
