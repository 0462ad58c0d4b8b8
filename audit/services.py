"""Writing and verifying the audit chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent
from refunds.correlation import get_correlation_id

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did something: a console user, an API key (and its user), or the system."""

    type: str
    label: str
    user: Any = None
    api_key: Any = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(type="system", label=label)

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(type="user", label=user.get_username(), user=user)

    @classmethod
    def for_api_key(cls, api_key) -> Actor:
        return cls(
            type="api_key",
            label=f"{api_key.user.get_username()} (key {api_key.prefix})",
            user=api_key.user,
            api_key=api_key,
        )


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
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
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def audit_record(*, actor: Actor, action: str, refunds_locked: bool = False, **fields: Any) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (see audit_record_many)."""
    return audit_record_many([dict(actor=actor, action=action, **fields)], refunds_locked=refunds_locked)[0]


def audit_record_many(events: list[dict[str, Any]], *, refunds_locked: bool = False) -> list[AuditEvent]:
    """Append events to the chain in order, in the caller's transaction.

    Each dict holds `actor`, `action` and optionally refund, subject,
    amount_minor, currency, policy_rule, note, before, after, flagged.
    Side effects, in order: lock the chain head, insert the events (one
    statement), move the head. Call it as the last write of a service so the
    head lock — which serialises every audited transaction — is held only
    until commit. Pass refunds_locked=True only when this transaction already
    holds the row lock of every refund in `events` (see `_lock_refunds`).
    """
    with transaction.atomic(savepoint=False):
        if not refunds_locked:
            _lock_refunds(events)
        # The head row is created by migration 0003; locking it is what orders the chain.
        head = AuditChainHead.objects.select_for_update().get(id=1)
        correlation_id = get_correlation_id()
        now = timezone.now()
        built = []
        prev_hash, seq = head.hash, head.seq
        for fields in events:
            fields = dict(fields)
            actor: Actor = fields.pop("actor")
            refund = fields.pop("refund", None)
            seq += 1
            event = AuditEvent(
                seq=seq,
                occurred_at=now,
                actor_type=actor.type,
                actor_user=actor.user,
                actor_api_key=actor.api_key,
                actor_label=actor.label[:150],
                refund=refund,
                subject=fields.pop("subject", "") or (refund.public_id if refund is not None else ""),
                correlation_id=correlation_id,
                prev_hash=prev_hash,
                **fields,
            )
            event.hash = prev_hash = event_hash(event)
            built.append(event)
        AuditEvent.objects.bulk_create(built)
        head.seq, head.hash = seq, prev_hash
        head.save(update_fields=["seq", "hash"])
    return built


def _lock_refunds(events: list[dict[str, Any]]) -> None:
    """Lock the refunds the events point at before taking the chain head.

    The events' foreign keys are checked at commit with a KEY SHARE lock on
    each refund. A writer holding the chain head must never wait for a refund
    row that another transaction holds while it waits for the chain head — a
    deadlock. Locking the refunds first (in pk order) keeps one global order:
    payment → refund → chain head. Services already hold these locks, so for
    them this is a no-op re-lock.
    """
    refunds = {event["refund"].pk: event["refund"] for event in events if event.get("refund") is not None}
    if refunds:
        model = type(next(iter(refunds.values())))
        list(model.objects.select_for_update().filter(pk__in=sorted(refunds)).order_by("pk").values_list("pk"))


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def audit_verify(*, chunk_size: int = 2000) -> Iterator[ChainProblem]:
    """Walk the whole chain in order and yield every break found.

    Reads in chunks with a server-side cursor so memory stays flat however
    long the chain is.
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    last_seq = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if event.seq != expected_seq:
            yield ChainProblem(event.seq, f"gap: expected seq {expected_seq}")
        if event.prev_hash != expected_prev:
            yield ChainProblem(event.seq, "prev_hash does not match the previous event")
        if event_hash(event) != event.hash:
            yield ChainProblem(event.seq, "content does not match its hash (edited?)")
        expected_prev = event.hash
        expected_seq = event.seq + 1
        last_seq = event.seq
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        yield ChainProblem(head.seq, "chain head does not point at the last event (events removed?)")
