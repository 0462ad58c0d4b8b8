"""Writing and verifying the audit chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent, AuditPending, AuditSeal
from audit.models.chain import GENESIS_HASH
from core.actor import Actor
from core.correlation import get_correlation_id
from core.write_batch import batching, insert_rows


def _canonical(event: AuditEvent, *, seq: int, prev_hash: str) -> bytes:
    body = {
        "id": event.pk,
        "seq": seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_type": event.actor_type,
        "actor_user_id": event.actor_user_id,
        "actor_api_key_id": event.actor_api_key_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "refund_id": event.refund_id,
        "subject": event.subject,
        "amount_minor": event.amount_minor,
        "currency": event.currency,
        "policy_rule": event.policy_rule,
        "note": event.note,
        "before": event.before,
        "after": event.after,
        "flagged": event.flagged,
        "correlation_id": event.correlation_id,
        "prev_hash": prev_hash,
    }
    if event.channel:
        # Only when set: the links sealed before the column existed keep their hashes.
        body["channel"] = event.channel
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def seal_hash(event: AuditEvent, *, seq: int, prev_hash: str) -> str:
    """The hash of one chain link: the event's content and id, its place, and the previous link."""
    return hashlib.sha256(_canonical(event, seq=seq, prev_hash=prev_hash)).hexdigest()


def audit_record(*, actor: Actor, action: str, **fields: Any) -> AuditEvent:
    """Append one event, in the caller's transaction (see audit_record_many)."""
    return audit_record_many([dict(actor=actor, action=action, **fields)])[0]


def audit_record_many(events: list[dict[str, Any]], *, occurred_at: datetime | None = None) -> list[AuditEvent]:
    """Append events in order, in the caller's transaction: one INSERT, no lock.

    Each dict holds `actor`, `action` and optionally refund, subject,
    amount_minor, currency, policy_rule, note, before, after, flagged.
    `occurred_at` is when the recorded change began (default: now); every
    record the change writes is then at or after its event.
    The events commit or roll back with the change they record. A trigger
    queues each one for the sealer, which links it into the hash chain a few
    seconds after commit (`audit_seal_pending`): audited transactions never
    wait for each other on the chain.
    """
    correlation_id = get_correlation_id()
    now = occurred_at or timezone.now()
    built = []
    for fields in events:
        fields = dict(fields)
        actor: Actor = fields.pop("actor")
        refund = fields.pop("refund", None)
        built.append(
            AuditEvent(
                occurred_at=now,
                actor_type=actor.type,
                actor_user=actor.user,
                actor_api_key=actor.api_key,
                actor_label=actor.label[:150],
                channel=actor.channel,
                refund=refund,
                subject=fields.pop("subject", "") or (refund.public_id if refund is not None else ""),
                correlation_id=correlation_id,
                **fields,
            )
        )
    if batching():
        # One INSERT now, or with the enclosing batch's other writes (core.write_batch): ids once it is sent.
        insert_rows(built)
        return built
    return AuditEvent.objects.bulk_create(built)


def audit_seal_pending(*, batch_size: int = 2000, max_batches: int = 100) -> int:
    """Link every committed, not yet sealed event into the chain; return how many were sealed.

    Side effects per batch, in one transaction: lock the chain head (skipped
    if another sealer holds it — that one is doing this work), read up to
    `batch_size` pending events in id order, insert their seals with
    consecutive `seq`, each hashing the previous, remove them from the
    pending queue, move the head. Events committed out of id order are simply
    sealed in a later batch: the chain's order is the order of sealing.
    """
    sealed = 0
    for _ in range(max_batches):
        with transaction.atomic():
            head = _lock_head()
            if head is None:
                if AuditChainHead.objects.filter(id=1).exists():
                    return sealed  # another sealer holds the head and is doing this work
                # A database without its head row (migration 0003 makes it): create, then lock like always.
                AuditChainHead.objects.get_or_create(id=1)
                head = _lock_head()
                if head is None:
                    return sealed
            pending_ids = AuditPending.objects.order_by("event_id").values("event_id")[:batch_size]
            events = list(AuditEvent.objects.filter(pk__in=pending_ids).order_by("id"))
            if not events:
                return sealed
            now = timezone.now()
            seals, seq, prev_hash = [], head.seq, head.hash
            for event in events:
                seq += 1
                digest = seal_hash(event, seq=seq, prev_hash=prev_hash)
                seals.append(AuditSeal(seq=seq, event=event, prev_hash=prev_hash, hash=digest, sealed_at=now))
                prev_hash = digest
            AuditSeal.objects.bulk_create(seals)
            AuditPending.objects.filter(event_id__in=[event.pk for event in events]).delete()
            head.seq, head.hash = seq, prev_hash
            head.save(update_fields=["seq", "hash"])
        sealed += len(events)
        if len(events) < batch_size:
            return sealed
    return sealed


def _lock_head() -> AuditChainHead | None:
    return AuditChainHead.objects.select_for_update(skip_locked=True).filter(id=1).first()


@dataclass(frozen=True)
class ChainProblem:
    where: str  # "seq 12" for a chain link, "event 345" for an event outside the chain
    problem: str


@contextmanager
def audit_snapshot() -> Iterator[None]:
    """Make everything read inside the block see the database as of one moment.

    On PostgreSQL a REPEATABLE READ READ ONLY transaction: seals and head
    move together in the sealer's transaction, an event and its queue row in
    the writer's, so in one snapshot the chain is whole even while both keep
    committing. Server-side cursors (`.iterator()`) stream inside it, so
    memory stays flat. Inside a caller's transaction the block adds nothing:
    that transaction is the snapshot, at its own isolation level. On SQLite
    (the demo) a transaction already reads one state of the file.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def audit_verify(
    *, chunk_size: int = 2000, max_pending_age: timedelta = timedelta(minutes=5)
) -> Iterator[ChainProblem]:
    """Walk the whole chain in order and yield every break found.

    Checks, in order: seals run 1, 2, 3 … and each links to the previous
    hash; each seal's hash matches its event's content now; the head points at
    the last seal; every event is sealed or still queued, and none has been
    queued longer than `max_pending_age` (a sealer that stopped). Every check
    reads one snapshot (`audit_snapshot`), so events and seals committed while
    it runs are simply not seen yet, never mistaken for a break; the snapshot
    stays open until the generator is exhausted or closed. Reads with
    server-side cursors so memory stays flat however long the chain is.
    """
    # Ages are measured at the snapshot, not after a walk that may take minutes.
    now = timezone.now()
    with audit_snapshot():
        expected_prev = GENESIS_HASH
        expected_seq = 1
        last_seq = 0
        # The inner join drops a seal whose event row was removed: the walk then sees a gap.
        for seal in AuditSeal.objects.select_related("event").order_by("seq").iterator(chunk_size=chunk_size):
            if seal.seq != expected_seq:
                yield ChainProblem(f"seq {seal.seq}", f"gap: expected seq {expected_seq} (event or link removed?)")
            if seal.prev_hash != expected_prev:
                yield ChainProblem(f"seq {seal.seq}", "prev_hash does not match the previous link")
            if seal_hash(seal.event, seq=seal.seq, prev_hash=seal.prev_hash) != seal.hash:
                yield ChainProblem(f"seq {seal.seq}", f"event {seal.event_id} does not match its hash (edited?)")
            expected_prev = seal.hash
            expected_seq = seal.seq + 1
            last_seq = seal.seq
        head = AuditChainHead.objects.filter(id=1).first()
        if head is not None and (head.seq != last_seq or head.hash != expected_prev):
            yield ChainProblem(f"seq {head.seq}", "chain head does not point at the last link (events removed?)")
        # A trigger queues each event in its own transaction and the sealer unqueues it in the one that
        # seals it: in one snapshot an event outside both was put there behind the triggers' back.
        outside = AuditEvent.objects.filter(seal__isnull=True).exclude(pk__in=AuditPending.objects.values("event_id"))
        for event_id in outside.values_list("pk", flat=True).iterator(chunk_size=chunk_size):
            yield ChainProblem(f"event {event_id}", "neither sealed nor queued for sealing")
        stale = AuditPending.objects.filter(event__occurred_at__lt=now - max_pending_age)
        stale_count = stale.count()
        if stale_count:
            yield ChainProblem(
                f"event {stale.order_by('event_id').values_list('event_id', flat=True).first()}",
                f"{stale_count} event(s) waiting to be sealed for over {max_pending_age} (is beat running?)",
            )
