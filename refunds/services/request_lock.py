"""What a refund create reads under its payment's lock: one statement on PostgreSQL (issue 17).

`refund_request` needs, with the payment's row lock held: the payment, its
order and customer, the policy in force, how many refunds the customer
asked for in the last 24 hours (the velocity rule), whether auto-approval
is paused for the payment's provider (the kill switch, read under its
shared lock: refunds.services.pauses), for a refund by amount the order's
lines (the ledger splits the amount over them), and the new refund's id. On PostgreSQL that
is the SELECT … FOR UPDATE OF the payment, with the rest in its target
list; on SQLite (the embedded demo, one writer at a time) the same reads
one after the other.

Why the reads that must be current are functions (refunds/0031) and not
subqueries: a statement reads one snapshot, taken when it starts, before it
waits for the payment's lock. A create that waited for another create of
the same payment would then count the customer's refunds without the one
that just committed. A VOLATILE function takes a snapshot per query, and
PostgreSQL evaluates the target list again, with the row's new version,
once a lock on a row another transaction updated is granted (every create,
cancel and order push updates the payment it locked): so the count, the
lines and the switch are read as a statement after the lock would read
them. The policy in force is a plain subquery: the one in force when the
request began is the right one either way.

The policy row is not read each time: versions are never edited in place
(the admin writes a new draft, `policy_admin`), so the row is kept per
process by id — keyed by its row version (`xmin`, `ctid`) too, so that even
an edit behind the application's back (raw SQL, a test) is read afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, Func, IntegerField, JSONField, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.fields import CharField

from refunds.enums import PauseKind, PolicyStatus
from refunds.models import OrderLine, Payment, RefundPolicy
from refunds.services.pause_reads import pause_in_force, pause_in_force_expression
from refunds.services.policy import customer_refund_count_24h, policy_get_active

# The policy in force at %s: the approved version that activated last (ties: the higher version), as
# `policy_get_active` picks it.
_ACTIVE_POLICY = (
    "SELECT {columns} FROM refunds_refundpolicy AS p WHERE p.status = %s AND p.activates_at <= %s"
    " ORDER BY p.activates_at DESC, p.version DESC LIMIT 1"
)
# A row version: the transaction that wrote it and where. Each UPDATE writes a new version: another
# transaction's has another xmin; the same transaction's (a test editing a policy twice) another ctid.
_ROW_VERSION = "p.xmin::text || '/' || p.ctid::text"
_POLICY_CACHE: dict[tuple[int, str], RefundPolicy] = {}
_POLICY_CACHE_MAX = 64


@dataclass(frozen=True)
class LockedPayment:
    """The locked payment (its order and customer joined) and what the create read with it."""

    payment: Payment
    policy: RefundPolicy
    customer_refunds_24h: int
    # The auto-approval pause in force for the payment's provider (its id), None if none; on SQLite
    # read only when asked (`auto_approval_pause_id`).
    pause_id: int | None
    pause_read: bool
    # The new refund's id, taken from its sequence in the same statement (PostgreSQL; None on SQLite): its
    # rows — history, decision, ledger, audit, events — are written with it in one batch (core.write_batch).
    refund_id: int | None = None


def payment_lock_for_request(*, payments: QuerySet[Payment], now: datetime, by_amount: bool) -> LockedPayment | None:
    """Lock the one payment of `payments` (FOR UPDATE OF the payment) and read what a create needs; None if none.

    `by_amount`: the order's lines are read too, into `order.lines`' cache
    (a refund by amount or for time not used splits over them; a refund by
    line reads its lines itself, with what active refunds hold of them).
    """
    locked = payments.select_for_update(of=("self",)).select_related("order__customer")
    if connection.vendor != "postgresql":
        payment = locked.first()
        if payment is None:
            return None
        policy = policy_get_active(now=now)
        count = customer_refund_count_24h(customer_id=payment.order.customer_id, now=now)
        return LockedPayment(payment, policy, count, None, False)
    params = [PolicyStatus.APPROVED, now]
    annotations = {
        # id and row version of the policy in force (NULL before the first policy exists).
        "policy_key": RawSQL(  # noqa: S611 - constant SQL, values are parameters
            "(" + _ACTIVE_POLICY.format(columns=f"concat_ws(' ', p.id, {_ROW_VERSION})") + ")",
            params,
            output_field=CharField(),
        ),
        "recent_refunds": Func(
            F("order__customer_id"),
            Value(now - timedelta(hours=24)),
            RawSQL("(" + _ACTIVE_POLICY.format(columns="p.velocity_max_per_24h") + ")", params),  # noqa: S611
            function="refunds_customer_refunds_since",
            output_field=IntegerField(),
        ),
        "auto_approval_pause_id": pause_in_force_expression(PauseKind.AUTO_APPROVAL, F("provider")),
        "refund_id": RawSQL("nextval(pg_get_serial_sequence('refunds_refund', 'id'))", []),
    }
    if by_amount:
        annotations["order_lines"] = Func(F("order_id"), function="refunds_order_lines", output_field=JSONField())
    payment = locked.annotate(**annotations).first()
    if payment is None:
        return None
    if by_amount:
        _order_lines_remember(payment, payment.order_lines)
    policy = _policy_cached(payment.policy_key) if payment.policy_key else policy_get_active(now=now)
    return LockedPayment(
        payment, policy, payment.recent_refunds, payment.auto_approval_pause_id, True, refund_id=payment.refund_id
    )


def auto_approval_pause_id(locked: LockedPayment) -> int | None:
    """The auto-approval pause the create falls under: read with the lock on PostgreSQL, now on SQLite."""
    if locked.pause_read:
        return locked.pause_id
    pause = pause_in_force(PauseKind.AUTO_APPROVAL, locked.payment.provider, serialise=True)
    return None if pause is None else pause.pk


def _policy_cached(key: str) -> RefundPolicy:
    """The policy version `key` ("id row-version") names, from this process's cache or read once."""
    policy_id, row_version = key.split(" ")
    policy = _POLICY_CACHE.get((int(policy_id), row_version))
    if policy is not None:
        return policy
    row = RawSQL(_ROW_VERSION.replace("p.", "refunds_refundpolicy."), [])  # noqa: S611 - constant SQL
    policy = RefundPolicy.objects.annotate(row_version=row).get(pk=policy_id)
    if len(_POLICY_CACHE) >= _POLICY_CACHE_MAX:
        _POLICY_CACHE.clear()  # a few versions a year: only a process living through many edits gets here
    _POLICY_CACHE[(policy.pk, policy.row_version)] = policy
    return policy


def _order_lines_remember(payment: Payment, rows: list[dict]) -> None:
    """Put the order's lines (as `refunds_order_lines` returned them) in `order.lines`' cache."""
    fields = list(OrderLine._meta.concrete_fields)
    names = [field.attname for field in fields]
    lines = [OrderLine.from_db(connection.alias, names, [row[field.column] for field in fields]) for row in rows]
    order = payment.order
    queryset = order.lines.all()
    queryset._result_cache = lines
    queryset._prefetch_done = True
    order._prefetched_objects_cache = {**getattr(order, "_prefetched_objects_cache", {}), "lines": queryset}
