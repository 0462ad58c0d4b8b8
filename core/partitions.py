"""Monthly range partitions of the tables that only grow (PostgreSQL; docs/operations.md "Partitions").

A partitioned table here is range-partitioned by one date or timestamp column,
one partition per calendar month (UTC for timestamps), plus:

- `<table>_before_<yyyy>_<mm>`: the table as it was when converted (its rows
  stay where they are: the old table is attached, not copied), holding every
  row before that month;
- `<table>_<yyyy>_<mm>`: one per month from then on, created ahead of time by
  `partitions_ensure` (beat, daily; `manage.py partitions`);
- `<table>_default`: the safety net. A row whose month has no partition lands
  there instead of failing its insert. It should stay empty: a month with rows
  in it can no longer get its own partition (`partitions_ensure` reports it,
  the gauge `db_partition_default_rows` shows it).

PostgreSQL requires every unique key of a partitioned table, its primary key
included, to contain the partition column, and a foreign key into one to name
a unique key of it. So `table_convert` makes the primary key (id, column),
extends each unique constraint with the column (keeping its name and its
index, but then it refuses only a repeat at the same instant), and drops the
foreign keys pointing into the table — each migration names them and says
why that is safe. A key that must stay unique across the whole table needs
another way (the provider inbox's `refunds.WebhookEventKey`), or its table
stays unpartitioned (the API's idempotency records). Django still sees `id`
as the primary key; ids keep coming from one sequence, so they stay unique
across partitions.

Nothing here drops or detaches a partition: the tables partitioned so far are
kept for ever (audit, ledger, events, the provider inbox). Only the SQLite
demo is left alone: every function here returns without doing anything there.
"""

# SQL here is built from identifiers (our migrations' tables and columns, the catalog's names), quoted
# by _q, and month bounds we format from dates; values from outside are always bound parameters.
# ruff: noqa: S608

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db import connection as default_connection
from django.db import transaction
from django.db.utils import OperationalError

logger = logging.getLogger("core.partitions")

# How long partition maintenance waits for a lock before giving up until its next run: attaching a
# partition waits for readers of the default partition, and writers would queue behind that wait.
MAINTENANCE_LOCK_TIMEOUT = "2s"
# `_months_ahead` stops counting here (a partition up to MAXVALUE would cover every month).
MONTHS_COUNTED = 120
# Rows of a default partition are counted up to this many (it should hold none).
DEFAULT_ROWS_COUNTED = 10_000


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def before_name(table: str, month: date) -> str:
    return f"{table}_before_{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def _q(identifier: str) -> str:
    """A quoted identifier (table, index, constraint and column names come from our own migrations)."""
    return '"' + identifier.replace('"', '""') + '"'


def _bound(month: date, key_type: str) -> str:
    """A month's first instant as a partition bound literal: a date, or midnight UTC for a timestamp."""
    if key_type == "date":
        return f"'{month.isoformat()}'"
    return f"'{month.isoformat()} 00:00:00+00'"


def _today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class ForeignKeyIn:
    """A foreign key of another table into the one being partitioned: dropped by `table_convert`.

    `table_unconvert` puts it back (DEFERRABLE INITIALLY DEFERRED, as Django makes them).
    """

    table: str
    column: str


@dataclass(frozen=True)
class PartitionSpec:
    """What one migration partitions: `table` by month of `column`; `referenced_by` lists every foreign
    key into it (the conversion refuses to drop one it was not told about)."""

    table: str
    column: str
    referenced_by: tuple[ForeignKeyIn, ...] = ()
    months_ahead: int = 3


def _fetch(cursor, sql: str, params: list | None = None) -> list[tuple]:
    cursor.execute(sql, params or [])
    return list(cursor.fetchall())


def _is_postgresql(cursor) -> bool:
    return cursor.db.vendor == "postgresql"


def is_partitioned(cursor, table: str) -> bool:
    rows = _fetch(cursor, "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    return bool(rows) and rows[0][0] == "p"


def _key_type(cursor, table: str, column: str) -> str:
    rows = _fetch(
        cursor,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
        [table, column],
    )
    if not rows:
        raise ValueError(f"{table} has no column {column}")
    key_type = rows[0][0]
    if key_type not in {"date", "timestamp with time zone"}:
        raise ValueError(f"{table}.{column} is {key_type}: only date and timestamptz columns are partitioned by month")
    return key_type


def table_convert(cursor, spec: PartitionSpec, *, today: date | None = None) -> None:
    """Turn `spec.table` into a table partitioned by month of `spec.column`, in place (PostgreSQL only).

    Run inside the migration's transaction, which holds the table's ACCESS
    EXCLUSIVE lock to the end: writers wait for the few statements below plus
    one scan of the existing rows (attaching checks they all fall before the
    first monthly partition) and the build of the new primary key's index.
    Side effects, in order: the foreign keys into the table dropped (only
    those `spec.referenced_by` names); its triggers, primary key and unique
    constraints dropped, its other indexes renamed, its identity replaced by
    a sequence carrying on from the same value; the table renamed
    `<table>_before_<month>`; a partitioned table created under the old
    name with the same columns, defaults, checks, foreign keys and index
    names, the primary key (id, column) and each unique constraint extended
    with `column`; the old table attached as the partition of every row
    before `<month>` (the month after its newest row, or the current month);
    monthly partitions from there to `spec.months_ahead` months ahead and the
    default partition; the triggers re-created on the partitioned table,
    which applies them to every partition, present and future. Does nothing
    if the table is partitioned already.
    """
    if not _is_postgresql(cursor) or is_partitioned(cursor, spec.table):
        return
    table, column = spec.table, spec.column
    today = today or _today()
    cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    key_type = _key_type(cursor, table, column)
    oid = f"'{table}'::regclass"

    # What the table is made of, read before anything changes.
    triggers = _fetch(
        cursor, f"SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = {oid} AND NOT tgisinternal"
    )
    constraints = _fetch(
        cursor,
        f"""SELECT c.conname, c.contype,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_constraint c WHERE c.conrelid = {oid} AND c.contype IN ('p', 'u') ORDER BY c.conname""",
    )
    foreign_keys = _fetch(
        cursor,
        f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = {oid} AND contype = 'f'",
    )
    indexes = _fetch(
        cursor,
        f"""SELECT i.relname, pg_get_indexdef(i.oid), x.indisunique
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = {oid}
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = {oid})
            ORDER BY i.relname""",
    )
    incoming = _fetch(
        cursor,
        f"""SELECT c.conrelid::regclass::text, a.attname, c.conname
            FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.confrelid = {oid} AND c.contype = 'f'""",
    )
    named = {(fk.table, fk.column) for fk in spec.referenced_by}
    unexpected = sorted(f"{source}.{col}" for source, col, _ in incoming if (source, col) not in named)
    if unexpected:
        raise ValueError(f"foreign keys into {table} that its migration does not account for: {unexpected}")
    if any(unique for _, _, unique in indexes):
        raise ValueError(f"{table} has a unique index that is not a constraint: extend it with {column} by hand")
    primary = [(name, cols) for name, kind, cols in constraints if kind == "p"]
    if primary != [(f"{table}_pkey", ["id"])]:
        raise ValueError(f"{table}: expected the primary key {table}_pkey (id), found {primary}")
    uniques = [(name, list(cols)) for name, kind, cols in constraints if kind == "u"]
    if any(column in cols for _, cols in uniques):
        raise ValueError(f"{table}: a unique constraint already holds {column}; convert it by hand")
    sequence = _fetch(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [table])[0][0]
    last_value, is_called = _fetch(cursor, f"SELECT last_value, is_called FROM {sequence}")[0]
    newest = _fetch(cursor, f"SELECT max({_q(column)}) FROM {_q(table)}")[0][0]
    first_month = month_start(today)
    if newest is not None:
        newest_day = newest if key_type == "date" else newest.astimezone(UTC).date()
        first_month = max(first_month, add_months(month_start(newest_day), 1))
    before = before_name(table, first_month)

    for source, _, name in incoming:
        cursor.execute(f"ALTER TABLE {source} DROP CONSTRAINT {_q(name)}")
    for name, _ in triggers:
        cursor.execute(f"DROP TRIGGER {_q(name)} ON {_q(table)}")
    for name, _kind, _ in constraints:
        cursor.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
    # Index names are schema-wide: the partitioned table takes the old names, the old table's copies are
    # renamed (and adopted at ATTACH as its partitions of those indexes, with no rebuild).
    for number, (name, _, _) in enumerate(indexes):
        cursor.execute(f"ALTER INDEX {_q(name)} RENAME TO {_q(f'{before}_i{number}')}")
    cursor.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN id DROP IDENTITY")
    cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(before)}")

    cursor.execute(
        f"CREATE TABLE {_q(table)} (LIKE {_q(before)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({_q(column)})"
    )
    # A partitioned table cannot have an identity column before PostgreSQL 17: a sequence it owns.
    cursor.execute(f"CREATE SEQUENCE {_q(f'{table}_id_seq')} AS bigint OWNED BY {_q(table)}.id")
    cursor.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq'::regclass)")
    cursor.execute("SELECT setval(%s, %s, %s)", [f"{table}_id_seq", last_value, is_called])
    cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(f'{table}_pkey')} PRIMARY KEY (id, {_q(column)})")
    for name, cols in uniques:
        columns = ", ".join(_q(col) for col in [*cols, column])
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} UNIQUE ({columns})")
    for _, definition, _ in indexes:
        cursor.execute(definition)  # "CREATE INDEX <old name> ON public.<table> …": now the partitioned table
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    cursor.execute(
        f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(before)} "
        f"FOR VALUES FROM (MINVALUE) TO ({_bound(first_month, key_type)})"
    )
    month = first_month
    while month <= add_months(month_start(today), spec.months_ahead):
        cursor.execute(
            f"CREATE TABLE {_q(partition_name(table, month))} PARTITION OF {_q(table)} "
            f"FOR VALUES FROM ({_bound(month, key_type)}) TO ({_bound(add_months(month, 1), key_type)})"
        )
        month = add_months(month, 1)
    cursor.execute(f"CREATE TABLE {_q(default_name(table))} PARTITION OF {_q(table)} DEFAULT")
    for _, definition in triggers:
        cursor.execute(definition)  # "CREATE TRIGGER … ON public.<table> …": every partition gets it
    cursor.execute(f"ANALYZE {_q(table)}")


def table_unconvert(cursor, spec: PartitionSpec) -> None:
    """Undo `table_convert`: one plain table again, every row copied into it (PostgreSQL only; slow on a big table).

    The primary key is `id` again, each unique constraint loses the
    partition column, the id sequence becomes an identity carrying on from
    the same value, and the foreign keys `spec.referenced_by` are restored.
    """
    if not _is_postgresql(cursor) or not is_partitioned(cursor, spec.table):
        return
    table, column = spec.table, spec.column
    cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    oid = f"'{table}'::regclass"
    triggers = _fetch(
        cursor,
        f"SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = {oid} AND NOT tgisinternal AND tgparentid = 0",
    )
    uniques = _fetch(
        cursor,
        f"""SELECT c.conname,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n)
            FROM pg_constraint c WHERE c.conrelid = {oid} AND c.contype = 'u' ORDER BY c.conname""",
    )
    foreign_keys = _fetch(
        cursor,
        f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = {oid} AND contype = 'f'",
    )
    indexes = _fetch(
        cursor,
        f"""SELECT i.relname, pg_get_indexdef(i.oid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = {oid}
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = {oid})
            ORDER BY i.relname""",
    )
    last_value, is_called = _fetch(cursor, f"SELECT last_value, is_called FROM {_q(f'{table}_id_seq')}")[0]
    staging = f"{table}_unpartitioned"
    cursor.execute(
        f"CREATE TABLE {_q(staging)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS)"
    )
    # The id's default names the partitioned table's sequence, which goes with it: an identity replaces it.
    cursor.execute(f"ALTER TABLE {_q(staging)} ALTER COLUMN id DROP DEFAULT")
    cursor.execute(f"INSERT INTO {_q(staging)} SELECT * FROM {_q(table)} ORDER BY id")
    cursor.execute(f"DROP TABLE {_q(table)} CASCADE")  # its partitions, its sequence, its indexes and triggers
    cursor.execute(f"ALTER TABLE {_q(staging)} RENAME TO {_q(table)}")
    cursor.execute(
        f"ALTER TABLE {_q(table)} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {int(last_value)})"
    )
    if is_called:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, true)", [table, last_value])
    cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(f'{table}_pkey')} PRIMARY KEY (id)")
    for name, cols in uniques:
        kept = [col for col in cols if col != column]
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} UNIQUE ({', '.join(map(_q, kept))})")
    for _, definition in indexes:
        cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    for (definition,) in triggers:
        cursor.execute(definition)
    for fk in spec.referenced_by:
        cursor.execute(
            f"ALTER TABLE {_q(fk.table)} ADD CONSTRAINT {_q(f'{fk.table}_{fk.column}_fk_{table}_id'[:63])} "
            f"FOREIGN KEY ({_q(fk.column)}) REFERENCES {_q(table)} (id) DEFERRABLE INITIALLY DEFERRED"
        )


# --- maintenance ---------------------------------------------------------------------------------------


@dataclass
class TableReport:
    """What `partitions_ensure` found and did for one partitioned table."""

    table: str
    column: str
    created: list[str] = field(default_factory=list)
    # Months that could not get their partition: rows of theirs sit in the default partition.
    blocked: list[str] = field(default_factory=list)
    # Months skipped because a lock was not granted in time: tried again at the next run.
    deferred: list[str] = field(default_factory=list)
    default_rows: int = 0
    months_ahead: int = 0


def partitioned_tables(connection=None) -> list[tuple[str, str, str]]:
    """(table, column, column type) of every table partitioned by month here: read from the catalog."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        return _fetch(
            cursor,
            """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
               FROM pg_partitioned_table p
               JOIN pg_class c ON c.oid = p.partrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
               JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
               WHERE p.partstrat = 'r' AND p.partnatts = 1 AND NOT c.relispartition
               ORDER BY c.relname""",
        )


def partitions_of(cursor, table: str) -> dict[str, str]:
    """name → bound expression ("FOR VALUES FROM (…) TO (…)" or "DEFAULT") of each partition of `table`."""
    return dict(
        _fetch(
            cursor,
            """SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY c.relname""",
            [table],
        )
    )


def partitions_ensure(*, months_ahead: int = 3, today: date | None = None, connection=None) -> list[TableReport]:
    """Create the monthly partitions of every partitioned table up to `months_ahead` months ahead, and its default.

    Each missing month is created as a plain table, then attached: ATTACH
    takes only a SHARE UPDATE EXCLUSIVE lock on the partitioned table (CREATE
    TABLE … PARTITION OF would take ACCESS EXCLUSIVE), so inserts and reads
    carry on; it holds ACCESS EXCLUSIVE on the (normally empty) default
    partition for a moment, to check no row of that month sits there. Every
    lock is waited for at most MAINTENANCE_LOCK_TIMEOUT: a month that did not
    get its lock is reported as deferred and tried again at the next run,
    harmless while it is still ahead. A month with rows in the default
    partition is reported as blocked and left alone (docs/operations.md
    "Partitions"). Idempotent; creates nothing on SQLite.
    """
    connection = connection or default_connection
    today = today or _today()
    reports = []
    for table, column, key_type in partitioned_tables(connection):
        report = TableReport(table=table, column=column)
        with connection.cursor() as cursor:
            bounds = partitions_of(cursor, table)
        if "DEFAULT" not in bounds.values():
            _with_lock_timeout(
                connection,
                report,
                default_name(table),
                f"CREATE TABLE {_q(default_name(table))} (LIKE {_q(table)} "
                f"INCLUDING DEFAULTS INCLUDING CONSTRAINTS); ALTER TABLE {_q(table)} ATTACH PARTITION "
                f"{_q(default_name(table))} DEFAULT",
            )
        ranges = [_parse_bound(bound, key_type) for bound in bounds.values() if bound != "DEFAULT"]
        for offset in range(months_ahead + 1):
            month = add_months(month_start(today), offset)
            name = partition_name(table, month)
            if _overlaps(ranges, month, key_type):
                continue  # its own partition, or the before_ partition of a table converted that month
            if _default_has_rows(connection, table, column, month, key_type):
                report.blocked.append(name)
                continue
            lower, upper = _bound(month, key_type), _bound(add_months(month, 1), key_type)
            _with_lock_timeout(
                connection,
                report,
                name,
                f"CREATE TABLE {_q(name)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS); "
                f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(name)} FOR VALUES FROM ({lower}) TO ({upper})",
            )
        with connection.cursor() as cursor:
            report.default_rows = _default_rows(cursor, table)
            report.months_ahead = _months_ahead(cursor, table, key_type, today)
        reports.append(report)
        for name in report.blocked:
            logger.error(
                "partition blocked by rows in the default partition",
                extra={"message_id": "MSG.db.partition_blocked", "table": table, "partition": name},
            )
    return reports


def _with_lock_timeout(connection, report: TableReport, name: str, sql: str) -> None:
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT}'")
            cursor.execute(sql)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        report.deferred.append(name)
        logger.warning(
            "partition maintenance waited too long for a lock",
            extra={"message_id": "MSG.db.partition_deferred", "table": report.table, "partition": name},
        )
        return
    report.created.append(name)
    logger.info(
        "partition created", extra={"message_id": "MSG.db.partition_created", "table": report.table, "partition": name}
    )


def _instant(month: date, key_type: str) -> date | datetime:
    return month if key_type == "date" else datetime(month.year, month.month, 1, tzinfo=UTC)


def _overlaps(ranges: list[tuple], month: date, key_type: str) -> bool:
    """Whether a partition other than the default already takes some of `month`'s rows."""
    first, end = _instant(month, key_type), _instant(add_months(month, 1), key_type)
    return any((lower is None or lower < end) and (upper is None or upper > first) for lower, upper in ranges)


def _parse_bound(bound: str, key_type: str) -> tuple:
    """(lower, upper) of "FOR VALUES FROM (x) TO (y)"; None for MINVALUE and MAXVALUE."""
    inner = bound.removeprefix("FOR VALUES FROM (").removesuffix(")")
    lower_text, upper_text = inner.split(") TO (")
    return _parse_value(lower_text, key_type), _parse_value(upper_text, key_type)


def _parse_value(text: str, key_type: str) -> date | datetime | None:
    if text in {"MINVALUE", "MAXVALUE"}:
        return None
    value = text.strip("'")
    if key_type == "date":
        return date.fromisoformat(value)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _default_has_rows(connection, table: str, column: str, month: date, key_type: str) -> bool:
    with connection.cursor() as cursor:
        default = next((name for name, bound in partitions_of(cursor, table).items() if bound == "DEFAULT"), None)
        if default is None:
            return False
        rows = _fetch(
            cursor,
            f"SELECT 1 FROM {_q(default)} WHERE {_q(column)} >= {_bound(month, key_type)} "
            f"AND {_q(column)} < {_bound(add_months(month, 1), key_type)} LIMIT 1",
        )
    return bool(rows)


def _default_rows(cursor, table: str) -> int:
    """Rows in the default partition, counted up to DEFAULT_ROWS_COUNTED (a scrape must stay cheap)."""
    for name, bound in partitions_of(cursor, table).items():
        if bound == "DEFAULT":
            sql = f"SELECT count(*) FROM (SELECT 1 FROM {_q(name)} LIMIT {DEFAULT_ROWS_COUNTED}) AS counted"
            return int(_fetch(cursor, sql)[0][0])
    return 0


@dataclass(frozen=True)
class TableStatus:
    table: str
    column: str
    months_ahead: int
    default_rows: int


def partitions_status(*, today: date | None = None, connection=None) -> list[TableStatus]:
    """For each partitioned table: how many months ahead have their partition, and rows in its default partition.

    Read-only and cheap (the catalog, and at most DEFAULT_ROWS_COUNTED rows): the metrics scrape calls it.
    """
    connection = connection or default_connection
    today = today or _today()
    statuses = []
    with connection.cursor() as cursor:
        for table, column, key_type in partitioned_tables(connection):
            statuses.append(
                TableStatus(
                    table=table,
                    column=column,
                    months_ahead=_months_ahead(cursor, table, key_type, today),
                    default_rows=_default_rows(cursor, table),
                )
            )
    return statuses


def _months_ahead(cursor, table: str, key_type: str, today: date) -> int:
    """How many months after the current one have a partition of their own, counted without a gap."""
    ranges = [_parse_bound(bound, key_type) for bound in partitions_of(cursor, table).values() if bound != "DEFAULT"]
    month, ahead = month_start(today), 0
    while ahead < MONTHS_COUNTED:
        month = add_months(month, 1)
        start = _instant(month, key_type)
        if not any((lo is None or lo <= start) and (hi is None or hi > start) for lo, hi in ranges):
            break
        ahead += 1
    return ahead
