"""CSV exports for finance, streamed with constant memory (docs/reconciliation.md "Exports").

On PostgreSQL the database writes the CSV itself: `COPY (SELECT …) TO
STDOUT WITH (FORMAT csv)` streams rows that are gathered into ~64 KB blocks
and handed to the response - a million rows never exist as Python objects.
Elsewhere (the SQLite demo) rows come from a server-side cursor in chunks and
Python's csv writer formats them. Both paths produce the same bytes (tested);
either way an export holds one block in memory, never the file.

Every text cell that a spreadsheet could read as a formula (starting with
= + - @ tab or carriage return) is prefixed with a single quote. Numeric
columns are produced by us from integers and are never prefixed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from core.money import CURRENCY_EXPONENTS
from reconciliation.enums import ItemKind
from reconciliation.models import ReconciliationRun
from reconciliation.window import day_window

CHUNK_ROWS = 5000
_FORMULA_START = frozenset("=+-@\t\r")

ITEM_COLUMNS = [
    "run_id",
    "day",
    "provider",
    "kind",
    "provider_refund_id",
    "refund_id",
    "our_amount_minor",
    "our_amount",
    "our_currency",
    "our_state",
    "ledger_settled_at",
    "provider_amount_minor",
    "provider_amount",
    "provider_currency",
    "provider_status",
    "provider_created_at",
    "difference_minor",
    "resolved",
    "resolution_note",
    "resolved_by",
    "resolved_at",
    "note",
]

LEDGER_COLUMNS = [
    "entry_id",
    "posted_at",
    "entry_type",
    "refund_id",
    "memo",
    "posting_id",
    "account",
    "side",
    "currency",
    "amount_minor",
    "amount",
    "event_on",
    "booked_on",
]


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formula injection (OWASP "CSV injection")."""
    if value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def format_minor(amount_minor: int | None, currency: str) -> str:
    """12345 USD -> '123.45' (ISO 4217 exponent; 2 for a currency we do not know)."""
    if amount_minor is None:
        return ""
    exp = CURRENCY_EXPONENTS.get(currency, 2)
    if exp == 0:
        return str(amount_minor)
    whole, fraction = divmod(abs(amount_minor), 10**exp)
    return f"{'-' if amount_minor < 0 else ''}{whole}.{fraction:0{exp}d}"


def _iso(moment: datetime | str | None) -> str:
    """UTC, to the second, 'YYYY-MM-DD HH:MM:SS' (what spreadsheets read as a date and time)."""
    if moment is None:
        return ""
    if isinstance(moment, str):  # SQLite hands raw cursors its stored text
        return moment[:19].replace("T", " ")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def stream_query(
    sql: str, params: Sequence[Any], *, chunk_rows: int = CHUNK_ROWS, using: str = DEFAULT_DB_ALIAS
) -> Iterator[tuple]:
    """Yield the rows of `sql` a chunk at a time from a server-side cursor, on the `using` database.

    The transaction is what makes PostgreSQL stream: outside one, Django's
    named cursor is WITH HOLD and the whole result is materialised first.
    """
    with transaction.atomic(using=using), connections[using].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_rows):
            yield from rows


def _use_copy(use_copy: bool | None) -> bool:
    # One vendor whatever the alias: a replica or a direct line is only ever configured on PostgreSQL.
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql" if use_copy is None else use_copy


def _header(columns: list[str]) -> bytes:
    return (",".join(columns) + "\n").encode()


def _encode_rows(rows: Iterable[Sequence[Any]], *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The portable path: Python's csv writer, a chunk of rows per yielded block."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate(0)
            pending = 0
    if pending:
        yield buffer.getvalue().encode()


def _copy_chunks(
    sql: str, params: Sequence[Any], *, block_bytes: int = 1 << 16, using: str = DEFAULT_DB_ALIAS
) -> Iterator[bytes]:
    """PostgreSQL writes the CSV itself (COPY … TO STDOUT): rows never become Python objects.

    COPY hands over one row per message; they are gathered into blocks of
    ~64 KB so the response is not a million tiny writes.
    """
    buffer = bytearray()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")  # compiling costs more than it saves here
        with cursor.cursor.copy(sql, params) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= block_bytes:
                    yield bytes(buffer)
                    buffer.clear()
    if buffer:
        yield bytes(buffer)


# --- SQL twins of csv_safe / format_minor / _iso for the COPY path (a test checks both paths give the same bytes)


def _safe_sql(column: str) -> str:
    return (
        f"NULLIF(CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {column} ELSE {column} END, '')"
    )


def _amount_sql(amount: str, currency: str) -> str:
    by_exponent: dict[int, list[str]] = {}
    for code, exponent in sorted(CURRENCY_EXPONENTS.items()):
        by_exponent.setdefault(exponent, []).append(f"'{code}'")
    branches = [
        f"WHEN {currency} IN ({', '.join(codes)}) THEN {_amount_with(amount, exponent)}"
        for exponent, codes in sorted(by_exponent.items())
        if exponent != 2  # 2 is the default branch, as in format_minor
    ]
    return f"CASE WHEN {amount} IS NULL THEN NULL {' '.join(branches)} ELSE {_amount_with(amount, 2)} END"


def _amount_with(amount: str, exponent: int) -> str:
    if exponent == 0:
        return f"{amount}::text"
    scale = 10**exponent
    return (
        f"(CASE WHEN {amount} < 0 THEN '-' ELSE '' END) || (abs({amount}) / {scale})::text || '.' "
        f"|| lpad(mod(abs({amount}), {scale})::text, {exponent}, '0')"
    )


def _iso_sql(column: str) -> str:
    return f"(date_trunc('second', {column} AT TIME ZONE 'UTC'))::text"


def _user_columns() -> tuple[str, str, str]:
    user = get_user_model()
    return user._meta.db_table, user._meta.pk.column, user._meta.get_field(user.USERNAME_FIELD).column


def _item_copy_sql(exceptions_only: bool) -> str:
    table, pk, username = _user_columns()
    only = f" AND i.kind <> '{ItemKind.MATCHED}'" if exceptions_only else ""
    return f"""
        COPY (
            SELECT i.run_id, %s::text, %s::text, i.kind,
                   {_safe_sql("i.provider_refund_id")}, {_safe_sql("i.refund_public_id")},
                   i.our_amount_minor, {_amount_sql("i.our_amount_minor", "i.our_currency")},
                   {_safe_sql("i.our_currency")}, {_safe_sql("i.our_state")}, {_iso_sql("i.ledger_settled_at")},
                   i.provider_amount_minor, {_amount_sql("i.provider_amount_minor", "i.provider_currency")},
                   {_safe_sql("i.provider_currency")}, {_safe_sql("i.provider_status")},
                   {_iso_sql("i.provider_created_at")},
                   CASE WHEN i.our_currency = i.provider_currency
                        THEN i.provider_amount_minor - i.our_amount_minor END,
                   CASE WHEN i.resolved THEN 'yes' ELSE 'no' END,
                   {_safe_sql("i.resolution_note")},
                   CASE WHEN i.resolved_by_id IS NOT NULL
                        THEN (SELECT {_safe_sql(f"u.{username}")} FROM {table} u WHERE u.{pk} = i.resolved_by_id) END,
                   {_iso_sql("i.resolved_at")}, {_safe_sql("i.note")}
            FROM reconciliation_reconciliationitem i
            WHERE i.run_id = %s{only}
            ORDER BY i.id
        ) TO STDOUT WITH (FORMAT csv)
    """  # noqa: S608 - names come from model metadata and constants, values are parameters


def _item_sql(where: str) -> str:
    table, pk, username = _user_columns()
    return f"""
        SELECT i.run_id, i.kind, i.provider_refund_id, i.refund_public_id,
               i.our_amount_minor, i.our_currency, i.our_state, i.ledger_settled_at,
               i.provider_amount_minor, i.provider_currency, i.provider_status, i.provider_created_at,
               i.resolved, i.resolution_note, u.{username}, i.resolved_at, i.note
        FROM reconciliation_reconciliationitem i
        LEFT JOIN {table} u ON u.{pk} = i.resolved_by_id
        WHERE {where}
        ORDER BY i.run_id, i.id
    """  # noqa: S608 - names come from model metadata, values are parameters


def _item_rows(run: ReconciliationRun, *, exceptions_only: bool, using: str) -> Iterator[list[Any]]:
    day = run.day.isoformat()
    where = "i.run_id = %s" + (f" AND i.kind <> '{ItemKind.MATCHED}'" if exceptions_only else "")
    safe = csv_safe
    for (
        run_id,
        kind,
        provider_refund_id,
        refund_public_id,
        our_amount,
        our_currency,
        our_state,
        settled_at,
        provider_amount,
        provider_currency,
        provider_status,
        provider_created_at,
        resolved,
        resolution_note,
        resolved_by,
        resolved_at,
        note,
    ) in stream_query(_item_sql(where), [run.pk], using=using):
        difference = (
            provider_amount - our_amount
            if our_amount is not None and provider_amount is not None and our_currency == provider_currency
            else None
        )
        yield [
            run_id,
            day,
            run.provider,
            kind,
            safe(provider_refund_id or ""),
            safe(refund_public_id),
            "" if our_amount is None else our_amount,
            format_minor(our_amount, our_currency),
            safe(our_currency),
            safe(our_state),
            _iso(settled_at),
            "" if provider_amount is None else provider_amount,
            format_minor(provider_amount, provider_currency),
            safe(provider_currency),
            safe(provider_status),
            _iso(provider_created_at),
            "" if difference is None else difference,
            "yes" if resolved else "no",
            safe(resolution_note),
            safe(resolved_by or ""),
            _iso(resolved_at),
            safe(note),
        ]


def _run_chunks(run: ReconciliationRun, *, exceptions_only: bool, use_copy: bool | None, using: str) -> Iterator[bytes]:
    if _use_copy(use_copy):
        params = [run.day.isoformat(), run.provider, run.pk]
        yield from _copy_chunks(_item_copy_sql(exceptions_only), params, using=using)
    else:
        yield from _encode_rows(_item_rows(run, exceptions_only=exceptions_only, using=using))


def run_csv(
    run: ReconciliationRun,
    *,
    exceptions_only: bool = False,
    use_copy: bool | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[bytes]:
    """The items of one run (all of them, or only the exceptions), in item order, read on `using`.

    `using` is decided by the caller before the response streams (the finance views: the replica,
    core.databases.read_alias): this generator runs after the view has returned.
    """
    yield _header(ITEM_COLUMNS)
    yield from _run_chunks(run, exceptions_only=exceptions_only, use_copy=use_copy, using=using)


def range_csv(
    *,
    day_from: date,
    day_to: date,
    provider: str = "",
    exceptions_only: bool = False,
    use_copy: bool | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[bytes]:
    """The items of the current run of every day in [day_from, day_to], day by day, read on `using`."""
    runs = ReconciliationRun.objects.using(using).filter(is_current=True, day__gte=day_from, day__lte=day_to)
    if provider:
        runs = runs.filter(provider=provider)
    yield _header(ITEM_COLUMNS)
    for run in list(runs.order_by("day", "provider")):
        yield from _run_chunks(run, exceptions_only=exceptions_only, use_copy=use_copy, using=using)


_LEDGER_FROM = """
    FROM ledger_journalentry je
    -- booked_on is the same on both sides; naming it lets PostgreSQL read one monthly partition per entry.
    JOIN ledger_posting p ON p.entry_id = je.id AND p.booked_on = je.booked_on
    LEFT JOIN refunds_refund r ON r.id = je.refund_id  -- a correcting entry has no refund
    WHERE je.created_at >= %s AND je.created_at < %s
    ORDER BY je.id, p.id
"""


def ledger_csv(
    *, day_from: date, day_to: date, use_copy: bool | None = None, using: str = DEFAULT_DB_ALIAS
) -> Iterator[bytes]:
    """Journal entries with their postings, one row per posting, posted in [day_from, day_to], read on `using`."""
    ops = connections[using].ops
    start = ops.adapt_datetimefield_value(day_window(day_from).start)
    end = ops.adapt_datetimefield_value(day_window(day_to).end)
    yield _header(LEDGER_COLUMNS)
    if _use_copy(use_copy):
        sql = f"""
            COPY (
                SELECT je.id, {_iso_sql("je.created_at")}, je.entry_type, {_safe_sql("r.public_id")},
                       {_safe_sql("je.memo")}, p.id, {_safe_sql("p.account_id")},
                       CASE WHEN p.amount_minor > 0 THEN 'debit' ELSE 'credit' END,
                       {_safe_sql("p.currency")}, p.amount_minor, {_amount_sql("p.amount_minor", "p.currency")},
                       je.event_on, je.booked_on
                {_LEDGER_FROM}
            ) TO STDOUT WITH (FORMAT csv)
        """
        yield from _copy_chunks(sql, [start, end], using=using)
        return
    sql = f"""
        SELECT je.id, je.created_at, je.entry_type, r.public_id, je.memo, p.id, p.account_id, p.currency,
               p.amount_minor, je.event_on, je.booked_on
        {_LEDGER_FROM}
    """
    yield from _encode_rows(_ledger_rows(sql, [start, end], using=using))


def _ledger_rows(sql: str, params: list[Any], *, using: str) -> Iterator[list[Any]]:
    safe = csv_safe
    for row in stream_query(sql, params, using=using):
        entry_id, posted_at, entry_type, public_id, memo, posting_id, account, currency, amount, event_on, booked_on = (
            row
        )
        yield [
            entry_id,
            _iso(posted_at),
            entry_type,
            safe(public_id),
            safe(memo),
            posting_id,
            safe(account),
            "debit" if amount > 0 else "credit",
            safe(currency),
            amount,
            format_minor(amount, currency),
            str(event_on),
            str(booked_on),
        ]
