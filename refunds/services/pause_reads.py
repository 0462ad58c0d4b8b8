"""Reading the kill switches (refunds.services.pauses), apart so the outbox can read them without a cycle.

`pauses` sets and lifts them (and queues what a lifted submission pause
held, through the outbox); the outbox and refund creation only read them,
from here. The lock and the reasons for it: `refunds.services.pauses`.
"""

from __future__ import annotations

import hashlib

from django.db import connection
from django.db.models import Count, Q, QuerySet
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
    transaction and one set before is seen (refunds.services.pauses).
    """
    if serialise and connection.vendor == "postgresql":
        # The shared lock, then the read, in one round trip (every auto-approved create pays for it). In
        # a function (refunds/0029), not one plain statement: a statement reads the snapshot taken when
        # it began, before a wait for the lock, and so missed a pause committed during that wait.
        with connection.cursor() as cursor:
            cursor.execute("SELECT refunds_pause_after_switch_lock(%s, %s, %s)", [_lock_key(kind), kind, provider])
            (pause_id,) = cursor.fetchone()
        return None if pause_id is None else OperationsPause.objects.get(pk=pause_id)
    return (
        pauses_in_force_qs()
        .filter(kind=kind, provider__in=[provider, ALL_PROVIDERS])
        .order_by("provider")  # "" sorts first: the wider pause is the one to name
        .first()
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
