"""The provider simulator's state, in one SQLite file.

Kept apart from the HTTP code so the rules that make the simulator trustworthy
are in one place: a refund, its stored idempotent answer and its webhook events
are written in ONE transaction (a crash can never leave a refund without its
answer, or an answer without its events), and the webhook queue is a table, so
delivery resumes after a restart.

The server is threaded; every method takes one lock around one connection.
Each critical section is a few statements, so this costs nothing measurable,
and it makes "check the key, then claim it" atomic without relying on SQLite's
own locking semantics.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refunds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    payment_intent TEXT NOT NULL,
    created INTEGER NOT NULL,
    status TEXT NOT NULL,
    settle_at REAL,
    object TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_payment_intent ON refunds (payment_intent);
CREATE INDEX IF NOT EXISTS refunds_created ON refunds (created, seq);
CREATE TABLE IF NOT EXISTS payment_intents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    object TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    http_status INTEGER,
    body TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS faults (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    delivered_at REAL,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
"""

EventFactory = Callable[[dict[str, Any]], list[dict[str, Any]]]


class SimulatorStore:
    """Refunds, payment intents, idempotency keys and the webhook outbox of the simulator."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        # Default (deferred) isolation: the first write of a `with self._conn:`
        # block opens the transaction that the block commits or rolls back.
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL survives a crash or kill of the simulator process (what its
            # persistence is for); only a power cut could lose the last commits.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            # A key still "processing" belonged to a request the last process
            # never finished; nothing of it was committed, so the key is free.
            self._conn.execute("DELETE FROM idempotency WHERE state = 'processing'")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- idempotency -------------------------------------------------------

    def claim(
        self, scope: str, key: str, fingerprint: str, now: float
    ) -> tuple[str, int | None, dict[str, Any] | None]:
        """Atomically look up or claim a key.

        Returns ("new", None, None) after claiming it, ("replay", status, body),
        ("mismatch", None, None) or ("in_use", None, None).
        """
        with self._lock, self._conn:
            row = self._conn.execute("SELECT * FROM idempotency WHERE scope = ? AND key = ?", (scope, key)).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO idempotency (scope, key, fingerprint, state, created)"
                    " VALUES (?, ?, ?, 'processing', ?)",
                    (scope, key, fingerprint, now),
                )
                return "new", None, None
            if row["fingerprint"] != fingerprint:
                return "mismatch", None, None
            if row["state"] == "processing":
                return "in_use", None, None
            return "replay", row["http_status"], json.loads(row["body"])

    def release(self, scope: str, key: str) -> None:
        """Forget a claimed key whose request stored no answer."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'processing'",
                (scope, key),
            )

    def bump_fault(self, scope: str, key: str) -> int:
        """Count one injected failure for `key`; return the new count."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO faults (scope, key, count) VALUES (?, ?, 1)"
                " ON CONFLICT (scope, key) DO UPDATE SET count = count + 1",
                (scope, key),
            )
            row = self._conn.execute("SELECT count FROM faults WHERE scope = ? AND key = ?", (scope, key)).fetchone()
            return int(row["count"])

    # --- refunds -----------------------------------------------------------

    def create_refund(
        self,
        obj: dict[str, Any],
        settle_at: float | None,
        idem: tuple[str, str] | None,
        events: list[dict[str, Any]],
    ) -> None:
        """Insert the refund, its idempotent answer and its events atomically."""
        body = json.dumps(obj)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO refunds (id, payment_intent, created, status, settle_at, object)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    obj["id"],
                    obj["payment_intent"],
                    obj["created"],
                    obj["status"],
                    settle_at,
                    body,
                ),
            )
            if idem is not None:
                self._conn.execute(
                    "UPDATE idempotency SET state = 'done', http_status = 200, body = ? WHERE scope = ? AND key = ?",
                    (body, *idem),
                )
            self._enqueue(events)

    def get_refund(self, refund_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT object FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        return json.loads(row["object"]) if row else None

    def list_refunds(
        self,
        *,
        payment_intent: str | None,
        created: dict[str, int],
        limit: int,
        starting_after: str | None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first, like Stripe; `created` maps eq/gt/gte/lt/lte to bounds.

        `seq` breaks ties between refunds created in the same second, so the
        cursor never skips or repeats one. Raises LookupError for an unknown
        `starting_after`.
        """
        ops = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        where, args = ["1 = 1"], []
        if payment_intent is not None:
            where.append("payment_intent = ?")
            args.append(payment_intent)
        for op, bound in created.items():
            where.append(f"created {ops[op]} ?")
            args.append(bound)
        with self._lock:
            if starting_after is not None:
                cursor = self._conn.execute(
                    "SELECT created, seq FROM refunds WHERE id = ?", (starting_after,)
                ).fetchone()
                if cursor is None:
                    raise LookupError(starting_after)
                where.append("(created < ? OR (created = ? AND seq < ?))")
                args += [cursor["created"], cursor["created"], cursor["seq"]]
            rows = self._conn.execute(
                # Only fixed fragments with placeholders are joined; values are bound.
                f"SELECT object FROM refunds WHERE {' AND '.join(where)} ORDER BY created DESC, seq DESC LIMIT ?",  # noqa: S608
                (*args, limit + 1),
            ).fetchall()
        return [json.loads(r["object"]) for r in rows[:limit]], len(rows) > limit

    def settle_due(self, now: float, make_events: EventFactory) -> int:
        """Mark pending refunds whose time has come succeeded; queue their events."""
        with self._lock, self._conn:
            rows = self._conn.execute(
                "SELECT seq, object FROM refunds WHERE status = 'pending' AND settle_at <= ?",
                (now,),
            ).fetchall()
            for row in rows:
                obj = json.loads(row["object"])
                obj["status"] = "succeeded"
                self._conn.execute(
                    "UPDATE refunds SET status = 'succeeded', settle_at = NULL, object = ? WHERE seq = ?",
                    (json.dumps(obj), row["seq"]),
                )
                self._enqueue(make_events(obj))
        return len(rows)

    def fail_after_success(
        self, refund_id: str, reason: str, make_events: EventFactory
    ) -> tuple[dict[str, Any] | None, bool]:
        """Fail a succeeded refund, as a card issuer returning it does; queue its events.

        Returns the refund as it is now (None when there is no such refund) and
        whether it changed: a refund that is not `succeeded` is left as it is.
        """
        with self._lock, self._conn:
            row = self._conn.execute("SELECT seq, object FROM refunds WHERE id = ?", (refund_id,)).fetchone()
            if row is None:
                return None, False
            obj = json.loads(row["object"])
            if obj["status"] != "succeeded":
                return obj, False
            obj["status"] = "failed"
            obj["failure_reason"] = reason
            obj["failure_balance_transaction"] = "txn_failure_" + refund_id.removeprefix("re_")
            self._conn.execute(
                "UPDATE refunds SET status = 'failed', object = ? WHERE seq = ?", (json.dumps(obj), row["seq"])
            )
            self._enqueue(make_events(obj))
        return obj, True

    # --- payment intents (voids) ----------------------------------------------

    def put_intent(self, obj: dict[str, Any]) -> None:
        """Register (or replace) a payment intent, as a test sets up an authorization."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO payment_intents (id, status, object) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, object = excluded.object",
                (obj["id"], obj["status"], json.dumps(obj)),
            )

    def get_intent(self, intent_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT object FROM payment_intents WHERE id = ?", (intent_id,)).fetchone()
        return json.loads(row["object"]) if row else None

    def cancel_intent(
        self,
        intent_id: str,
        *,
        unknown: dict[str, Any],
        cancelable: frozenset[str],
        changes: dict[str, Any],
        idem: tuple[str, str] | None,
        make_events: EventFactory,
    ) -> tuple[bool, dict[str, Any]]:
        """Cancel an intent if its status allows; return (canceled, the intent as it is now).

        An intent the simulator was never told of is taken to be `unknown`
        (stored as such). The canceled intent, its idempotent answer and its
        events are written in one transaction; a refusal stores no change but
        its answer (the caller's) is stored by `store_answer`.
        """
        with self._lock, self._conn:
            row = self._conn.execute("SELECT object FROM payment_intents WHERE id = ?", (intent_id,)).fetchone()
            obj = json.loads(row["object"]) if row else dict(unknown)
            if obj["status"] not in cancelable:
                if row is None:
                    self._conn.execute(
                        "INSERT INTO payment_intents (id, status, object) VALUES (?, ?, ?)",
                        (intent_id, obj["status"], json.dumps(obj)),
                    )
                return False, obj
            obj.update(changes)
            body = json.dumps(obj)
            self._conn.execute(
                "INSERT INTO payment_intents (id, status, object) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, object = excluded.object",
                (intent_id, obj["status"], body),
            )
            if idem is not None:
                self._conn.execute(
                    "UPDATE idempotency SET state = 'done', http_status = 200, body = ? WHERE scope = ? AND key = ?",
                    (body, *idem),
                )
            self._enqueue(make_events(obj))
        return True, obj

    def store_answer(self, idem: tuple[str, str], status: int, body: dict[str, Any]) -> None:
        """Keep a refusal made while executing as the key's answer (Stripe replays those too)."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE idempotency SET state = 'done', http_status = ?, body = ? WHERE scope = ? AND key = ?",
                (status, json.dumps(body), *idem),
            )

    # --- webhook queue -----------------------------------------------------

    def _enqueue(self, events: list[dict[str, Any]]) -> None:
        # Real time, not the simulated clock: delivery must start now.
        now = time.time()
        for event in events:
            self._conn.execute(
                "INSERT INTO webhooks (event_id, type, payload, next_attempt_at) VALUES (?, ?, ?, ?)",
                (event["id"], event["type"], json.dumps(event), now),
            )

    def due_webhooks(self, now: float, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, event_id, type, payload, attempts FROM webhooks"
                " WHERE delivered_at IS NULL AND dead = 0 AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, seq LIMIT ?",
                (now, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def mark_delivered(self, seq: int, attempts: int, now: float) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE webhooks SET delivered_at = ?, attempts = ?, last_error = NULL WHERE seq = ?",
                (now, attempts, seq),
            )

    def mark_failed(self, seq: int, attempts: int, next_attempt_at: float, dead: bool, error: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE webhooks SET attempts = ?, next_attempt_at = ?, dead = ?, last_error = ? WHERE seq = ?",
                (attempts, next_attempt_at, int(dead), error, seq),
            )

    def webhook_log(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, type, attempts, delivered_at, dead, last_error,"
                " json_extract(payload, '$.data.object.id') AS refund"
                " FROM webhooks ORDER BY seq"
            ).fetchall()
        return [dict(r) for r in rows]

    # --- admin ---------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._lock:
            refunds = self._conn.execute("SELECT count(*) FROM refunds").fetchone()[0]
            queued = self._conn.execute(
                "SELECT count(*) FROM webhooks WHERE delivered_at IS NULL AND dead = 0"
            ).fetchone()[0]
            intents = self._conn.execute("SELECT count(*) FROM payment_intents").fetchone()[0]
        return {"refunds": refunds, "payment_intents": intents, "webhooks_pending": queued}

    def reset(self) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM refunds")
            self._conn.execute("DELETE FROM payment_intents")
            self._conn.execute("DELETE FROM idempotency")
            self._conn.execute("DELETE FROM faults")
            self._conn.execute("DELETE FROM webhooks")
