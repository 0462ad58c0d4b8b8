"""Reading the kill switches (refunds.services.pauses), apart so the outbox can read them without a cycle.

`pauses` sets and lifts them (and queues what a lifted submission pause
held, through the outbox); the outbox and refund creation only read them,
from here. The lock and the reasons for it: `refunds.services.pauses`.
"""

from __future__ import annotations

import hashlib

from django.db import connection
from django.db.models import BigIntegerField, Count, Expression, Func, Q, QuerySet, Value
from django.utils import timezone

from refunds.enums import OutboxStatus, PauseKind
from refunds.models import OperationsPause, OutboxMessage

ALL_PROVIDERS = ""


def _lock_key(kind: str) -> int:
    return int.from_bytes(hashlib.sha256(f"operations-pause:{kind}".encode()).digest()[:8], "big", signed=True)


def switch_lock(kind: str, *, shared: bool) -> None:
    """The advisory lock of `kind`'s switch, to the end of the transaction (why: refunds.services.pauses)."""
    if connection.vendor != "postgresql":
        return  # the embedded SQLite demo runs one writer at a time anyway
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_lock_key(kind)])


def pauses_in_force_qs() -> QuerySet[OperationsPause]:
    return OperationsPause.objects.filter(resumed_at__isnull=True)


def scope_label(provider: str) -> str:
    """How people read a pause's scope: the provider, or "every provider"."""
    return provider or "every provider"


# --- reads ----------------------------------------------------------------------------------------


def pauses_in_force() -> list[OperationsPause]:
    """Every pause in force, oldest first (the banner, /readyz, the metric)."""
    return list(pauses_in_force_qs().order_by("paused_at", "id"))


def pause_in_force(kind: str, provider: str, *, serialise: bool = False) -> OperationsPause | None:
    """The pause of `kind` that applies to `provider` (its own, or one of every provider), or None.

    `serialise`: inside the transaction that acts on the answer, take the
    switch's lock shared first, so a pause being set waits for this
    transaction and one set before is seen (refunds.services.pauses): on
    PostgreSQL one statement, the function `refunds_pause_in_force`
    (see `pause_in_force_expression` for why a function).
    """
    if serialise and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT refunds_pause_in_force(%s, %s, %s)", [_lock_key(kind), kind, provider])
            (pause_id,) = cursor.fetchone()
        return None if pause_id is None else OperationsPause.objects.get(pk=pause_id)
    return (
        pauses_in_force_qs()
        .filter(kind=kind, provider__in=[provider, ALL_PROVIDERS])
        .order_by("provider")  # "" sorts first: the wider pause is the one to name
        .first()
    )


def pause_in_force_expression(kind: str, provider: Expression) -> Func:
    """`pause_in_force(kind, provider, serialise=True)` as an expression: the pause's id or NULL (PostgreSQL).

    For a statement that reads the switch with other things, such as the
    payment lock of a create (refunds.services.request). The function
    (refunds/0031) takes the switch's lock shared, then reads with a
    snapshot of its own, taken once the lock is held: a pause committed
    while it waited is seen, and one set after it waits for this
    transaction. Why not a plain subquery beside `pg_advisory_xact_lock_shared`:
    a statement reads one snapshot, taken before it waited for the lock,
    and would miss the pause that was committing meanwhile.
    """
    return Func(
        Value(_lock_key(kind)),
        Value(kind),
        provider,
        function="refunds_pause_in_force",
        output_field=BigIntegerField(),
    )


def auto_approval_paused(provider: str) -> bool:
    """Is auto-approval paused for refunds of `provider`'s payments (by its own pause or one of all)?"""
    return pause_in_force(PauseKind.AUTO_APPROVAL, provider) is not None


def submission_paused(provider: str) -> bool:
    """Is the outbox holding `provider`'s messages (by its own pause or one of all)?"""
    return pause_in_force(PauseKind.SUBMISSION, provider) is not None


def exclude_held(messages: QuerySet[OutboxMessage]) -> QuerySet[OutboxMessage]:
    """`messages` without those a submission pause holds (the sweeper; the backlog gauges)."""
    paused = set(pauses_in_force_qs().filter(kind=PauseKind.SUBMISSION).values_list("provider", flat=True))
    if ALL_PROVIDERS in paused:
        return messages.none()
    if paused:
        return messages.exclude(refund__payment__provider__in=paused)
    return messages


def pending_messages_of(provider: str) -> QuerySet[OutboxMessage]:
    pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
    return pending if provider == ALL_PROVIDERS else pending.filter(refund__payment__provider=provider)


def held_counts(provider: str) -> dict[str, int]:
    """Pending messages of `provider` ("" every one): how many wait, how many a worker is calling right now."""
    now = timezone.now()
    in_flight = Q(lease_expires_at__gt=now)
    counts = pending_messages_of(provider).aggregate(total=Count("id"), in_flight=Count("id", filter=in_flight))
    return {"held": counts["total"] - counts["in_flight"], "in_flight": counts["in_flight"]}
