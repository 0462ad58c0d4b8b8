"""Fill a benchmark database with N historical refunds and every row they leave, set-based (issue 17).

    .venv/bin/python benchmarks/seed_history.py --refunds 1000000 --db rd_seed_1m [--months 24] [--verify]

then `benchmarks/stack_load.py --seeded-db rd_seed_1m --label after-10m` runs the
stack against a copy of it.

What one refund leaves is copied from a real run through the API, the worker and
the simulator (five paths, mixed per refund by a fixed hash):

Path (share) -> final state: rows besides the refund.

* auto-approved, provider answers `succeeded` (80 %) -> completed: 3 history rows,
  7 audit events, 4 merchant events, 2 entries / 5 postings, 2 emails, a decision,
  an outbox row, 1 provider webhook;
* auto-approved, provider `pending`, a webhook settles it (8 %) -> completed: 4 history,
  9 audit, 5 events, 2 / 5, 2 emails, decision, outbox, 2 webhooks;
* auto-approved, provider `failed` (2 %) -> failed: 3 history, 8 audit, 4 events,
  PENDING + REVERSED (2 / 6), 2 emails, decision, outbox, 2 webhooks;
* goodwill, reviewed, approved by a senior agent (6 %) -> completed: 4 history, 8 audit,
  4 events, 2 / 5, 3 emails, decision, outbox, 1 webhook;
* goodwill, reviewed, denied (4 %) -> denied: 2 history, 4 audit, 2 events, no entries,
  2 emails, decision.

Every tenth order carries a second (auto-approved) refund. Per order: the
order, its line, its captured payment (refund_reserved_minor = the sum of its
active refunds), the historical order row and the `order.created` audit event;
a customer per two orders. Currencies USD 60 % / EUR 25 % / GBP 15 %. The
refunds are spread evenly over `--months` months up to an hour ago; the
accounting periods of those months exist, all but the last two closed.
Idempotency records exist only for the refunds of the last
IDEMPOTENCY_KEY_TTL_HOURS (48 h): beat purges older ones every hour, so a
database in steady state holds no more (and a seeded backlog would be purged
in the middle of a benchmark). Merchant events are written as the app writes
them; no webhook endpoint exists, so no deliveries.

How: one generated plan row per refund (its path, order, times, and the first
id of each of its rows in every table, by prefix sums), then one INSERT ...
SELECT per table joining the plan with that path's template, on two
connections side by side; PostgreSQL triggers are off for the load
(`session_replication_role = replica`): the append-only guards, the deferred
per-entry balance triggers and the foreign keys would only re-prove what the
generator makes balanced. The audit events are then sealed into the hash
chain in id order by the app's own `audit.services.seal_hash` (worker
processes build the canonical JSON, the main process chains the hashes,
COPY both ways). The tables' indexes, unique and primary keys are dropped
before the load and rebuilt after it, and every foreign key is re-added NOT
VALID and then VALIDATEd, so PostgreSQL checks every reference of the seed;
the schema afterwards is compared with the schema before (same constraint and
index definitions) and the run fails if they differ. Then VACUUM ANALYZE (this
server runs without autovacuum), and the invariants are checked in SQL:
every entry balanced, trial balance zero per currency, reserved = sum of
active refunds and <= the payment, chain contiguous with its head, event
sequence = its counter. `--verify` also runs `manage.py verify_audit` (slow:
the app's walk of the whole chain, about 10k events/s).

Known simplifications: status tokens are sealed with no key the app will
have (a historical refund's customer link does not open; nothing in the
benchmark reads one), merchant event and webhook payloads carry the real
keys with made-up but well-formed values, and ids are consecutive per refund
(the app interleaves them between concurrent refunds).

Writes benchmarks/results/seed_history-<N>.json: rows per table, seconds per
phase, rows/s, database size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
from common import PG, ROOT, bench_env, manage, recreate_database, write_results

# The tables the seed writes; their keys and indexes are rebuilt after the load.
SEEDED = [
    "refunds_customer",
    "refunds_order",
    "refunds_orderline",
    "refunds_historicalorder",
    "refunds_payment",
    "refunds_refund",
    "refunds_historicalrefund",
    "refunds_decision",
    "refunds_outboxmessage",
    "refunds_webhookevent",
    "refunds_webhookeventkey",
    "ledger_journalentry",
    "ledger_posting",
    "audit_auditevent",
    "audit_auditseal",
    "events_event",
    "notifications_customeremail",
    "api_idempotencyrecord",
]

# Paths: 1 auto/succeeded, 2 auto/pending then webhook, 3 auto/failed, 4 reviewed/approved, 5 reviewed/denied.
MIX = [(1, 80), (2, 8), (3, 2), (4, 6), (5, 4)]
COUNTS = {  # rows per refund of each path (the order's rows come on top for its first refund)
    "hist": {1: 3, 2: 4, 3: 3, 4: 4, 5: 2},
    "audit": {1: 7, 2: 9, 3: 8, 4: 8, 5: 4},
    "event": {1: 4, 2: 5, 3: 4, 4: 4, 5: 2},
    "entry": {1: 2, 2: 2, 3: 2, 4: 2, 5: 0},
    "posting": {1: 5, 2: 5, 3: 6, 4: 5, 5: 0},
    "email": {1: 2, 2: 2, 3: 2, 4: 3, 5: 2},
    "outbox": {1: 1, 2: 1, 3: 1, 4: 1, 5: 0},
    "whk": {1: 1, 2: 2, 3: 2, 4: 1, 5: 0},
}
DRAFT = (
    "Good news: we have approved your refund of {amount} for order {order}. "
    "It is on its way back to your original payment method."
)
AUTO_TEXT = "'not_received' refunds up to 500.00 USD within 60 days of capture are approved automatically"
REVIEW_TEXT = "goodwill refunds are always reviewed by an agent"
DENY_NOTE = "Declined: not covered by goodwill"
IDEMPOTENCY_TTL_HOURS = 48


def q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def case_kind(values: dict[int, object], default: str = "0") -> str:
    arms = " ".join(f"WHEN {k} THEN {v}" for k, v in values.items())
    return f"(CASE p.kind {arms} ELSE {default} END)"


# --- SQL expressions (inlined: a function call per row would cost more than the row) ----------------------


def H(x: str, salt: int) -> str:
    """A well-mixed pseudo-random number in [0, 2^32) from the integer expression `x` (deterministic)."""
    x1 = f"((({x}) * 2654435761 + {salt * 40503}) % 4294967296)"
    x2 = f"((({x1} # ({x1} >> 15)) * 73244475) % 4294967296)"
    return f"({x2} # ({x2} >> 13))"


def RID(prefix: str, x: str) -> str:
    """An id like the app's or the provider's: `prefix` and 24 characters of [0-9a-f] (a subset of theirs)."""
    return f"({q(prefix)} || substr(md5({q(prefix)} || ({x})::text), 1, 24))"


# A timestamp as the app's JSON has it (ISO 8601, microseconds, Z). STABLE like to_char, so the planner inlines it.
FUNCTIONS = """
CREATE OR REPLACE FUNCTION seed_ts(t timestamptz) RETURNS text STABLE LANGUAGE sql AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
"""


def plan_sql(n: int, start: datetime, end: datetime) -> str:
    step = (end - start).total_seconds() / n
    mix_arms, edge = [], 0
    for kind, share in MIX:
        edge += share
        mix_arms.append(f"WHEN h < {edge} THEN {kind}")
    counts = {
        name: " ".join(f"WHEN {k} THEN {v}" for k, v in per.items()) for name, per in COUNTS.items()
    }  # fmt: skip
    bases = ",\n  ".join(
        f"sum(c_{name}) OVER w - c_{name} AS b_{name}" for name in [*COUNTS, "audit_all"]
    )  # fmt: skip
    return f"""
DROP TABLE IF EXISTS seed_plan;
CREATE UNLOGGED TABLE seed_plan AS
WITH g AS (
  SELECT n::bigint AS n,
         {H("n", 1)} % 100 AS h,
         n % 10 <> 0 AS first,
         (n - n / 10) AS ord,
         (n % 10 = 9 AND n + 1 <= {n}) AS has_second,
         500 + {H("n", 2)} % 14500 AS amount,
         {H("n - n / 10", 3)} % 100 AS h_currency,
         timestamptz {q(start.isoformat())}
           + ((n - 1) + ({H("n", 5)} % 900) / 1000.0) * interval '{step} seconds' AS t0
  FROM generate_series(1, {n}) AS n
), g2 AS (
  SELECT g.*, CASE WHEN n % 10 = 0 THEN 1 ELSE CASE {" ".join(mix_arms)} END END AS kind FROM g
), k AS (
  SELECT g2.*,
         CASE WHEN h_currency < 60 THEN 'USD' WHEN h_currency < 85 THEN 'EUR' ELSE 'GBP' END AS currency,
         CASE WHEN kind IN (4, 5) THEN t0 + (600 + {H("n", 6)} % 7200) * interval '1 second' ELSE t0 END AS t_dec,
         CASE kind {counts["hist"]} END AS c_hist,
         CASE kind {counts["audit"]} END AS c_audit,
         CASE kind {counts["audit"]} END + CASE WHEN first THEN 1 ELSE 0 END AS c_audit_all,
         CASE kind {counts["event"]} END AS c_event,
         CASE kind {counts["entry"]} END AS c_entry,
         CASE kind {counts["posting"]} END AS c_posting,
         CASE kind {counts["email"]} END AS c_email,
         CASE kind {counts["outbox"]} END AS c_outbox,
         CASE kind {counts["whk"]} END AS c_whk
  FROM g2
)
SELECT k.*,
  {bases},
  t_dec + (450 + {H("n", 7)} % 400) * interval '1 millisecond' AS t_sub,
  t_dec + (450 + {H("n", 7)} % 400) * interval '1 millisecond'
        + CASE WHEN kind = 2 THEN (30 + {H("n", 8)} % 90) * interval '1 second'
               ELSE (60 + {H("n", 8)} % 300) * interval '1 millisecond' END AS t_done,
  t0 - interval '3 days' - ({H("ord", 9)} % 86400) * interval '1 second' AS t_order,
  {RID("rf_", "n")} AS public_id,
  {RID("re_", "n")} AS prid,
  substr(md5('corr' || n), 1, 32) AS corr,
  'H-' || lpad(ord::text, 9, '0') AS order_id,
  'pi_sim_ok_h' || lpad(ord::text, 9, '0') AS payment_id,
  30000 + {H("ord", 4)} % 20000 AS pay_amount,
  (ord + 1) / 2 AS cust,
  CASE WHEN kind IN (4, 5) THEN 'goodwill' ELSE 'not_received' END AS reason,
  CASE WHEN kind IN (4, 5) THEN 'review' ELSE 'auto_approve' END AS outcome,
  CASE WHEN kind IN (4, 5) THEN 'R-GOODWILL-REVIEW' ELSE 'R-AUTO-NOT_RECEIVED' END AS rule,
  CASE WHEN kind IN (4, 5) THEN {q(REVIEW_TEXT)} ELSE {q(AUTO_TEXT)} END AS rule_text
FROM k
WINDOW w AS (ORDER BY n ROWS UNBOUNDED PRECEDING);
ALTER TABLE seed_plan ADD PRIMARY KEY (n);
ANALYZE seed_plan;
"""


# --- the rows, table by table --------------------------------------------------------------------------


class Ctx:
    """Ids the generated rows point at, and where each table's ids start."""

    def __init__(self, ids: dict, base: dict[str, int], now: datetime) -> None:
        self.ids, self.base, self.now = ids, base, now

    def __getattr__(self, name: str):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def tax_sql(amount: str = "p.amount") -> str:
    """The tax part of `amount` split over the order's one line (net, tax) by largest remainder (core.money)."""
    tot, tax = "p.pay_amount", "(p.pay_amount / 11)"
    return (
        f"(({amount} * {tax}) / {tot} + CASE WHEN ({amount} - ({amount} * ({tot} - {tax})) / {tot} "
        f"- ({amount} * {tax}) / {tot}) = 1 AND ({amount} * {tax}) % {tot} > ({amount} * ({tot} - {tax})) % {tot} "
        f"THEN 1 ELSE 0 END)"
    )


def insert_orders(c: Ctx) -> list[str]:
    lines = "p.pay_amount"
    reserved = (
        "(CASE WHEN p.kind IN (1, 2, 4) THEN p.amount ELSE 0 END + CASE WHEN p.has_second THEN "
        "(SELECT s.amount FROM seed_plan s WHERE s.n = p.n + 1) ELSE 0 END)"
    )
    last_touch = "CASE WHEN p.has_second THEN (SELECT s.t_dec FROM seed_plan s WHERE s.n = p.n + 1) ELSE p.t_dec END"
    return [
        f"""INSERT INTO refunds_customer (id, external_id, email, name, locale, created_at, merchant_id)
SELECT {c.base["customer"]} + p.cust, 'hc-' || p.cust, 'hc-' || p.cust || '@example.com', '', 'en', p.t_order,
       {c.merchant}
FROM seed_plan p WHERE p.first AND p.ord % 2 = 1""",
        f"""INSERT INTO refunds_order (id, order_id, currency, placed_at, service_starts_at, service_ends_at,
  created_at, updated_at, customer_id, merchant_id)
SELECT {c.base["order"]} + p.ord, p.order_id, p.currency, NULL, NULL, NULL, p.t_order, p.t_order,
       {c.base["customer"]} + p.cust, {c.merchant}
FROM seed_plan p WHERE p.first""",
        f"""INSERT INTO refunds_orderline (id, line_no, sku, description, unit_amount_minor, quantity, tax_minor,
  discount_minor, order_id, refunded_quantity)
SELECT {c.base["orderline"]} + p.ord, 1, '', '', {lines} - {lines} / 11, 1, {lines} / 11, 0,
       {c.base["order"]} + p.ord, 0
FROM seed_plan p WHERE p.first""",
        f"""INSERT INTO refunds_historicalorder (id, order_id, currency, placed_at, service_starts_at, service_ends_at,
  created_at, updated_at, history_id, history_date, history_change_reason, history_type, customer_id,
  history_user_id, merchant_id)
SELECT {c.base["order"]} + p.ord, p.order_id, p.currency, NULL, NULL, NULL, p.t_order, p.t_order,
       {c.base["historicalorder"]} + p.ord, p.t_order + interval '300 microseconds', NULL, '+',
       {c.base["customer"]} + p.cust, {c.merchant_user}, {c.merchant}
FROM seed_plan p WHERE p.first""",
        f"""INSERT INTO refunds_payment (id, rail, provider_payment_id, amount_minor, currency, status, captured_at,
  refund_reserved_minor, updated_at, order_id, provider)
SELECT {c.base["payment"]} + p.ord, 'card', p.payment_id, p.pay_amount, p.currency, 'captured',
       p.t_order - interval '1 minute', {reserved}, {last_touch}, {c.base["order"]} + p.ord, 'stripe'
FROM seed_plan p WHERE p.first""",
    ]


# The refund's columns at one moment: (state, version, decided, submitted, done, provider id, failure, denied).
def refund_state_cols(
    state: str,
    version: int,
    *,
    decided: bool,
    submitted: bool,
    done: str | None,
    prid: bool,
    status: str = "",
    failed: bool = False,
    denied: bool = False,
) -> dict[str, str]:
    return {
        "state": q(state),
        "version": str(version),
        "decline_reason": q(DENY_NOTE) if denied else "''",
        "override_flagged": "true" if denied else "false",
        "provider_refund_id": "p.prid" if prid else "NULL",
        "failure_code": q("expired_or_canceled_card") if failed else "''",
        "submission_count": "1" if submitted else "0",
        "provider_status": q(status),
        "decided_at": "p.t_dec" if decided else "NULL",
        "submitted_at": "p.t_sub" if submitted else "NULL",
        "completed_at": "p.t_done" if done == "completed" else "NULL",
    }


FINAL = {
    1: refund_state_cols("completed", 4, decided=True, submitted=True, done="completed", prid=True, status="succeeded"),
    2: refund_state_cols("completed", 5, decided=True, submitted=True, done="completed", prid=True, status="succeeded"),
    3: refund_state_cols(
        "failed", 4, decided=True, submitted=True, done="failed", prid=True, status="failed", failed=True
    ),
    4: refund_state_cols("completed", 4, decided=True, submitted=True, done="completed", prid=True, status="succeeded"),
    5: refund_state_cols("denied", 2, decided=True, submitted=False, done=None, prid=False, denied=True),
}
FINAL_UPDATED = {1: "p.t_done", 2: "p.t_done", 3: "p.t_done", 4: "p.t_done", 5: "p.t_dec"}

COMMON_REFUND_COLS = [
    "id", "public_id", "amount_minor", "currency", "reason", "customer_note", "evidence", "requested_via",
    "correlation_id", "policy_outcome", "policy_rule", "policy_rule_text", "recommendation", "approvals_required",
    "draft_reply", "failure_retryable", "created_at", "order_id", "payment_id", "requested_by_id",
    "policy_version_id", "request_token", "customer_email", "assigned_at", "assignee_id",
    "earlier_provider_refund_ids", "metadata", "merchant_id", "instrument", "proration", "customer_id",
]  # fmt: skip
STATE_COLS = list(FINAL[1])


def common_refund_values(c: Ctx) -> list[str]:
    return [
        f"{c.base['refund']} + p.n", "p.public_id", "p.amount", "p.currency", "p.reason", "''", "'[]'::jsonb",
        "'api_key'", "p.corr", "p.outcome", "p.rule", "p.rule_text", "'approve'", "1", q(DRAFT), "false", "p.t0",
        f"{c.base['order']} + p.ord", f"{c.base['payment']} + p.ord", str(c.merchant_user), str(c.policy), "NULL",
        "'hc-' || p.cust || '@example.com'", "NULL", "NULL", "NULL", "NULL", str(c.merchant), "NULL", "NULL",
        f"{c.base['customer']} + p.cust",
    ]  # fmt: skip


def insert_refunds(c: Ctx) -> list[str]:
    state_values = [case_kind({k: FINAL[k][col] for k in FINAL}, "NULL") for col in STATE_COLS]
    cols = [*COMMON_REFUND_COLS, *STATE_COLS, "updated_at", "status_token_sealed", "status_token_digest"]
    values = [
        *common_refund_values(c),
        *state_values,
        case_kind(FINAL_UPDATED, "NULL"),
        # Sealed with a key no run has: the customer's link of a historical refund does not open (module doc).
        "'gAAAAAB' || md5('seal' || p.n) || md5('seal2' || p.n) || md5('seal3' || p.n)",
        "encode(sha256(('status-token-' || p.n)::bytea), 'hex')",
    ]
    return [f"INSERT INTO refunds_refund ({', '.join(cols)})\nSELECT {', '.join(values)}\nFROM seed_plan p"]


# History rows: (path, j, state, version, anchor, history_type, user, state columns).
def _hist(state, version, anchor, htype, user, **kw) -> tuple:
    return (state, version, anchor, htype, user, refund_state_cols(state, version, **kw))


HIST = {
    1: [
        _hist("approved", 2, "p.t0", "+", "m", decided=True, submitted=False, done=None, prid=False),
        _hist("submitting", 3, "p.t_sub", "~", None, decided=True, submitted=True, done=None, prid=False),
        _hist(
            "completed",
            4,
            "p.t_done",
            "~",
            None,
            decided=True,
            submitted=True,
            done="completed",
            prid=True,
            status="succeeded",
        ),
    ],
    2: [
        _hist("approved", 2, "p.t0", "+", "m", decided=True, submitted=False, done=None, prid=False),
        _hist("submitting", 3, "p.t_sub", "~", None, decided=True, submitted=True, done=None, prid=False),
        _hist(
            "provider_pending",
            4,
            "p.t_sub + interval '100 ms'",
            "~",
            None,
            decided=True,
            submitted=True,
            done=None,
            prid=True,
            status="pending",
        ),
        _hist(
            "completed",
            5,
            "p.t_done",
            "~",
            None,
            decided=True,
            submitted=True,
            done="completed",
            prid=True,
            status="succeeded",
        ),
    ],
    3: [
        _hist("approved", 2, "p.t0", "+", "m", decided=True, submitted=False, done=None, prid=False),
        _hist("submitting", 3, "p.t_sub", "~", None, decided=True, submitted=True, done=None, prid=False),
        _hist(
            "failed",
            4,
            "p.t_done",
            "~",
            None,
            decided=True,
            submitted=True,
            done="failed",
            prid=True,
            status="failed",
            failed=True,
        ),
    ],
    4: [
        _hist("requested", 1, "p.t0", "+", "m", decided=False, submitted=False, done=None, prid=False),
        _hist("approved", 2, "p.t_dec", "~", "r", decided=True, submitted=False, done=None, prid=False),
        _hist("submitting", 3, "p.t_sub", "~", None, decided=True, submitted=True, done=None, prid=False),
        _hist(
            "completed",
            4,
            "p.t_done",
            "~",
            None,
            decided=True,
            submitted=True,
            done="completed",
            prid=True,
            status="succeeded",
        ),
    ],
    5: [
        _hist("requested", 1, "p.t0", "+", "m", decided=False, submitted=False, done=None, prid=False),
        _hist("denied", 2, "p.t_dec", "~", "r", decided=True, submitted=False, done=None, prid=False, denied=True),
    ],
}


def insert_history(c: Ctx) -> list[str]:
    rows = []
    for kind, items in HIST.items():
        for j, (_state, _version, anchor, htype, user, cols) in enumerate(items, start=1):
            rows.append((kind, j, anchor, htype, user, cols))

    def arm(pick) -> str:
        return "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {pick(a, h, u, cols)}"
                                   for k, j, a, h, u, cols in rows) + " END)"  # fmt: skip

    users = {"m": str(c.merchant_user), "r": str(c.reviewer_user), None: "NULL"}
    tpl = ", ".join(f"({k}, {j})" for k, j, *_ in rows)
    state_values = [arm(lambda a, h, u, cols, col=col: cols[col]) for col in STATE_COLS]
    when = arm(lambda a, h, u, cols: a)
    cols = [*COMMON_REFUND_COLS, *STATE_COLS, "updated_at", "history_id", "history_date", "history_change_reason",
            "history_type", "history_user_id"]  # fmt: skip
    values = [
        *common_refund_values(c),
        *state_values,
        when,
        f"{c.base['historicalrefund']} + p.b_hist + t.j",
        f"{when} + interval '3 ms'",
        "NULL",
        arm(lambda a, h, u, cols: q(h)),
        arm(lambda a, h, u, cols: users[u]),
    ]
    return [
        f"INSERT INTO refunds_historicalrefund ({', '.join(cols)})\nSELECT {', '.join(values)}\n"
        f"FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j) ON t.kind = p.kind"
    ]


def insert_decisions(c: Ctx) -> list[str]:
    auto_note = "p.rule || ': ' || p.rule_text"
    return [
        f"""INSERT INTO refunds_decision (id, kind, as_senior, note, amount_before_minor, amount_after_minor,
  reply_before, reply_after, created_at, actor_id, api_key_id, refund_id, rationale)
SELECT {c.base["decision"]} + p.n,
       CASE WHEN p.kind = 5 THEN 'deny' ELSE 'approve' END, false,
       CASE p.kind WHEN 4 THEN 'approved after review' WHEN 5 THEN {q(DENY_NOTE)} ELSE {auto_note} END,
       NULL, CASE WHEN p.kind = 4 THEN p.amount END, '', '',
       p.t_dec + interval '90 ms',
       CASE WHEN p.kind IN (4, 5) THEN {c.reviewer_user} END, CASE WHEN p.kind IN (4, 5) THEN {c.reviewer_key} END,
       {c.base["refund"]} + p.n, CASE WHEN p.kind = 5 THEN 'not covered by goodwill' ELSE '' END
FROM seed_plan p"""
    ]


def insert_outbox(c: Ctx) -> list[str]:
    delivered = "CASE WHEN p.kind = 2 THEN p.t_sub + interval '120 ms' ELSE p.t_done + interval '60 ms' END"
    return [
        f"""INSERT INTO refunds_outboxmessage (id, topic, idempotency_key, payload, status, attempts, available_at,
  last_error, created_at, updated_at, delivered_at, refund_id, dead_at, lease_expires_at, queued_until, trace_context)
SELECT {c.base["outboxmessage"]} + p.b_outbox + 1, 'refund.submit', p.public_id || '-1',
       jsonb_build_object('round', 1, 'refund_id', p.public_id), 'done', 1,
       p.t_dec + interval '100 ms', '', p.t_dec + interval '100 ms', {delivered}, {delivered},
       {c.base["refund"]} + p.n, NULL, NULL, NULL, '{{}}'::jsonb
FROM seed_plan p WHERE p.kind <> 5"""
    ]


# Emails: (path, message id, event, refund version, anchor).
EMAILS = {
    1: [("refund.approved", "refund.approved", 2, "p.t_dec"), ("refund.completed", "refund.completed", 4, "p.t_done")],
    2: [("refund.approved", "refund.approved", 2, "p.t_dec"), ("refund.completed", "refund.completed", 5, "p.t_done")],
    3: [("refund.approved", "refund.approved", 2, "p.t_dec"), ("refund.failed", "refund.failed", 4, "p.t_done")],
    4: [
        ("refund.request.accepted", "refund.requested", 1, "p.t0"),
        ("refund.approved", "refund.approved", 2, "p.t_dec"),
        ("refund.completed", "refund.completed", 4, "p.t_done"),
    ],
    5: [("refund.request.accepted", "refund.requested", 1, "p.t0"), ("refund.declined", "refund.denied", 2, "p.t_dec")],
}


def insert_emails(c: Ctx) -> list[str]:
    rows = [(k, j, m, e, v, a) for k, items in EMAILS.items() for j, (m, e, v, a) in enumerate(items, start=1)]
    tpl = ", ".join(f"({k}, {j}, {q(m)}, {q(e)}, {v})" for k, j, m, e, v, _ in rows)
    at = "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {a}" for k, j, _, _, _, a in rows) + " END)"
    return [
        f"""INSERT INTO notifications_customeremail (id, message_id, refund_version, event, status, attempts,
  available_at, lease_expires_at, enqueued_until, last_error, created_at, updated_at, finished_at, refund_id)
SELECT {c.base["customeremail"]} + p.b_email + t.j, t.message_id, t.version, t.event, 'sent', 1,
       {at} + interval '20 ms', NULL, NULL, '', {at} + interval '20 ms', {at} + interval '400 ms',
       {at} + interval '400 ms', {c.base["refund"]} + p.n
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, message_id, event, version) ON t.kind = p.kind"""
    ]


# Entries: (path, type, anchor).
ENTRIES = {
    1: [("REFUND_PENDING", "p.t_dec"), ("REFUND_SETTLED", "p.t_done")],
    2: [("REFUND_PENDING", "p.t_dec"), ("REFUND_SETTLED", "p.t_done")],
    3: [("REFUND_PENDING", "p.t_dec"), ("REFUND_REVERSED", "p.t_done")],
    4: [("REFUND_PENDING", "p.t_dec"), ("REFUND_SETTLED", "p.t_done")],
}
MEMO = {"REFUND_PENDING": "approved", "REFUND_SETTLED": "settled", "REFUND_REVERSED": "reversed"}


def insert_ledger(c: Ctx) -> list[str]:
    rows = [(k, j, e, a) for k, items in ENTRIES.items() for j, (e, a) in enumerate(items, start=1)]
    tpl = ", ".join(f"({k}, {j}, {q(e)})" for k, j, e, _ in rows)
    at = "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {a}" for k, j, _, a in rows) + " END)"
    memo = "(CASE t.entry_type " + " ".join(f"WHEN {q(e)} THEN {q(m)}" for e, m in MEMO.items()) + " END)"
    entries = f"""INSERT INTO ledger_journalentry (id, entry_type, currency, amount_minor, memo, created_at, refund_id,
  event_on, booked_on)
SELECT {c.base["journalentry"]} + p.b_entry + t.j, t.entry_type, p.currency, p.amount,
       'Refund ' || p.public_id || ' ' || {memo}, {at} + interval '15 ms', {c.base["refund"]} + p.n,
       ({at} AT TIME ZONE 'UTC')::date, ({at} AT TIME ZONE 'UTC')::date
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, entry_type) ON t.kind = p.kind"""
    tax = tax_sql()
    # Postings, in the app's order: pending = sales returns (net), tax payable, refunds payable (-amount);
    # settled = refunds payable, provider clearing; reversed = the pending entry's lines with signs flipped.
    lines = [
        # (entry type, k, account, amount expression)
        ("REFUND_PENDING", 1, "sales_returns", f"p.amount - {tax}"),
        ("REFUND_PENDING", 2, "tax_payable", tax),
        ("REFUND_PENDING", 3, "refunds_payable", "-p.amount"),
        ("REFUND_SETTLED", 1, "refunds_payable", "p.amount"),
        ("REFUND_SETTLED", 2, "provider_clearing", "-p.amount"),
        ("REFUND_REVERSED", 1, "sales_returns", f"-(p.amount - {tax})"),
        ("REFUND_REVERSED", 2, "tax_payable", f"-{tax}"),
        ("REFUND_REVERSED", 3, "refunds_payable", "p.amount"),
    ]
    ptpl = ", ".join(f"({q(e)}, {k}, {q(a)})" for e, k, a, _ in lines)
    amount = "(CASE " + " ".join(f"WHEN l.entry_type = {q(e)} AND l.k = {k} THEN {x}" for e, k, _, x in lines) + " END)"
    # The n-th posting of a refund: pending's lines first (1-3), then the second entry's (4-5 or 4-6).
    postings = f"""INSERT INTO ledger_posting (id, currency, amount_minor, account_id, entry_id, booked_on)
SELECT {c.base["posting"]} + p.b_posting + (CASE WHEN t.j = 1 THEN 0 ELSE 3 END) + l.k, p.currency, {amount},
       l.account, {c.base["journalentry"]} + p.b_entry + t.j, ({at} AT TIME ZONE 'UTC')::date
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, entry_type) ON t.kind = p.kind
JOIN (VALUES {ptpl}) AS l(entry_type, k, account) ON l.entry_type = t.entry_type"""
    return [entries, postings]


# Provider webhooks received: (path, j, type, object status, inbox status, note, anchor).
WEBHOOKS = {
    1: [("refund.created", "succeeded", "ignored", "succeeded -> refund completed (no change: late or repeated)",
         "p.t_done + interval '90 ms'")],
    2: [
        ("refund.created", "pending", "ignored", "pending -> refund provider_pending (no change: late or repeated)",
         "p.t_sub + interval '150 ms'"),
        ("refund.updated", "succeeded", "processed", "succeeded -> refund completed", "p.t_done - interval '15 ms'"),
    ],
    3: [
        ("refund.created", "failed", "ignored", "failed -> refund failed (no change: late or repeated)",
         "p.t_done + interval '100 ms'"),
        ("refund.failed", "failed", "ignored", "failed -> refund failed (no change: late or repeated)",
         "p.t_done + interval '150 ms'"),
    ],
    4: [("refund.created", "succeeded", "ignored", "succeeded -> refund completed (no change: late or repeated)",
         "p.t_done + interval '90 ms'")],
}  # fmt: skip


def _webhooks_rows() -> list[tuple]:
    return [(k, j, *item) for k, items in WEBHOOKS.items() for j, item in enumerate(items, start=1)]


def insert_webhooks(c: Ctx) -> list[str]:
    rows = _webhooks_rows()
    tpl = ", ".join(f"({k}, {j}, {q(t)}, {q(s)}, {q(st)}, {q(note)})" for k, j, t, s, st, note, _ in rows)
    at = "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {a}" for k, j, *_, a in rows) + " END)"
    evt = RID("evt_", "p.n * 4 + t.j")
    obj = (
        "jsonb_build_object('id', p.prid, 'amount', p.amount, 'charge', 'ch_' || substr(md5(p.payment_id), 1, 24), "
        "'object', 'refund', 'reason', NULL, 'status', t.obj_status, 'created', "
        "floor(extract(epoch FROM p.t_sub))::bigint, 'currency', lower(p.currency), 'metadata', "
        "jsonb_build_object('currency', lower(p.currency), 'refund_id', p.public_id), 'payment_intent', p.payment_id, "
        "'receipt_number', NULL, 'transfer_reversal', NULL, 'balance_transaction', " + RID("txn_", "p.n") + ", "
        "'source_transfer_reversal', NULL)"
        " || CASE WHEN t.obj_status = 'failed' THEN jsonb_build_object('failure_reason', 'expired_or_canceled_card', "
        "'failure_balance_transaction', " + RID("txn_f", "p.n") + ") ELSE '{}'::jsonb END"
    )
    data = (
        f"jsonb_build_object('object', {obj}) || CASE WHEN t.type = 'refund.updated' THEN "
        "jsonb_build_object('previous_attributes', jsonb_build_object('status', 'pending')) ELSE '{}'::jsonb END"
    )
    payload = (
        f"jsonb_build_object('id', {evt}, 'data', {data}, 'type', t.type, 'object', 'event', "
        f"'created', floor(extract(epoch FROM {at}))::bigint, 'request', jsonb_build_object('id', NULL, "
        "'idempotency_key', CASE WHEN t.type = 'refund.updated' THEN NULL ELSE p.public_id || '-1' END), "
        "'livemode', false, 'api_version', '2024-10-28.acacia', 'pending_webhooks', 1)"
    )
    return [
        f"""INSERT INTO refunds_webhookevent (id, event_id, event_type, provider_refund_id, payload, status, note,
  provider_created_at, received_at, replay_count, last_replayed_at, refund_id, provider, review_note, reviewed_at,
  reviewed_by_id)
SELECT {c.base["webhookevent"]} + p.b_whk + t.j, {evt}, t.type, p.prid, {payload}, t.inbox_status, t.note,
       date_trunc('second', {at}), {at}, 0, NULL, {c.base["refund"]} + p.n, 'stripe', '', NULL, NULL
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, type, obj_status, inbox_status, note) ON t.kind = p.kind""",
        # What the inbox's insert trigger (off for the load) would claim: the key of every event, in any month.
        f"""INSERT INTO refunds_webhookeventkey (provider, event_id)
SELECT 'stripe', {evt}
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, type, obj_status, inbox_status, note) ON t.kind = p.kind""",
    ]


# Merchant events: (path, type, state, version, anchor, decided, submitted, completed, ledger entries, provider id,
# approvals by, processor message).
PROC_DONE = "The provider completed the refund: the money is on its way to the customer."
PROC_PENDING = "The provider accepted the refund; it settles in a few days."
PROC_FAILED = "The provider could not complete the refund: expired_or_canceled_card."
EVENTS = {
    1: [
        ("refund.created", "requested", 2, "p.t0 + interval '45 ms'", False, False, False, (), False, None, None),
        ("refund.approved", "approved", 2, "p.t0 + interval '85 ms'", True, False, False, ("P",), False, None, None),
        ("refund.submitted", "submitting", 3, "p.t_sub + interval '30 ms'", True, True, False, ("P",), False, "system",
         None),
        ("refund.completed", "completed", 4, "p.t_done + interval '50 ms'", True, True, True, ("P", "S"), True,
         "system", PROC_DONE),
    ],
    2: [
        ("refund.created", "requested", 2, "p.t0 + interval '45 ms'", False, False, False, (), False, None, None),
        ("refund.approved", "approved", 2, "p.t0 + interval '85 ms'", True, False, False, ("P",), False, None, None),
        ("refund.submitted", "submitting", 3, "p.t_sub + interval '30 ms'", True, True, False, ("P",), False, "system",
         None),
        ("refund.updated", "provider_pending", 4, "p.t_sub + interval '110 ms'", True, True, False, ("P",), True,
         "system", PROC_PENDING),
        ("refund.completed", "completed", 5, "p.t_done + interval '50 ms'", True, True, True, ("P", "S"), True,
         "system", PROC_DONE),
    ],
    3: [
        ("refund.created", "requested", 2, "p.t0 + interval '45 ms'", False, False, False, (), False, None, None),
        ("refund.approved", "approved", 2, "p.t0 + interval '85 ms'", True, False, False, ("P",), False, None, None),
        ("refund.submitted", "submitting", 3, "p.t_sub + interval '30 ms'", True, True, False, ("P",), False, "system",
         None),
        ("refund.failed", "failed", 4, "p.t_done + interval '50 ms'", True, True, False, ("P", "R"), True, "system",
         PROC_FAILED),
    ],
    4: [
        ("refund.created", "requested", 1, "p.t0 + interval '45 ms'", False, False, False, (), False, None, None),
        ("refund.approved", "approved", 2, "p.t_dec + interval '60 ms'", True, False, False, ("P",), False, "reviewer",
         None),
        ("refund.submitted", "submitting", 3, "p.t_sub + interval '30 ms'", True, True, False, ("P",), False,
         "reviewer", None),
        ("refund.completed", "completed", 4, "p.t_done + interval '50 ms'", True, True, True, ("P", "S"), True,
         "reviewer", PROC_DONE),
    ],
    5: [
        ("refund.created", "requested", 1, "p.t0 + interval '45 ms'", False, False, False, (), False, None, None),
        ("refund.denied", "denied", 2, "p.t_dec + interval '60 ms'", True, False, False, (), False, None, None),
    ],
}  # fmt: skip
ENTRY_SNAPSHOT = {
    "P": ("REFUND_PENDING", "p.t_dec + interval '15 ms'"),
    "S": ("REFUND_SETTLED", "p.t_done + interval '15 ms'"),
    "R": ("REFUND_REVERSED", "p.t_done + interval '15 ms'"),
}


def _event_data(state, version, at, decided, submitted, completed, ledger, prid, approvals, message) -> str:
    entries = ", ".join(
        f"jsonb_build_object('type', {q(ENTRY_SNAPSHOT[e][0])}, 'currency', p.currency, 'created_at', "
        f"seed_ts({ENTRY_SNAPSHOT[e][1]}), 'amount_minor', p.amount)"
        for e in ledger
    )
    approval = {
        None: "'[]'::jsonb",
        "system": "jsonb_build_array(jsonb_build_object('at', seed_ts(p.t_dec + interval '90 ms'), 'by', 'system', "
        "'senior', false))",
        "reviewer": "jsonb_build_array(jsonb_build_object('at', seed_ts(p.t_dec), 'by', 'history-reviewer', "
        "'senior', false))",
    }[approvals]
    denied = state == "denied"
    failed = state == "failed"
    return (
        "jsonb_build_object("
        "'note', '', 'lines', '[]'::jsonb, 'state', " + q(state) + ", "
        "'policy', jsonb_build_object('rule', p.rule, 'outcome', p.outcome, 'version', 1, 'rule_text', p.rule_text, "
        "'recommendation', 'approve'), "
        "'reason', p.reason, 'version', " + str(version) + ", 'currency', p.currency, 'evidence', '[]'::jsonb, "
        "'metadata', '{}'::jsonb, 'order_id', p.order_id, 'approvals', " + approval + ", 'proration', NULL, "
        "'refund_id', p.public_id, 'created_at', seed_ts(p.t0), "
        "'decided_at', " + ("seed_ts(p.t_dec)" if decided else "NULL") + ", "
        "'instrument', 'original_payment', 'updated_at', seed_ts(" + at + " - interval '20 ms'), "
        "'amount_minor', p.amount, "
        "'completed_at', " + ("seed_ts(p.t_done)" if completed else "NULL") + ") || jsonb_build_object("
        "'failure_code', " + (q("expired_or_canceled_card") if failed else "''") + ", 'store_credit', NULL, "
        "'submitted_at', " + ("seed_ts(p.t_sub)" if submitted else "NULL") + ", 'correlation_id', p.corr, "
        "'decline_reason', " + (q(DENY_NOTE) if denied else "''") + ", "
        "'ledger_entries', jsonb_build_array("
        + entries
        + "), 'override_flagged', "
        + ("true" if denied else "false")
        + ", 'failure_retryable', false, 'processor_message', "
        + (q(message) if message else "NULL")
        + ", "
        "'approvals_required', 1, 'provider_refund_id', " + ("p.prid" if prid else "NULL") + ", "
        "'provider_payment_id', p.payment_id)"
    )


def insert_events(c: Ctx) -> list[str]:
    rows = [(k, j, item) for k, items in EVENTS.items() for j, item in enumerate(items, start=1)]
    tpl = ", ".join(f"({k}, {j}, {q(item[0])})" for k, j, item in rows)
    at = "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {item[3]}" for k, j, item in rows) + " END)"
    data = "(CASE " + " ".join(
        f"WHEN t.kind = {k} AND t.j = {j} THEN {_event_data(*item[1:])}" for k, j, item in rows
    ) + " END)"  # fmt: skip
    return [
        f"""INSERT INTO events_event (id, public_id, sequence, type, data, created_at, merchant_id, refund_id)
SELECT {c.base["event"]} + p.b_event + t.j, {RID("evt_", f"p.b_event + t.j + {c.base['event']}")},
       {c.base["event_sequence"]} + p.b_event + t.j, t.type, {data}, {at}, {c.merchant}, {c.base["refund"]} + p.n
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, type) ON t.kind = p.kind"""
    ]


# Audit events: (path, j, action, actor, anchor, before (state, version, prid) | None, after, note).
def _snap(state: str, version: int, prid: bool) -> tuple:
    return (state, version, prid)


N_APPROVED = ("notification.sent", "notifier", "p.t_dec + interval '300 ms'", None, "email:refund.approved", "")
AUDIT = {
    1: [
        ("refund.requested", "merchant", "p.t0", None, _snap("requested", 1, False), ""),
        ("refund.approved", "policy", "p.t0", _snap("requested", 1, False), _snap("approved", 2, False), "RULE"),
        ("refund.submitted", "outbox", "p.t_sub", _snap("approved", 2, False), _snap("submitting", 3, False), "IDEM"),
        ("refund.completed", "provider:api", "p.t_done", _snap("submitting", 3, False), _snap("completed", 4, True),
         "'api: provider refund ' || p.prid || ' succeeded'"),
        ("webhook.received", "webhook", "p.t_done + interval '90 ms'", None, None, "WHK1"),
        N_APPROVED,
        ("notification.sent", "notifier", "p.t_done + interval '400 ms'", None, "email:refund.completed", ""),
    ],
    2: [
        ("refund.requested", "merchant", "p.t0", None, _snap("requested", 1, False), ""),
        ("refund.approved", "policy", "p.t0", _snap("requested", 1, False), _snap("approved", 2, False), "RULE"),
        N_APPROVED,
        ("refund.submitted", "outbox", "p.t_sub", _snap("approved", 2, False), _snap("submitting", 3, False), "IDEM"),
        ("refund.provider_pending", "provider:api", "p.t_sub + interval '100 ms'", _snap("submitting", 3, False),
         _snap("provider_pending", 4, True), "'api: provider refund ' || p.prid || ' pending'"),
        ("webhook.received", "webhook", "p.t_sub + interval '150 ms'", None, None, "WHK1"),
        ("refund.completed", "provider:webhook", "p.t_done", _snap("provider_pending", 4, True),
         _snap("completed", 5, True), "'webhook: provider refund ' || p.prid || ' succeeded'"),
        ("webhook.received", "webhook", "p.t_done + interval '20 ms'", None, None, "WHK2"),
        ("notification.sent", "notifier", "p.t_done + interval '400 ms'", None, "email:refund.completed", ""),
    ],
    3: [
        ("refund.requested", "merchant", "p.t0", None, _snap("requested", 1, False), ""),
        ("refund.approved", "policy", "p.t0", _snap("requested", 1, False), _snap("approved", 2, False), "RULE"),
        ("refund.submitted", "outbox", "p.t_sub", _snap("approved", 2, False), _snap("submitting", 3, False), "IDEM"),
        N_APPROVED,
        ("refund.failed", "provider:api", "p.t_done", _snap("submitting", 3, False), _snap("failed", 4, True),
         "'api: provider refund ' || p.prid || ' failed, failure expired_or_canceled_card (retryable: False)'"),
        ("webhook.received", "webhook", "p.t_done + interval '100 ms'", None, None, "WHK1"),
        ("webhook.received", "webhook", "p.t_done + interval '150 ms'", None, None, "WHK2"),
        ("notification.sent", "notifier", "p.t_done + interval '600 ms'", None, "email:refund.failed", ""),
    ],
    4: [
        ("refund.requested", "merchant", "p.t0", None, _snap("requested", 1, False), ""),
        ("refund.approved", "reviewer", "p.t_dec", _snap("requested", 1, False), _snap("approved", 2, False),
         "'approved after review'"),
        ("notification.sent", "notifier", "p.t0 + interval '600 ms'", None, "email:refund.request.accepted", ""),
        ("refund.submitted", "outbox", "p.t_sub", _snap("approved", 2, False), _snap("submitting", 3, False), "IDEM"),
        ("refund.completed", "provider:api", "p.t_done", _snap("submitting", 3, False), _snap("completed", 4, True),
         "'api: provider refund ' || p.prid || ' succeeded'"),
        ("webhook.received", "webhook", "p.t_done + interval '90 ms'", None, None, "WHK1"),
        ("notification.sent", "notifier", "p.t_dec + interval '500 ms'", None, "email:refund.approved", ""),
        ("notification.sent", "notifier", "p.t_done + interval '400 ms'", None, "email:refund.completed", ""),
    ],
    5: [
        ("refund.requested", "merchant", "p.t0", None, _snap("requested", 1, False), ""),
        ("refund.denied", "reviewer", "p.t_dec", _snap("requested", 1, False), _snap("denied", 2, False),
         q(DENY_NOTE)),
        ("notification.sent", "notifier", "p.t0 + interval '600 ms'", None, "email:refund.request.accepted", ""),
        ("notification.sent", "notifier", "p.t_dec + interval '500 ms'", None, "email:refund.declined", ""),
    ],
}  # fmt: skip
STATE_ACTIONS = {
    "refund.requested", "refund.approved", "refund.submitted", "refund.completed", "refund.provider_pending",
    "refund.failed", "refund.denied",
}  # fmt: skip


def _audit_snapshot(snap: tuple | None) -> str:
    if snap is None:
        return "NULL"
    state, version, prid = snap
    obj = (
        f"jsonb_build_object('state', {q(state)}, 'reason', p.reason, 'version', {version}, 'currency', p.currency, "
        f"'draft_reply', {q(DRAFT)}, 'policy_rule', p.rule, 'amount_minor', p.amount, 'policy_outcome', p.outcome, "
        f"'approvals_required', 1, 'provider_refund_id', {'p.prid' if prid else 'NULL'})"
    )
    if state == "denied":
        obj += " || jsonb_build_object('rationale', 'not covered by goodwill')"
    return obj


def insert_audit(c: Ctx) -> list[str]:
    actors = {
        # (type, user, key, label)
        "merchant": ("'api_key'", str(c.merchant_user), str(c.merchant_key), q(c.merchant_label)),
        "reviewer": ("'api_key'", str(c.reviewer_user), str(c.reviewer_key), q(c.reviewer_label)),
    }
    rows = [(k, j, item) for k, items in AUDIT.items() for j, item in enumerate(items, start=1)]
    tpl = ", ".join(f"({k}, {j}, {q(item[0])}, {q(item[1])})" for k, j, item in rows)

    def arm(pick) -> str:
        return (
            "(CASE " + " ".join(f"WHEN t.kind = {k} AND t.j = {j} THEN {pick(item)}" for k, j, item in rows) + " END)"
        )

    def note(item) -> str:
        code = item[5]
        webhook_note = {
            # (path, which webhook) -> the inbox row's note
            (k, i): f"'{w[0]} ' || {RID('evt_', f'p.n * 4 + {i}')} || ': ' || {q(w[3])}"
            for k, i, *w in _webhooks_rows()
        }
        if code == "RULE":
            return "p.rule || ': ' || p.rule_text"
        if code == "IDEM":
            return "'idempotency key ' || p.public_id || '-1'"
        if code in ("WHK1", "WHK2"):
            return "(CASE p.kind " + " ".join(
                f"WHEN {k} THEN {v}" for (k, i), v in webhook_note.items() if i == int(code[-1])
            ) + " END)"  # fmt: skip
        if item[0] == "notification.sent":
            return f"{q(item[4].split(':', 1)[1] + ' (en)')}"
        return code or "''"

    def after(item) -> str:
        value = item[4]
        if isinstance(value, str) and value.startswith("email:"):
            return f"jsonb_build_object('channel', 'email', 'language', 'en', 'message_id', {q(value[6:])})"
        return _audit_snapshot(value)

    def actor_part(item, index: int) -> str:
        who = item[1]
        if who in actors:
            return actors[who][index]
        return ["'system'", "NULL", "NULL", q(who)][index]

    def correlation(item) -> str:
        if item[0] in ("refund.requested",) or (item[0] == "refund.approved" and item[1] == "policy"):
            return "p.corr"
        if item[1] == "reviewer":
            return "substr(md5('rev' || p.n), 1, 32)"
        if item[0] == "webhook.received":
            return f"substr(md5('whk' || p.n || {q(item[2])}), 1, 32)"
        return "''"

    cols = ("id, occurred_at, actor_type, actor_label, action, subject, amount_minor, currency, policy_rule, note, "
            "before, after, flagged, correlation_id, actor_api_key_id, actor_user_id, refund_id, channel")  # fmt: skip
    state_event = "t.action IN (" + ", ".join(q(a) for a in sorted(STATE_ACTIONS)) + ")"
    policy_rule = "CASE WHEN t.action IN ('refund.requested', 'refund.approved', 'refund.denied') THEN p.rule || ': ' || p.rule_text ELSE '' END"  # noqa: E501
    refund_events = f"""INSERT INTO audit_auditevent ({cols})
SELECT {c.base["auditevent"]} + p.b_audit_all + t.j + CASE WHEN p.first THEN 1 ELSE 0 END,
       {arm(lambda item: item[2])}, {arm(lambda item: actor_part(item, 0))}, {arm(lambda item: actor_part(item, 3))},
       t.action, p.public_id,
       CASE WHEN {state_event} THEN p.amount END, CASE WHEN {state_event} THEN p.currency ELSE '' END,
       {policy_rule}, {arm(note)}, {arm(lambda item: _audit_snapshot(item[3]))}, {arm(after)},
       t.action = 'refund.denied', {arm(correlation)},
       {arm(lambda item: actor_part(item, 2))}, {arm(lambda item: actor_part(item, 1))}, {c.base["refund"]} + p.n, ''
FROM seed_plan p JOIN (VALUES {tpl}) AS t(kind, j, action, actor) ON t.kind = p.kind"""
    order_created = f"""INSERT INTO audit_auditevent ({cols})
SELECT {c.base["auditevent"]} + p.b_audit_all + 1, p.t_order + interval '5 ms', 'api_key', {q(c.merchant_label)},
       'order.created', p.order_id, p.pay_amount, p.currency, '', '', NULL,
       jsonb_build_object('currency', p.currency, 'order_id', p.order_id, 'provider', 'stripe', 'payment_id',
         p.payment_id, 'amount_minor', p.pay_amount, 'payment_status', 'captured'),
       false, substr(md5('ord' || p.ord), 1, 32), {c.merchant_key}, {c.merchant_user}, NULL, ''
FROM seed_plan p WHERE p.first"""
    return [order_created, refund_events]


def insert_idempotency(c: Ctx) -> list[str]:
    since = c.now - timedelta(hours=IDEMPOTENCY_TTL_HOURS)
    body = (
        "jsonb_build_object('lines', '[]'::jsonb, 'state', CASE WHEN p.kind IN (4, 5) THEN 'requested' ELSE 'approved' "
        "END, 'currency', p.currency, 'proration', NULL, 'refund_id', p.public_id, 'instrument', 'original_payment', "
        "'message_id', 'refund.request.accepted', 'status_url', 'http://127.0.0.1:8000/r/' || "
        "substr(md5('url' || p.n) || md5('url2' || p.n), 1, 43) || '/', 'policy_rule', p.rule, 'amount_minor', "
        "p.amount, 'policy_outcome', p.outcome, 'remaining_refundable_minor', p.pay_amount - p.amount)"
    )
    return [
        f"""INSERT INTO api_idempotencyrecord (id, key, fingerprint, response_status, response_body, created_at,
  api_key_id)
SELECT {c.base["idempotencyrecord"]} + row_number() OVER (ORDER BY p.n), 'hk-' || p.n,
       encode(sha256(('fp' || p.n)::bytea), 'hex'), 202, {body}, p.t0 - interval '50 ms', {c.merchant_key}
FROM seed_plan p WHERE p.t0 >= {q(since.isoformat())}"""
    ]


# --- schema: drop keys and indexes for the load, rebuild and validate after ---------------------------


def schema_snapshot(conn: psycopg.Connection) -> dict:
    tables = SEEDED
    cons = conn.execute(
        "SELECT conname, conrelid::regclass::text, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        # conparentid = 0: a partition's copy of its table's key goes with the table's own.
        "WHERE contype IN ('p', 'u', 'f', 'x') AND conparentid = 0 AND (conrelid::regclass::text = ANY(%s) OR "
        "(contype = 'f' AND confrelid::regclass::text = ANY(%s))) ORDER BY 1, 2",
        (tables, tables),
    ).fetchall()
    constraint_indexes = {
        row[0]
        for row in conn.execute(
            "SELECT conindid::regclass::text FROM pg_constraint WHERE conindid <> 0 AND contype IN ('p', 'u', 'x')"
        ).fetchall()
    }
    indexes = [
        (name, table, definition)
        for name, table, definition in conn.execute(
            "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY(%s) ORDER BY 1",
            (tables,),
        ).fetchall()
        if name not in constraint_indexes
    ]
    return {"constraints": [list(row) for row in cons], "indexes": [list(row) for row in indexes]}


def drop_for_load(conn: psycopg.Connection, snap: dict) -> None:
    for name, table, kind, _ in snap["constraints"]:
        if kind == "f":
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _, _ in snap["indexes"]:
        conn.execute(f'DROP INDEX "{name}"')
    for name, table, kind, _ in snap["constraints"]:
        if kind != "f":
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def rebuild_statements(
    snap: dict, partitioned: frozenset[str] = frozenset()
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Keys, indexes, and (add, validate) per foreign key, as `snap` had them.

    On a partitioned table a key or an index made on the table is made on every partition
    (the catalog shows a partitioned index as `ON ONLY`: without ONLY it cascades), and a
    foreign key cannot be added NOT VALID (PostgreSQL 15): it is checked as it is added.
    """
    keys = [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for n, t, k, d in snap["constraints"] if k != "f"]
    indexes = [d.replace(f" ON ONLY public.{t} ", f" ON public.{t} ", 1) for _, t, d in snap["indexes"]]
    fks = [(f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}', "SELECT 1") if t in partitioned else
           (f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d} NOT VALID', f'ALTER TABLE {t} VALIDATE CONSTRAINT "{n}"')
           for n, t, k, d in snap["constraints"] if k == "f"]  # fmt: skip
    return keys, indexes, fks


def partition_history(start: datetime) -> dict[str, int]:
    """One partition per month of the history, as in an installation partitioned from its first day.

    A new database's partitioned tables hold everything before this month in one
    `<table>_before_<month>` partition (what converting an existing table in place leaves,
    core.partitions): here it is empty, so it is dropped and the months from `start` (one
    earlier: an order precedes its refund) up to this month get partitions of their own.
    Returns the number of partitions per table, the default one included.
    """
    from django.db import connection

    from core.partitions import _bound, add_months, month_start, partition_name, partitioned_tables, partitions_of

    counts = {}
    with connection.cursor() as cursor:
        for table, _, key_type in partitioned_tables(connection):
            first = None
            for name in partitions_of(cursor, table):
                if name.startswith(f"{table}_before_"):
                    cursor.execute(f'SELECT count(*) FROM "{name}"')
                    if cursor.fetchone()[0]:
                        raise RuntimeError(f"{name} is not empty: the seed needs a new database")
                    cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
                    cursor.execute(f'DROP TABLE "{name}"')
                    year, month = name.rsplit("_", 2)[-2:]
                    first = date(int(year), int(month), 1)
            if first is None:
                raise RuntimeError(f"{table} has no before_ partition: not a new database")
            month = add_months(month_start(start.date()), -1)
            while month < first:
                cursor.execute(
                    f'CREATE TABLE "{partition_name(table, month)}" PARTITION OF "{table}" '
                    f"FOR VALUES FROM ({_bound(month, key_type)}) TO ({_bound(add_months(month, 1), key_type)})"
                )
                month = add_months(month, 1)
            counts[table] = len(partitions_of(cursor, table))
    return counts


# --- running statements on two connections ---------------------------------------------------------------


def connect(db: str) -> psycopg.Connection:
    conn = psycopg.connect(f"{PG}/{db}", autocommit=True)
    conn.execute("SET session_replication_role = replica")  # the load's rows are generated consistent
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '512MB'")
    conn.execute("SET work_mem = '64MB'")
    conn.execute("SET TimeZone = 'UTC'")
    # The generated statements are long expressions over millions of rows: JIT would spend longer
    # compiling them than running them (measured: 40 s of JIT for a 1 s query).
    conn.execute("SET jit = off")
    return conn


def run_lanes(db: str, lanes: list[list[tuple[str, str]]], timings: dict[str, float]) -> None:
    """Each lane's (label, sql) in order on a connection of its own; the lanes side by side."""
    errors: list[BaseException] = []

    def lane(items: list[tuple[str, str]]) -> None:
        try:
            with connect(db) as conn:
                for label, sql in items:
                    started = time.perf_counter()
                    conn.execute(sql)
                    timings[label] = round(timings.get(label, 0.0) + time.perf_counter() - started, 2)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=lane, args=(items,)) for items in lanes if items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def balance(items: list[tuple[str, str, float]], lanes: int = 2) -> list[list[tuple[str, str]]]:
    """Greedy split of (label, sql, weight) into `lanes` lanes of similar weight, order kept within each."""
    out: list[list[tuple[str, str]]] = [[] for _ in range(lanes)]
    load = [0.0] * lanes
    for label, sql, weight in sorted(items, key=lambda item: -item[2]):
        k = load.index(min(load))
        out[k].append((label, sql))
        load[k] += weight
    return out


# --- the audit chain ---------------------------------------------------------------------------------------

_PREV = "<<seed-prev-hash-" + "0" * 47 + ">>"
_SEQ = "<<seed-seq>>"
_COLUMNS = (
    "id, occurred_at, actor_type, actor_user_id, actor_api_key_id, actor_label, channel, action, refund_id, "
    "subject, amount_minor, currency, policy_rule, note, before::text, after::text, flagged, correlation_id"
)
_TYPES = ["int8", "timestamptz", "text", "int4", "int8", "text", "text", "text", "int8", "text", "int8", "text",
          "text", "text", "text", "text", "bool", "text"]  # fmt: skip
_worker_conn: psycopg.Connection | None = None


class _Event:
    """What audit.services._canonical reads of an AuditEvent, without the ORM."""

    __slots__ = (
        "action",
        "actor_api_key_id",
        "actor_label",
        "actor_type",
        "actor_user_id",
        "after",
        "amount_minor",
        "before",
        "channel",
        "correlation_id",
        "currency",
        "flagged",
        "note",
        "occurred_at",
        "pk",
        "policy_rule",
        "refund_id",
        "subject",
    )  # fmt: skip


def _canonical_parts(job: tuple[str, int, int]) -> list[tuple[int, bytes, bytes, bytes]]:
    """The events with lo < id <= hi in id order, each as its canonical JSON cut where seq and prev_hash go.

    The app's own `audit.services._canonical` writes it (exact by construction), with placeholders for the
    two values only the chain's walk knows; the caller splices them in and hashes.
    """
    global _worker_conn
    from audit.services import _canonical

    db, lo, hi = job
    if _worker_conn is None:
        _worker_conn = psycopg.connect(f"{PG}/{db}", autocommit=True)
        _worker_conn.execute("SET TimeZone = 'UTC'")
        # A range of a few thousand rows by primary key: parallel workers would only cost their start-up.
        _worker_conn.execute("SET max_parallel_workers_per_gather = 0")
        _worker_conn.execute("SET jit = off")
    prev, seq = _PREV.encode(), json.dumps(_SEQ).encode()
    out = []
    with (
        _worker_conn.cursor() as cur,
        cur.copy(
            f"COPY (SELECT {_COLUMNS} FROM audit_auditevent WHERE id > {int(lo)} AND id <= {int(hi)} ORDER BY id) "
            "TO STDOUT"
        ) as copy,
    ):
        copy.set_types(_TYPES)
        for row in copy.rows():
            event = _Event()
            (event.pk, event.occurred_at, event.actor_type, event.actor_user_id, event.actor_api_key_id,
             event.actor_label, event.channel, event.action, event.refund_id, event.subject, event.amount_minor,
             event.currency, event.policy_rule, event.note, before, after, event.flagged,
             event.correlation_id) = row  # fmt: skip
            event.before = json.loads(before) if before is not None else None
            event.after = json.loads(after) if after is not None else None
            text = _canonical(event, seq=_SEQ, prev_hash=_PREV)  # type: ignore[arg-type]
            head, sep, rest = text.partition(prev)
            middle, sep2, tail = rest.partition(seq)
            if not sep or not sep2 or prev in tail or seq in tail:
                raise RuntimeError(f"event {event.pk}: a placeholder is not once in its canonical form")
            out.append((event.pk, head, middle, tail))
    return out


def seal_chain(db: str, jobs: int, chunk: int = 20000) -> dict:
    """Seal every event in id order into an empty chain (a fresh database: nothing sealed yet).

    Worker processes read id ranges (the primary key is rebuilt by now) and build the canonical
    forms; this process walks them in order, hashes each link and COPYs the seals in.
    """
    started = time.perf_counter()
    writer = connect(db)
    head_seq, prev = writer.execute("SELECT seq, hash FROM audit_auditchainhead WHERE id = 1").fetchone()
    if head_seq or writer.execute("SELECT EXISTS (SELECT 1 FROM audit_auditseal)").fetchone()[0]:
        raise RuntimeError("the chain is not empty: seed a fresh database")
    lo, hi = writer.execute("SELECT coalesce(min(id), 1) - 1, coalesce(max(id), 0) FROM audit_auditevent").fetchone()
    ranges = [(db, a, min(a + chunk, hi)) for a in range(lo, hi, chunk)]
    sealed_at = datetime.now(UTC)
    seq = 0
    pool = multiprocessing.get_context("fork").Pool(jobs) if jobs > 1 else None
    try:
        results = pool.imap(_canonical_parts, ranges) if pool else map(_canonical_parts, ranges)
        with (
            writer.cursor() as cur,
            cur.copy("COPY audit_auditseal (seq, event_id, prev_hash, hash, sealed_at) FROM STDIN") as copy,
        ):
            for parts in results:
                for event_id, head, middle, tail in parts:
                    seq += 1
                    digest = hashlib.sha256(head + prev.encode() + middle + str(seq).encode() + tail).hexdigest()
                    copy.write_row((seq, event_id, prev, digest, sealed_at))
                    prev = digest
    finally:
        if pool:
            pool.close()
            pool.join()
    writer.execute("UPDATE audit_auditchainhead SET seq = %s, hash = %s WHERE id = 1", (seq, prev))
    # Events the app wrote before the load (the API keys' creation) were queued by the trigger: sealed now.
    writer.execute("DELETE FROM audit_auditpending")
    writer.close()
    return {"sealed": seq, "head_seq": seq, "seconds": round(time.perf_counter() - started, 1)}


# --- checks -----------------------------------------------------------------------------------------------

CHECKS = {
    "entries_unbalanced": "SELECT count(*) FROM (SELECT entry_id FROM ledger_posting GROUP BY entry_id "
    "HAVING sum(amount_minor) <> 0) x",
    "entries_amount_mismatch": "SELECT count(*) FROM ledger_journalentry e JOIN (SELECT entry_id, "
    "sum(amount_minor) FILTER (WHERE amount_minor > 0) AS debit FROM ledger_posting GROUP BY entry_id) p "
    "ON p.entry_id = e.id WHERE p.debit <> e.amount_minor",
    "entries_without_postings": "SELECT count(*) FROM ledger_journalentry e WHERE NOT EXISTS "
    "(SELECT 1 FROM ledger_posting p WHERE p.entry_id = e.id)",
    "trial_balance_nonzero_currencies": "SELECT count(*) FROM (SELECT currency FROM ledger_posting GROUP BY currency "
    "HAVING sum(amount_minor) <> 0) x",
    "payments_over_refunded": "SELECT count(*) FROM refunds_payment WHERE refund_reserved_minor > amount_minor",
    "payments_reserved_mismatch": "SELECT count(*) FROM refunds_payment p LEFT JOIN (SELECT payment_id, "
    "sum(amount_minor) AS active FROM refunds_refund WHERE state IN ('requested', 'approved', 'submitting', "
    "'provider_pending', 'completed') GROUP BY payment_id) r ON r.payment_id = p.id "
    "WHERE p.refund_reserved_minor <> coalesce(r.active, 0)",
    "chain_gaps": "SELECT (SELECT count(*) FROM audit_auditseal) - (SELECT coalesce(max(seq), 0) FROM audit_auditseal)",
    "chain_head_mismatch": "SELECT count(*) FROM audit_auditchainhead h WHERE h.seq <> (SELECT coalesce(max(seq), 0) "
    "FROM audit_auditseal) OR h.hash <> coalesce((SELECT hash FROM audit_auditseal ORDER BY seq DESC LIMIT 1), h.hash)",
    "chain_links_broken": "SELECT count(*) FROM audit_auditseal s JOIN audit_auditseal prev ON prev.seq = s.seq - 1 "
    "WHERE s.prev_hash <> prev.hash",
    "events_unsealed": "SELECT count(*) FROM audit_auditevent e WHERE NOT EXISTS (SELECT 1 FROM audit_auditseal s "
    "WHERE s.event_id = e.id) AND NOT EXISTS (SELECT 1 FROM audit_auditpending q WHERE q.event_id = e.id)",
    "event_sequence_behind": "SELECT count(*) FROM events_eventsequence s WHERE s.last < "
    "(SELECT coalesce(max(sequence), 0) FROM events_event e WHERE e.merchant_id = s.merchant_id)",
    "completed_without_settlement": "SELECT count(*) FROM refunds_refund r WHERE r.state = 'completed' AND NOT EXISTS "
    "(SELECT 1 FROM ledger_journalentry e WHERE e.refund_id = r.id AND e.entry_type = 'REFUND_SETTLED')",
}


def run_checks(db: str) -> dict[str, int]:
    with psycopg.connect(f"{PG}/{db}", autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET jit = off")
        return {name: conn.execute(sql).fetchone()[0] for name, sql in CHECKS.items()}


# --- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refunds", type=int, required=True)
    parser.add_argument("--db", required=True, help="the database to (re)create and fill")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2, help="processes building the audit chain's canonical JSON")
    parser.add_argument("--lanes", type=int, default=2, help="connections loading tables side by side")
    parser.add_argument("--verify", action="store_true", help="also manage.py verify_audit (the app's full walk)")
    parser.add_argument("--no-vacuum", action="store_true")
    args = parser.parse_args()
    n = args.refunds
    timings: dict[str, float] = {}
    wall = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    env = bench_env(args.db, DEBUG="0")
    # Django in this process too: the chain is sealed by the app's own hashing code.
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    started = time.perf_counter()
    recreate_database(args.db, env)
    for username, scopes, extra in (
        ("history-merchant", "orders:write,refunds:create,refunds:read", ()),
        ("history-reviewer", "refunds:decide,refunds:read", ("--role", "senior_agent")),
    ):
        manage(env, "create_api_key", username, "--scopes", scopes, *extra)
    timings["create_database"] = round(time.perf_counter() - started, 1)

    now = datetime.now(UTC).replace(microsecond=0)
    end = now - timedelta(hours=1)
    start = end - timedelta(days=round(args.months * 365.25 / 12))
    started = time.perf_counter()
    partitions = partition_history(start)
    timings["partitions"] = round(time.perf_counter() - started, 1)
    with connect(args.db) as conn:
        ids = {}
        for who in ("merchant", "reviewer"):
            user, key, prefix = conn.execute(
                "SELECT u.id, k.id, k.prefix FROM auth_user u JOIN refunds_apikey k ON k.user_id = u.id "
                "WHERE u.username = %s",
                (f"history-{who}",),
            ).fetchone()
            ids.update({f"{who}_user": user, f"{who}_key": key, f"{who}_label": f"history-{who} (key {prefix})"})
        ids["merchant"] = conn.execute("SELECT id FROM refunds_merchant ORDER BY id LIMIT 1").fetchone()[0]
        ids["policy"] = conn.execute(
            "SELECT id FROM refunds_refundpolicy WHERE status = 'approved' ORDER BY version DESC LIMIT 1"
        ).fetchone()[0]
        base = {}
        for name, table, col in (
            ("customer", "refunds_customer", "id"), ("order", "refunds_order", "id"),
            ("orderline", "refunds_orderline", "id"), ("historicalorder", "refunds_historicalorder", "history_id"),
            ("payment", "refunds_payment", "id"), ("refund", "refunds_refund", "id"),
            ("historicalrefund", "refunds_historicalrefund", "history_id"), ("decision", "refunds_decision", "id"),
            ("outboxmessage", "refunds_outboxmessage", "id"), ("webhookevent", "refunds_webhookevent", "id"),
            ("journalentry", "ledger_journalentry", "id"), ("posting", "ledger_posting", "id"),
            ("auditevent", "audit_auditevent", "id"), ("event", "events_event", "id"),
            ("event_sequence", "events_event", "sequence"),
            ("customeremail", "notifications_customeremail", "id"),
            ("idempotencyrecord", "api_idempotencyrecord", "id"),
        ):  # fmt: skip
            base[name] = conn.execute(f"SELECT coalesce(max({col}), 0) FROM {table}").fetchone()[0]
        c = Ctx(ids, base, now)

        started = time.perf_counter()
        conn.execute(FUNCTIONS)
        conn.execute(plan_sql(n, start, end))
        timings["plan"] = round(time.perf_counter() - started, 1)

        before = schema_snapshot(conn)
        started = time.perf_counter()
        drop_for_load(conn, before)
        timings["drop_keys_and_indexes"] = round(time.perf_counter() - started, 1)

    # Weights: roughly the bytes each statement writes per refund.
    work = [
        *((f"orders.{i}", sql, 0.3) for i, sql in enumerate(insert_orders(c))),
        ("refunds", insert_refunds(c)[0], 1.2),
        ("historical_refunds", insert_history(c)[0], 3.0),
        ("decisions", insert_decisions(c)[0], 0.4),
        ("outbox", insert_outbox(c)[0], 0.4),
        ("emails", insert_emails(c)[0], 0.6),
        ("journal_entries", insert_ledger(c)[0], 0.6),
        ("postings", insert_ledger(c)[1], 0.8),
        ("provider_webhooks", insert_webhooks(c)[0], 2.0),
        ("provider_webhook_keys", insert_webhooks(c)[1], 0.2),
        ("merchant_events", insert_events(c)[0], 6.0),
        ("audit_order_created", insert_audit(c)[0], 0.8),
        ("audit_events", insert_audit(c)[1], 6.0),
        ("idempotency_records", insert_idempotency(c)[0], 0.1),
    ]
    started = time.perf_counter()
    run_lanes(args.db, balance(work, args.lanes), timings)
    timings["load_total"] = round(time.perf_counter() - started, 1)

    # Keys and indexes back, the seals' last: the chain is sealed in between, reading events by primary key.
    seals = {"constraints": [x for x in before["constraints"] if x[1] == "audit_auditseal" and x[2] != "f"],
             "indexes": [x for x in before["indexes"] if x[1] == "audit_auditseal"]}  # fmt: skip
    rest = {"constraints": [x for x in before["constraints"] if x not in seals["constraints"]],
            "indexes": [x for x in before["indexes"] if x not in seals["indexes"]]}  # fmt: skip
    keys, indexes, fks = rebuild_statements(rest, frozenset(partitions))
    started = time.perf_counter()
    run_lanes(args.db, balance([(f"key.{i}", s, 1.0) for i, s in enumerate(keys)], args.lanes), {})
    run_lanes(args.db, balance([(f"index.{i}", s, 1.0) for i, s in enumerate(indexes)], args.lanes), {})
    timings["rebuild_keys_and_indexes"] = round(time.perf_counter() - started, 1)

    chain = seal_chain(args.db, args.jobs)
    timings["seal_chain"] = chain["seconds"]
    seal_keys, seal_indexes, _ = rebuild_statements(seals)
    started = time.perf_counter()
    run_lanes(args.db, balance([(f"seal.{i}", s, 1.0) for i, s in enumerate([*seal_keys, *seal_indexes])],
                               args.lanes), {})  # fmt: skip
    timings["rebuild_keys_and_indexes"] += round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    # NOT VALID first, one by one (instant; ADD takes locks on both tables), then the checks side by side
    # (VALIDATE locks only the referencing table against itself).
    run_lanes(args.db, [[(f"fk.{i}", add) for i, (add, _) in enumerate(fks)]], {})
    run_lanes(args.db, balance([(f"validate.{i}", check, 1.0) for i, (_, check) in enumerate(fks)], args.lanes), {})
    timings["validate_foreign_keys"] = round(time.perf_counter() - started, 1)

    with connect(args.db) as conn:
        after = schema_snapshot(conn)
        if after != before:
            raise RuntimeError(f"schema differs after the rebuild:\nbefore {before}\nafter {after}")
        for table, column in (
            ("refunds_customer", "id"), ("refunds_order", "id"), ("refunds_orderline", "id"),
            ("refunds_historicalorder", "history_id"), ("refunds_payment", "id"), ("refunds_refund", "id"),
            ("refunds_historicalrefund", "history_id"), ("refunds_decision", "id"), ("refunds_outboxmessage", "id"),
            ("refunds_webhookevent", "id"), ("ledger_journalentry", "id"), ("ledger_posting", "id"),
            ("audit_auditevent", "id"), ("events_event", "id"), ("notifications_customeremail", "id"),
            ("api_idempotencyrecord", "id"),
        ):  # fmt: skip
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), (SELECT max({column}) FROM {table}))"
            )
        conn.execute(
            "INSERT INTO events_eventsequence (merchant_id, last) SELECT merchant_id, max(sequence) FROM events_event "
            "GROUP BY merchant_id ON CONFLICT (merchant_id) DO UPDATE SET last = EXCLUDED.last"
        )
        # The months of the history: all closed but the last two (a month-end close has not happened yet).
        conn.execute(
            "INSERT INTO ledger_accountingperiod (month, state, closed_at, close_note, closed_by_id) "
            "SELECT m::date, "
            "CASE WHEN m < date_trunc('month', now()) - interval '1 month' THEN 'closed' ELSE 'open' END,"
            " CASE WHEN m < date_trunc('month', now()) - interval '1 month' THEN m + interval '1 month 5 days' END,"
            " CASE WHEN m < date_trunc('month', now()) - interval '1 month' THEN 'closed by seed_history' ELSE '' END,"
            " NULL FROM generate_series(date_trunc('month', %s::timestamptz), date_trunc('month', now()),"
            " interval '1 month') AS m ON CONFLICT (month) DO NOTHING",
            (start,),
        )
        conn.execute("DROP TABLE seed_plan")
        conn.execute("DROP FUNCTION seed_ts(timestamptz)")

    if not args.no_vacuum:
        started = time.perf_counter()
        with psycopg.connect(f"{PG}/{args.db}", autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("VACUUM (ANALYZE)")
        timings["vacuum_analyze"] = round(time.perf_counter() - started, 1)
    else:
        with psycopg.connect(f"{PG}/{args.db}", autocommit=True) as conn:
            conn.execute("ANALYZE")

    started = time.perf_counter()
    checks = run_checks(args.db)
    with psycopg.connect(f"{PG}/{args.db}") as conn:
        # Every seeded month has its partition: nothing may land in a default one.
        checks["rows_in_default_partitions"] = sum(
            conn.execute(f'SELECT count(*) FROM "{table}_default"').fetchone()[0] for table in partitions
        )
    timings["checks"] = round(time.perf_counter() - started, 1)
    verify = None
    if args.verify:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        verify = {"ok": result.returncode == 0, "output": (result.stdout + result.stderr).strip()[-500:]}
        timings["verify_audit"] = round(time.perf_counter() - started, 1)
    total_s = time.perf_counter() - wall

    with psycopg.connect(f"{PG}/{args.db}") as conn:
        # A partitioned table's figures are its partitions' sums.
        sizes = conn.execute(
            "SELECT t, sum(s.n_live_tup)::bigint, sum(pg_total_relation_size(pt.relid))::bigint "
            # pg_partition_tree gives nothing for a table that is not partitioned: the table itself.
            "FROM unnest(%s::text[]) AS t CROSS JOIN LATERAL "
            "(SELECT relid FROM pg_partition_tree(t::regclass) UNION SELECT t::regclass) AS pt "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = pt.relid GROUP BY t ORDER BY 3 DESC",
            (SEEDED,),
        ).fetchall()
        db_bytes = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    rows = {name: count for name, count, _ in sizes}
    total_rows = sum(rows.values())
    load_s = timings["load_total"] + timings["seal_chain"] + timings["rebuild_keys_and_indexes"] + timings[
        "validate_foreign_keys"]  # fmt: skip
    results = {
        "refunds": n,
        "database": args.db,
        "months": args.months,
        "history": [start.isoformat(), end.isoformat()],
        "git": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": load_at_start,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "partitions": partitions,
        "rows": rows,
        "rows_total": total_rows,
        "table_mb": {name: round(size / 2**20, 1) for name, _, size in sizes},
        "database_mb": round(db_bytes / 2**20, 1),
        "bytes_per_refund": round(db_bytes / n),
        "seconds": timings,
        "total_s": round(total_s, 1),
        "rows_per_s_load_seal_index": round(total_rows / load_s) if load_s else None,
        "rows_per_s_overall": round(total_rows / total_s),
        "refunds_per_s_overall": round(n / total_s),
        "chain": chain,
        "checks": checks,
        "checks_ok": all(v == 0 for v in checks.values()),
        "verify_audit": verify,
    }
    path = write_results(f"seed_history-{n}", results)
    print(json.dumps({k: results[k] for k in ("rows_total", "database_mb", "seconds", "total_s", "checks_ok",
                                              "verify_audit")}, indent=2))  # fmt: skip
    print(f"written to {path}")
    if not results["checks_ok"] or (verify and not verify["ok"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
