"""Several writes of one transaction sent as one statement (issue 17): a write batch (PostgreSQL).

A refund create writes a dozen rows in a dozen tables (the refund and its
history, the payment's reservation, the ledger entry and its postings, the
audit events, the merchant's events, the customer's email, the policy's
decision). Each is an INSERT of values already known, so they need not be a
round trip each: inside `writes_together()`, a write made with `write`
(or `insert_rows`, `update_row`) waits, and the waiting ones reach the
database together, as the data-modifying statements of one WITH.

When they are sent, and why that keeps every guarantee of writing them one
by one:
* before ANY other statement on the connection (an execute wrapper): a read
  sees every write made before it, a write that is not batched comes after
  the batched ones, as it would have, and a foreign key, unique key, CHECK
  or trigger refuses exactly what it refused before — in that statement,
  which raises from the call that ran it, still inside the transaction;
* before SAVEPOINT and RELEASE SAVEPOINT (they are statements too): a batch
  never spans a savepoint, so ROLLBACK TO SAVEPOINT drops the waiting writes
  (all made since the last savepoint boundary) instead of sending them — as
  the rollback would have undone them. A block opened with
  `through_release=True` sends nothing at RELEASE: the released savepoint's
  writes become its parent's and wait on (every waiting write was still made
  after the newest open savepoint began, as ROLLBACK TO needs). Only for code
  that uses no row of the batch after the release but through the writes'
  `done` (an unsaved primary key would stop Django's `save()` of a row
  pointing at it): the refund create, whose answer is rendered while its
  writes wait (`api.idempotency`), so the rows they lock are held from that
  statement to COMMIT only;
* when the block ends (the block must sit inside a transaction, so COMMIT
  never comes first). Leaving it by an exception sends them too (a caller
  may catch it and commit), unless that exception is a database error: the
  transaction is lost then anyway.

Within one statement PostgreSQL runs the data-modifying parts in an
unspecified order, on one snapshot, and none sees another's rows except
through RETURNING: so a batch holds only writes that do not read one
another (each computed from values in memory), and never two writes of one
row. Foreign keys between the rows of one batch are checked at the end of
the statement, when all are there. A writer that needs a row's generated id
gets it from its `done` callback, after the statement ran.

Outside the block (and on SQLite, whose writers take their ORM path: see
`batching`), `write` runs the write at once, as one statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model, Q
from django.db.models.sql import InsertQuery, UpdateQuery

# A statement of a write names an earlier statement of the same write as __name__ (see `Write`).
_REFERENCE = re.compile(r"__([a-z][a-z0-9_]*)__")
_SAVEPOINT_ROLLBACK = re.compile(r"^\s*ROLLBACK\s+TO\s+SAVEPOINT\b", re.IGNORECASE)
_SAVEPOINT_RELEASE = re.compile(r"^\s*RELEASE\s+SAVEPOINT\b", re.IGNORECASE)


@dataclass
class Write:
    """One write: statements for a WITH clause, run in one go, and what to do with the last one's rows.

    `statements`: (name, SQL) pairs, each a data-modifying statement with
    RETURNING or a SELECT; a later one may read an earlier one's rows as
    `__name__` (renamed to be unique in the batch). `params` are the %s
    parameters of all of them, in the order they appear. `done` is called
    with the rows of the last statement (as JSON objects: dates and
    times are ISO strings), once it ran; None when nothing is needed back.
    """

    statements: list[tuple[str, str]]
    params: list[Any]
    done: Callable[[list[dict[str, Any]]], None] | None = None


@dataclass
class _Batch:
    alias: str
    writes: list[Write] = field(default_factory=list)
    # Writes that later calls may add to before they are sent (`pending`), by the key their writer chose.
    keyed: dict[Any, Any] = field(default_factory=dict)
    sending: bool = False
    through_release: bool = False


def _active(alias: str) -> _Batch | None:
    return getattr(connections[alias], "_write_batch", None)


def batching(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether writes on this connection take the batched (PostgreSQL) form: inside the block, or not,
    each writer's hand-written SQL is PostgreSQL's; on SQLite it keeps its ORM path."""
    return connections[using].vendor == "postgresql"


@contextmanager
def writes_together(using: str = DEFAULT_DB_ALIAS, *, through_release: bool = False) -> Iterator[None]:
    """Batch the writes made inside the block (see the module docstring). Must be inside a transaction.

    Nested blocks join the outer one. On SQLite it does nothing. `through_release`: a RELEASE
    SAVEPOINT does not send the waiting writes (see the module docstring for when that is safe).
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or _active(using) is not None:
        yield
        return
    if not connection.in_atomic_block:
        raise RuntimeError("writes_together() must run inside a transaction")
    batch = _Batch(using, through_release=through_release)
    connection._write_batch = batch
    try:
        with connection.execute_wrapper(_send_first(batch)):
            try:
                yield
            except DatabaseError:
                batch.writes.clear()  # the transaction is lost: nothing to send
                raise
            except BaseException:
                _send(batch)
                raise
            _send(batch)
    finally:
        connection._write_batch = None


def _send_first(batch: _Batch) -> Callable[..., Any]:
    """The execute wrapper: the waiting writes go before any other statement (or are dropped by a rollback)."""

    def send_first(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict) -> Any:
        if batch.writes and not batch.sending:
            if _SAVEPOINT_ROLLBACK.match(sql):
                # Every waiting write was made after the last savepoint boundary: the rollback undoes it.
                batch.writes.clear()
                batch.keyed.clear()
            elif batch.through_release and _SAVEPOINT_RELEASE.match(sql):
                pass  # the released savepoint's waiting writes are its parent's now: they wait on
            else:
                _send(batch)
        return execute(sql, params, many, context)

    return send_first


def write(one: Write, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `one` now, as one statement, or add it to the batch of the enclosing `writes_together`."""
    batch = _active(using)
    if batch is not None:
        batch.writes.append(one)
        return
    _send(_Batch(using, writes=[one]))


def pending(key: Any, *, using: str = DEFAULT_DB_ALIAS) -> Any:
    """What a writer keeps in the enclosing batch under `key` until it is sent (None: no batch, or nothing yet).

    For writes that must be one even when made by several calls (two events
    of one merchant take its sequence row once: events.writer).
    """
    batch = _active(using)
    return None if batch is None else batch.keyed.get(key)


def keep_pending(key: Any, value: Any, *, using: str = DEFAULT_DB_ALIAS) -> None:
    batch = _active(using)
    if batch is not None:
        batch.keyed[key] = value


def _send(batch: _Batch) -> None:
    """One statement for every waiting write; then each write's `done` with its rows."""
    writes, batch.writes = batch.writes, []
    batch.keyed.clear()
    if not writes:
        return
    ctes, params, results = [], [], []
    for n, one in enumerate(writes):
        names = {name: f"w{n}_{name}" for name, _ in one.statements}

        def rename(match: re.Match, names: dict[str, str] = names) -> str:
            return names.get(match.group(1), match.group(0))

        for name, sql in one.statements:
            ctes.append(f"{names[name]} AS ({_REFERENCE.sub(rename, sql)})")
        params.extend(one.params)
        if one.done is not None:
            results.append((n, names[one.statements[-1][0]]))
    if results:
        # Names are ours (w<n>_<name>); values are parameters.
        select = " UNION ALL ".join(
            f"SELECT {n} AS w, to_jsonb(r) AS row FROM {name} AS r"  # noqa: S608
            for n, name in results
        )
    else:
        select = "SELECT NULL, NULL"
    connection = connections[batch.alias]
    batch.sending = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(ctes)} {select}", params)
            rows = cursor.fetchall()
    finally:
        batch.sending = False
    by_write: dict[int, list[dict[str, Any]]] = {n: [] for n, _ in results}
    for n, row in rows:
        if n is not None:
            by_write[n].append(json.loads(row) if isinstance(row, str) else row)
    for n, _ in results:
        writes[n].done(by_write[n])


# --- model rows ----------------------------------------------------------------------------------------


def insert_rows(
    objs: Sequence[Model], *, then: Callable[[], None] | None = None, using: str = DEFAULT_DB_ALIAS
) -> None:
    """INSERT `objs` (one model; no signals are sent: for models nothing listens to) as one write.

    As `save()` would: fields' `pre_save` (auto_now…) set on the objects now,
    primary keys given back (from RETURNING) to those without one, the
    objects marked saved — once the write ran; then `then` is called (what
    needs the ids: registering an on-commit task for the row). In a batch,
    the rows of one model go in one INSERT, in the order they were given:
    ids follow the order of the calls, as they would one statement at a time.
    """
    if not objs:
        return
    model = type(objs[0])
    with_pk = objs[0].pk is not None
    if any(type(obj) is not model or (obj.pk is not None) != with_pk for obj in objs):
        raise ValueError("insert_rows: one model, and primary keys on all rows or on none")
    key = ("insert", model, with_pk)
    waiting = pending(key, using=using)
    if waiting is not None:
        waiting.add(objs, then)
        return
    rows = _InsertWrite(model, with_pk, using)
    rows.add(objs, then)
    keep_pending(key, rows, using=using)
    write(rows.write, using=using)


class _InsertWrite:
    """The rows of one model a batch inserts, as one write (rendered again as rows are added)."""

    def __init__(self, model: type[Model], with_pk: bool, using: str) -> None:
        self.model, self.with_pk, self.using = model, with_pk, using
        self.objs: list[Model] = []
        self.then: list[Callable[[], None]] = []
        self.write = Write([], [], self._done)

    def add(self, objs: Sequence[Model], then: Callable[[], None] | None = None) -> None:
        meta = self.model._meta
        fields = [f for f in meta.concrete_fields if not f.generated and (self.with_pk or f is not meta.auto_field)]
        query = InsertQuery(self.model)
        query.insert_values(fields, list(objs))
        compiler = query.get_compiler(using=self.using)
        compiler.returning_fields = [meta.pk]
        [(sql, params)] = compiler.as_sql()  # runs the fields' pre_save on `objs` (auto_now…)
        self.objs.extend(objs)
        if then is not None:
            self.then.append(then)
        if len(self.objs) > len(objs):
            # Again with every row: pre_save has run on the earlier ones; their values are kept (raw).
            query = InsertQuery(self.model)
            query.insert_values(fields, self.objs, raw=True)
            compiler = query.get_compiler(using=self.using)
            compiler.returning_fields = [meta.pk]
            [(sql, params)] = compiler.as_sql()
        self.write.statements[:] = [("insert", sql)]
        self.write.params[:] = list(params)

    def _done(self, rows: list[dict[str, Any]]) -> None:
        column = self.model._meta.pk.column
        for obj, row in zip(self.objs, rows, strict=True):
            obj.pk = row[column]
            obj._state.adding, obj._state.db = False, self.using
        for then in self.then:
            then()


def update_row(obj: Model, fields: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """UPDATE `fields` of the saved `obj` (by primary key; no signals) as one write, as `save(update_fields=…)`.

    Two UPDATEs of one row in one statement would not both apply, and an
    UPDATE cannot see a row inserted in the same statement: a batch holding
    either is sent first. Raises DatabaseError if no row was updated, as
    `save(update_fields=…)` does.
    """
    batch = _active(using)
    if batch is not None and obj._state.adding:
        _send(batch)  # its INSERT is waiting (its primary key may be known only then)
    key = ("update", type(obj), obj.pk)
    if batch is not None and key in batch.keyed:
        _send(batch)
    meta = type(obj)._meta
    query = UpdateQuery(type(obj))
    values = []
    for name in fields:
        model_field = meta.get_field(name)
        values.append((model_field, None, model_field.pre_save(obj, add=False)))
    query.add_update_fields(values)
    query.add_q(Q(pk=obj.pk))
    sql, params = query.get_compiler(using=using).as_sql()

    def done(rows: list[dict[str, Any]]) -> None:
        if len(rows) != 1:
            raise DatabaseError(f"{meta.label} {obj.pk}: the update of {', '.join(fields)} changed {len(rows)} rows")

    keep_pending(key, True, using=using)
    write(Write([("update", f"{sql} RETURNING 1 AS updated")], list(params), done), using=using)
