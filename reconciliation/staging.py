"""The run's working tables: the provider side staged with COPY, and our side of the day.

All are TEMP tables of the run's own database session, created and dropped
inside the run's transaction: nothing is WAL-logged, nothing is left behind
for another run to trip over, and two runs never see each other's rows. That
is also what lets runs go through PgBouncer in transaction pooling mode
(docs/operations.md): a temp table that outlived its transaction would stay
on a pooled server session, for whichever client is handed it next.

- `recon_stage` - the provider rows as read (COPY FROM STDIN). A row with
  `reversal = 1` is not a refund but the balance transaction that gave a
  failed refund's money back (Stripe's `refund_failure`, say): it only marks the
  refund it names as failed.
- `recon_failed` - the provider refund ids that have such a reversal row.
- `recon_meta` - provider refunds that name one of our refunds in their
  metadata while we never learned their provider id (a timed-out call).
- `recon_unlisted` - our side of the day (docs/reconciliation.md "Our side")
  that the provider's listing of the day did not contain (built after the
  first classification pass, from what it wrote).

PostgreSQL gets COPY and ANALYZE (temp tables are never auto-analyzed, and a
planner that guesses 1,000 rows for a million picks nested loops). SQLite, the
zero-set-up demo database, gets batched inserts of the same rows.

SQL text is built from module constants (table and column names) only; every
value is a query parameter - hence the `noqa: S608` markers.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from django.db import IntegrityError, transaction

from providers.base import ReportFormatError, ReportRow
from reconciliation.window import DayWindow

STAGE = "recon_stage"
FAILED = "recon_failed"
META = "recon_meta"
UNLISTED = "recon_unlisted"
STAGE_COLUMNS = (
    "provider_refund_id",
    "amount_minor",
    "currency",
    "status",
    "created_unix",
    "payment_id",
    "metadata_refund_id",
    "reversal",
)

STAGE_TYPES = ("text", "int8", "text", "text", "int8", "text", "text", "int4")

# States in which a refund has been handed to the provider (or paid by hand).
SUBMITTED_STATES = ("submitting", "provider_pending", "failed", "completed")


def drop_all(cursor) -> None:
    for table in (STAGE, FAILED, META, UNLISTED):
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


def stage_create(cursor) -> None:
    drop_all(cursor)
    cursor.execute(
        f"CREATE TEMP TABLE {STAGE} (provider_refund_id text NOT NULL, amount_minor bigint NOT NULL, "
        "currency text NOT NULL, status text NOT NULL, created_unix bigint, payment_id text NOT NULL, "
        "metadata_refund_id text NOT NULL, reversal integer NOT NULL)"
    )


def stage_load(cursor, rows: Iterable[ReportRow], *, vendor: str) -> int:
    """Stream the rows into the stage table; returns how many were written.

    PostgreSQL: one COPY … FROM STDIN, fed row by row from the generator, so
    memory stays flat whatever the size of the report.
    """
    count = 0
    if vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(STAGE_TYPES)
            write = copy.write_row
            for row in rows:
                write(row)
                count += 1
        return count
    placeholders = ", ".join(["%s"] * len(STAGE_COLUMNS))
    statement = f"INSERT INTO {STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
    iterator = iter(rows)
    while batch := list(islice(iterator, 5000)):
        cursor.executemany(statement, batch)
        count += len(batch)
    return count


def stage_add(cursor, row: ReportRow) -> None:
    """Add one provider refund fetched by id (the run's lookups of our unlisted refunds)."""
    placeholders = ", ".join(["%s"] * len(STAGE_COLUMNS))
    values = [*row[:-1], int(row.reversal)]  # the column is an integer (COPY's binary int4 takes a bool as is)
    cursor.execute(f"INSERT INTO {STAGE} ({', '.join(STAGE_COLUMNS)}) VALUES ({placeholders})", values)  # noqa: S608


def stage_prepare(cursor, *, vendor: str) -> None:
    """Check the staged rows and complete them, before anything is compared.

    Refuses values that do not fit our columns and refunds listed twice (a
    report concatenated with itself must not double a day). A failure row
    whose refund row is not in the report (the refund is older) stands for
    the refund itself, failed.
    """
    cursor.execute(
        f"SELECT provider_refund_id, currency FROM {STAGE} "  # noqa: S608
        "WHERE provider_refund_id = '' OR length(provider_refund_id) > 100 OR length(currency) <> 3 LIMIT 1"
    )
    bad = cursor.fetchone()
    if bad is not None:
        raise ReportFormatError(f"provider refund {bad[0]!r}: an id of 1-100 characters and a 3-letter currency needed")
    # The unique index both refuses a refund listed twice and serves the lookups of the second pass.
    try:
        with transaction.atomic():
            cursor.execute(f"CREATE UNIQUE INDEX {STAGE}_id ON {STAGE} (provider_refund_id) WHERE reversal = 0")
    except IntegrityError as error:
        raise ReportFormatError(f"a refund is listed more than once ({error})".replace("\n", " ")) from None
    analyze(cursor, vendor, STAGE)
    cursor.execute(
        f"""
        INSERT INTO {STAGE} ({", ".join(STAGE_COLUMNS)})
        SELECT f.provider_refund_id, MAX(f.amount_minor), MAX(f.currency), 'failed', MIN(f.created_unix),
               MAX(f.payment_id), MAX(f.metadata_refund_id), 0
        FROM {STAGE} f
        WHERE f.reversal = 1
          AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.reversal = 0 AND s.provider_refund_id = f.provider_refund_id)
        GROUP BY f.provider_refund_id
        """  # noqa: S608
    )
    cursor.execute(f"CREATE TEMP TABLE {FAILED} AS SELECT DISTINCT provider_refund_id FROM {STAGE} WHERE reversal = 1")  # noqa: S608
    analyze(cursor, vendor, FAILED)


def analyze(cursor, vendor: str, *tables: str) -> None:
    """Give the planner real row counts (PostgreSQL never auto-analyzes temp tables)."""
    if vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def meta_build(cursor, *, provider: str, vendor: str) -> int:
    """Provider refunds we know only by the `refund_id` we put in their metadata.

    A refund whose provider call timed out may exist at the provider while we
    never learned its id. Only when exactly one provider refund names it - two
    would be a double refund, and both must stay visible as exceptions - when
    its provider id is not one we already hold for another refund, and when
    the refund is of a payment this provider holds (a row naming another
    provider's refund is that money refunded twice, not the missing id).
    Pass 1's join by provider refund id needs no such filter: those ids are
    unique across all refunds, and each provider mints its own.
    """
    cursor.execute(
        f"""
        CREATE TEMP TABLE {META} AS
        SELECT MIN(s.provider_refund_id) AS provider_refund_id, r.id AS refund_id
        FROM {STAGE} s
        JOIN refunds_refund r ON r.public_id = s.metadata_refund_id AND r.provider_refund_id IS NULL
        WHERE s.reversal = 0 AND s.metadata_refund_id <> ''
          AND NOT EXISTS (SELECT 1 FROM refunds_refund k WHERE k.provider_refund_id = s.provider_refund_id)
          AND {_provider_filter("r.id")}
        GROUP BY r.id
        HAVING COUNT(*) = 1
        """,  # noqa: S608
        [provider],
    )
    analyze(cursor, vendor, META)
    cursor.execute(f"SELECT COUNT(*) FROM {META}")  # noqa: S608
    return cursor.fetchone()[0]


def _provider_filter(column: str) -> str:
    """Refund `column` is of a payment the run's provider holds (whose name is the filter's one parameter).

    Each payment names its provider, so a run of one provider never reports
    another provider's refunds (or those paid by hand) as missing at it.
    """
    return (
        "EXISTS (SELECT 1 FROM refunds_refund pr JOIN refunds_payment pp ON pp.id = pr.payment_id "  # noqa: S608
        f"WHERE pr.id = {column} AND pp.provider = %s)"
    )


def unlisted_build(cursor, window: DayWindow, *, run_id: int, provider: str, connection, vendor: str) -> int:
    """Our side of the day that the first pass (the provider's day) did not cover.

    Our side of the day: refunds our ledger settled on the day, and refunds
    submitted on the day that it has not settled. A refund that failed without
    a provider id never reached the provider (it was refused outright), so
    nobody has anything to compare for it. A void is no refund at the provider
    (an authorization released: no refund row, no REFUND_SETTLED), so it is
    never looked for there, nor is a refund paid as store credit (no provider
    ever heard of it). NOT IN over the run's items becomes
    one hashed subplan, whatever the planner believes about rows it has not
    analyzed yet.
    """
    start = connection.ops.adapt_datetimefield_value(window.start)
    end = connection.ops.adapt_datetimefield_value(window.end)
    states = ", ".join(f"'{state}'" for state in SUBMITTED_STATES)
    covered = (
        "SELECT i.refund_id FROM reconciliation_reconciliationitem i WHERE i.run_id = %s AND i.refund_id IS NOT NULL"
    )
    cursor.execute(
        f"""
        CREATE TEMP TABLE {UNLISTED} AS
        SELECT je.refund_id AS refund_id, 1 AS settled
        FROM ledger_journalentry je
        WHERE je.entry_type = 'REFUND_SETTLED' AND je.created_at >= %s AND je.created_at < %s
          AND {_provider_filter("je.refund_id")}
          AND je.refund_id NOT IN ({covered})
        UNION ALL
        SELECT r.id, 0
        FROM refunds_refund r
        WHERE r.state IN ({states}) AND r.submitted_at >= %s AND r.submitted_at < %s
          AND NOT (r.state = 'failed' AND r.provider_refund_id IS NULL)
          AND (r.instrument IS NULL OR r.instrument NOT IN ('void', 'store_credit'))
          AND NOT EXISTS (
              SELECT 1 FROM ledger_journalentry je WHERE je.refund_id = r.id AND je.entry_type = 'REFUND_SETTLED'
          )
          AND {_provider_filter("r.id")}
          AND r.id NOT IN ({covered})
        """,  # noqa: S608
        [start, end, provider, run_id, start, end, provider, run_id],
    )
    analyze(cursor, vendor, UNLISTED)
    cursor.execute(f"SELECT COUNT(*) FROM {UNLISTED}")  # noqa: S608
    return cursor.fetchone()[0]


def unlisted_without_provider_row(cursor, *, limit: int) -> list[str]:
    """Provider ids of unlisted refunds of which the stage holds nothing (to look up one by one)."""
    cursor.execute(
        f"""
        SELECT r.provider_refund_id
        FROM {UNLISTED} u JOIN refunds_refund r ON r.id = u.refund_id
        WHERE r.provider_refund_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.provider_refund_id = r.provider_refund_id)
        ORDER BY u.refund_id
        LIMIT %s
        """,  # noqa: S608
        [limit],
    )
    return [row[0] for row in cursor.fetchall()]
