"""The one place a refund changes state (SPEC §3.1), and the lock every change takes first.

Every service that moves a refund — a decision, a cancel, the outbox, a
provider answer, a manual payout — locks it with `refund_lock` and calls
`refund_transition`; a new refund enters the machine through `refund_open`.
So the rules that follow from a state, not from who asked, are written once:

* the edge must exist (the FSM on `Refund`; PostgreSQL's trigger refuses the
  rest even from raw SQL);
* money held: a refund holds its amount against the payment while its state
  is in `ACTIVE_STATES`; leaving that set releases it, re-entering it (a retry
  after a failure) reserves it again — refused if the payment no longer has it;
  a refund by line holds its units of the order's lines (`OrderLine.refunded_quantity`)
  by the same rule, refused if another refund took them meanwhile;
* the ledger: `approved` posts REFUND_PENDING, `completed` REFUND_SETTLED (a
  store-credit refund: issues the credit, STORE_CREDIT_ISSUED), and
  leaving the approved path (cancel after approval, a terminal failure, the
  cancel of a retryable failure) posts REFUND_REVERSED (SPEC §4); a provider
  reversal (`completed → failed`) first posts REFUND_SETTLEMENT_REVERSED;
* a void (`refunds.services.void`) posts VOID_* entries instead, and its
  completion leaves the payment `voided`;
* entering `submitting` counts the submission round;
* every move bumps the refund's `version` (so does an edit, `refund_edit`): an
  approval names the version its approver saw;
* the audit event, with the snapshots before and after;
* in the transaction, once the refund row is written: the `refund_changing`
  signal — customer emails write their outbox row there, so an email commits
  or rolls back with the move it reports (notifications.receivers);
* after commit, never before: the log line `MSG.<event>`, the outcome metric,
  the SLO histograms (first decision; completion or terminal failure:
  `refunds.metrics.slo_observation`) and the `refund_changed` signal (best
  effort: a process killed right after COMMIT never sends it).

Side effects that depend on who asks (decisions, the provider submission of
`refunds.services.outbox`) stay with the services.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, Value, When
from django.utils import timezone
from django_fsm import can_proceed
from simple_history.signals import post_create_historical_record, pre_create_historical_record
from simple_history.utils import get_change_reason_from_object

from audit.enums import AuditAction
from audit.services import audit_record_many
from core.actor import Actor
from core.errors import ERR_EXCEEDS_REMAINING, ERR_NOT_FOUND, DomainError, InvalidTransition
from core.write_batch import batching, insert_rows, update_row, writes_together
from credits.services.issue import credit_issue
from ledger.services import (
    refund_post_pending,
    refund_post_reversed,
    refund_post_settled,
    refund_post_settlement_reversed,
)
from refunds.enums import ACTIVE_STATES, STATE_EVENTS, RefundInstrument, RefundState
from refunds.metrics import REFUND_OUTCOME_TOTAL, AmountObservation, SloObservation, amount_observation, slo_observation
from refunds.models import Decision, OrderLine, Payment, Refund, RefundLine
from refunds.models.refund import TRANSITION_METHODS
from refunds.services.void import is_void, void_payment_follow, void_post_ledger
from refunds.signals import refund_changed, refund_changing

logger = logging.getLogger("refunds")
S = RefundState


def refund_lock(*, refund_id: int) -> tuple[Refund, Payment]:
    """Lock a refund and its payment, payment first.

    Every service that touches both takes the locks in this order (payment,
    then refund) — the same order as refund creation — so two services can
    never deadlock on each other. Must run inside a transaction.
    """
    # The payment is found through a subquery so locking it costs one round trip;
    # a refund's payment never changes, so the subquery cannot race.
    refund_payment = Refund.objects.filter(pk=refund_id).values("payment_id")[:1]
    payment = Payment.objects.select_for_update().filter(pk=Subquery(refund_payment)).first()
    if payment is None:
        raise DomainError(ERR_NOT_FOUND)
    # of=("self",): lock the refund row only. Without it PostgreSQL also locks
    # the joined order and the (shared) policy row FOR UPDATE, which blocks
    # every refund insert's foreign-key check on that policy — and deadlocks.
    refund = Refund.objects.select_for_update(of=("self",)).select_related("order", "policy_version").get(pk=refund_id)
    refund.payment = payment
    return refund, payment


def refund_snapshot(refund: Refund) -> dict[str, Any]:
    """What the audit trail keeps of a refund before and after a change."""
    return {
        "state": refund.state,
        "version": refund.version,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "reason": refund.reason,
        "policy_outcome": refund.policy_outcome,
        "policy_rule": refund.policy_rule,
        "approvals_required": refund.approvals_required,
        "draft_reply": refund.draft_reply,
        "provider_refund_id": refund.provider_refund_id,
    }


def payment_reserve(*, payment: Payment, amount_minor: int) -> None:
    """Hold `amount_minor` of the payment for a refund (caller holds the payment lock).

    The check is the friendly refusal; the payment's CHECK constraint
    (reserved ≤ amount) is what makes an over-refund impossible.
    """
    if amount_minor > payment.remaining_refundable_minor:
        raise DomainError(ERR_EXCEEDS_REMAINING, remaining_refundable_minor=payment.remaining_refundable_minor)
    payment.refund_reserved_minor += amount_minor
    _payment_save_reserved(payment)


def payment_release(*, payment: Payment, amount_minor: int) -> None:
    """Give `amount_minor` back to the payment's remaining refundable (caller holds the lock)."""
    payment.refund_reserved_minor -= amount_minor
    _payment_save_reserved(payment)


def _payment_save_reserved(payment: Payment) -> None:
    """One UPDATE of the reservation, batched with the change's other writes on PostgreSQL (core.write_batch)."""
    if batching():
        update_row(payment, ["refund_reserved_minor", "updated_at"])
    else:
        payment.save(update_fields=["refund_reserved_minor", "updated_at"])


def order_lines_reserve(*, lines: Sequence[RefundLine]) -> None:
    """Hold the units of `lines` on their order lines (caller holds the payment lock; one UPDATE).

    The check is the friendly refusal; the order line's CHECK constraint
    (refunded ≤ quantity) is what makes refunding a unit twice impossible.
    Increments in SQL, not values computed here, so even a writer that
    skipped the lock could not make this one lose its units.
    """
    if not lines:
        return
    for line in lines:
        order_line = line.order_line
        left = order_line.quantity - order_line.refunded_quantity
        if line.quantity > left:
            raise DomainError(
                ERR_EXCEEDS_REMAINING,
                f"Only {left} of sku '{order_line.sku}' can still be refunded.",
                sku=order_line.sku,
                quantity_left=left,
            )
    added = Case(*(When(pk=line.order_line_id, then=Value(line.quantity)) for line in lines), default=Value(0))
    OrderLine.objects.filter(pk__in=[line.order_line_id for line in lines]).update(
        refunded_quantity=F("refunded_quantity") + added
    )
    for line in lines:
        line.order_line.refunded_quantity += line.quantity


def order_lines_release(*, refund: Refund) -> None:
    """Give a refund's units back to its order lines (caller holds the payment lock; one UPDATE, none when
    the refund's lines are loaded and there are none)."""
    cached = getattr(refund, "_prefetched_objects_cache", {}).get("lines")
    if cached is not None and not list(cached):
        return
    held = RefundLine.objects.filter(refund=refund, order_line=OuterRef("pk")).values("quantity")[:1]
    OrderLine.objects.filter(refund_lines__refund=refund).update(
        refunded_quantity=F("refunded_quantity") - Subquery(held)
    )


def _order_lines_reserve_again(*, refund: Refund) -> None:
    """A retry holds the refund's units again — refused if another refund took them meanwhile."""
    cached = getattr(refund, "_prefetched_objects_cache", {}).get("lines")
    if cached is not None and not list(cached):
        return
    # Read under the payment lock now, never from a cache: the quantities left are what must be current.
    order_lines_reserve(lines=list(refund.lines.select_related("order_line")))


def refund_lines_remember(refund: Refund, lines: Sequence[RefundLine]) -> None:
    """Put `lines` in the refund's prefetch cache, as `prefetch_related("lines")` would.

    The refund's documents (its events, written in the same transaction) list
    its lines: from the cache they cost no query, and a refund not by line
    does not ask the database for lines it cannot have.
    """
    _cache_related(refund, "lines", list(lines))


@dataclass(frozen=True)
class Approval:
    """The policy's approval of a refund at its creation (see `refund_open`).

    `decision`: the approval's Decision row, unsaved and without its refund
    (the policy's: the system approves): written with the refund, and in
    its `decisions` before its events are rendered, so `refund.approved`
    names the approval as `GET /v1/refunds/{id}` does.
    """

    actor: Actor
    note: str = ""
    audit: Mapping[str, Any] = field(default_factory=dict)
    decision: Decision | None = None


def refund_open(
    refund: Refund,
    *,
    payment: Payment,
    actor: Actor,
    note: str = "",
    audit: Mapping[str, Any] | None = None,
    log: Mapping[str, Any] | None = None,
    approval: Approval | None = None,
    lines: Sequence[RefundLine] = (),
) -> None:
    """A new refund enters the machine in `requested` — and, when the policy approved it, moves on to `approved`.

    `lines`: a refund by line's lines (`refunds.services.lines.refund_lines_build`),
    unsaved; their amounts sum to the refund's.

    Side effects, in order: the reservation on the (locked) payment and, by
    line, of the units on the order lines (one UPDATE); with an
    approval, the `requested → approved` move checked as any other; ONE insert
    (a refund approved at creation is inserted approved: one write instead of
    insert + update) and its history row; the refund lines (one insert); with an approval its
    Decision and the REFUND_PENDING entry; the audit
    events `refund.requested` (and `refund.approved`) in one insert, and a
    `refund_changing` signal per event; after commit the log lines, metrics
    and `refund_changed` signals, in that order. Inside the caller's
    `core.write_batch.writes_together` (refund_request) these writes reach
    PostgreSQL as one statement, with those of the signal's receivers.

    The new refund's decisions and ledger entries are put in its cache
    (what it has: none, or the approval's): its events are rendered from
    memory, and the ledger adds what it posts (`ledger.services.entry_post`).
    """
    if refund.state != S.REQUESTED or not refund._state.adding:
        raise InvalidTransition(refund.state, S.REQUESTED)
    at = timezone.now()
    payment_reserve(payment=payment, amount_minor=refund.amount_minor)
    order_lines_reserve(lines=lines)
    requested = refund_snapshot(refund)
    steps = [_Step(actor, STATE_EVENTS[S.REQUESTED], None, note, None, requested, audit or {}, log or {})]
    if approval is not None:
        changes = {"decided_at": timezone.now()}
        before = _move(refund, payment=payment, to=S.APPROVED, changes=changes)
        steps.append(
            _Step(approval.actor, STATE_EVENTS[S.APPROVED], None, approval.note, before, None, approval.audit, {})
        )
    refund_insert(refund)
    for line in lines:
        line.refund = refund
    if lines:
        if batching():
            insert_rows(lines)
        else:
            RefundLine.objects.bulk_create(lines)
    refund_lines_remember(refund, lines)
    decisions = []
    if approval is not None and approval.decision is not None:
        decision = approval.decision
        decision.refund = refund
        if batching():
            insert_rows([decision])
        else:
            decision.save(force_insert=True)
        decisions.append(decision)
    _cache_related(refund, "decisions", decisions)
    _cache_related(refund, "ledger_entries", [])
    if approval is not None:
        _post_ledger(refund, source=S.REQUESTED, to=S.APPROVED)
    _record(refund, steps, at=at)


def refund_insert(refund: Refund) -> None:
    """Insert a new refund and, as django-simple-history would, its first history row.

    With its id given (`refund_request` takes it from the sequence in its
    locking statement) and on PostgreSQL: both as writes of the enclosing
    batch (core.write_batch), the history row built by simple-history's own
    rules (the user of the request, the change reason, every tracked field).
    Otherwise `save()`, whose post_save signal writes the history row.
    """
    if refund.pk is None or not batching() or _history_listened():
        refund.save(force_insert=True)
        return
    refund.prepare_to_save()
    insert_rows([refund])
    _history_write(refund, "+")


def refund_update(refund: Refund, fields: Sequence[str]) -> None:
    """`refund.save(update_fields=fields)` and its history row, as writes of the enclosing batch (PostgreSQL).

    As `refund_insert` for a new one: one UPDATE by primary key (DatabaseError
    if it changed no row, as `save` raises) and the history row simple-history's
    post_save would have written ("~", every tracked field as the update leaves
    it); outside a `writes_together` block those are two statements at once.
    On SQLite, or with a listener of simple-history's signals: `save()`.
    """
    if refund._state.adding or not batching() or _history_listened():
        refund.save(update_fields=fields)
        return
    refund.prepare_to_save()
    update_row(refund, fields)  # sets `updated_at` (auto_now) on the instance first, as save() does
    _history_write(refund, "~")


def _history_listened() -> bool:
    """Someone listens to simple-history's signals for refunds: only its own save path sends them."""
    history = Refund.history.model
    return pre_create_historical_record.has_listeners(history) or post_create_historical_record.has_listeners(history)


def _history_write(refund: Refund, history_type: str) -> None:
    """The history row simple-history's post_save writes (its rules: the request's user, the change reason)."""
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True) or hasattr(refund, "skip_history_when_saving"):
        return
    history = Refund.history.model
    row = history(
        history_date=getattr(refund, "_history_date", timezone.now()),
        history_type=history_type,
        history_user=history.get_default_history_user(refund),
        history_change_reason=get_change_reason_from_object(refund),
        **{field.attname: getattr(refund, field.attname) for field in history.tracked_fields},
    )
    insert_rows([row])


def _cache_related(refund: Refund, name: str, rows: list[Any]) -> None:
    """Put `rows` in the refund's cache of its `name` relation, as `prefetch_related(name)` would."""
    queryset = getattr(refund, name).all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    refund._prefetched_objects_cache = {**getattr(refund, "_prefetched_objects_cache", {}), name: queryset}


def creation_caches_forget(refund: Refund) -> None:
    """Drop what `refund_open` cached of a new refund (decisions, ledger entries): the caller's copy then
    reads them as any refund does, and sees what later changes add."""
    cache = getattr(refund, "_prefetched_objects_cache", {})
    cache.pop("decisions", None)
    cache.pop("ledger_entries", None)


def refund_transition(
    refund: Refund,
    *,
    payment: Payment,
    to: RefundState,
    actor: Actor,
    action: AuditAction | None = None,
    note: str = "",
    changes: Mapping[str, Any] | None = None,
    audit: Mapping[str, Any] | None = None,
    log: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Move a locked refund to `to`, with every effect the move implies (see the module docstring).

    `changes` are other fields set in the same write (decided_at, failure code …);
    `action` names the audit event when it says more than the state does
    (`refund.payout_paid`); `audit` adds fields to the audit event (policy_rule,
    flagged) and `log` to the log line; `occurred_at` is when the provider says
    it happened (a settlement in a closed month is booked into the next open
    one, docs/ledger.md "Periods"). The caller holds `refund_lock`.

    Side effects, in order: edge check (raises InvalidTransition), money held,
    the version, the submission round, the row update, the ledger entry, the audit event,
    the `refund_changing` signal; after commit the log line, metric and `refund_changed` signal.
    """
    # Every write of the move (the row, its history, the ledger entry, the audit event, what the
    # receivers of `refund_changing` write: events, email, outbox) as one statement (core.write_batch),
    # or with the enclosing batch's (a create's).
    with writes_together() if transaction.get_connection().in_atomic_block else nullcontext():
        _transition(refund, payment=payment, to=to, actor=actor, action=action, note=note, changes=changes,
                    audit=audit, log=log, occurred_at=occurred_at)  # fmt: skip


def _transition(
    refund: Refund,
    *,
    payment: Payment,
    to: RefundState,
    actor: Actor,
    action: AuditAction | None,
    note: str,
    changes: Mapping[str, Any] | None,
    audit: Mapping[str, Any] | None,
    log: Mapping[str, Any] | None,
    occurred_at: datetime | None,
) -> None:
    source, at = refund.state, timezone.now()
    before = _move(refund, payment=payment, to=to, changes=changes or {})
    fields = {"state", "version", "updated_at", *(changes or {})}
    if to == S.SUBMITTING:
        fields |= {
            "submission_count",
            "submitted_at",
            "failure_code",
            "failure_retryable",
            "provider_refund_id",
            "earlier_provider_refund_ids",
        }
    refund_update(refund, sorted(fields))
    _post_ledger(refund, source=source, to=to, occurred_at=occurred_at)
    if is_void(refund):
        void_payment_follow(refund, payment=payment, to=to)
    _record(refund, [_Step(actor, STATE_EVENTS[to], action, note, before, None, audit or {}, log or {})], at=at)


def _move(refund: Refund, *, payment: Payment, to: RefundState, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check the edge and make the move in memory (money held, submission round, fields); return the before snapshot."""
    source = refund.state
    method = getattr(refund, TRANSITION_METHODS.get(to, ""), None)
    if method is None or not can_proceed(method):
        raise InvalidTransition(source, to)
    before = refund_snapshot(refund)
    if source in ACTIVE_STATES and to not in ACTIVE_STATES:
        payment_release(payment=payment, amount_minor=refund.amount_minor)
        order_lines_release(refund=refund)
    elif source not in ACTIVE_STATES and to in ACTIVE_STATES:
        payment_reserve(payment=payment, amount_minor=refund.amount_minor)
        _order_lines_reserve_again(refund=refund)
    method()
    refund.version += 1
    if to == S.SUBMITTING:
        refund.submission_count += 1
        refund.submitted_at = timezone.now()
        refund.failure_code, refund.failure_retryable = "", False  # a new round: the last failure is history
        if refund.provider_refund_id:
            # A new round is a new provider refund: the last one's id is history too, kept so its
            # late news is recognised as such (refund_apply_outcome) instead of moving this round.
            refund.earlier_provider_refund_ids = [
                *(refund.earlier_provider_refund_ids or []),
                refund.provider_refund_id,
            ]
            refund.provider_refund_id = None
    for name, value in changes.items():
        setattr(refund, name, value)
    return before


def _post_ledger(refund: Refund, *, source: str, to: str, occurred_at: datetime | None = None) -> None:
    """The journal entries a move implies (SPEC §4); the (refund, type) unique key refuses a second one.

    A terminal failure reverses REFUND_PENDING at once; a retryable one keeps
    it (a retry settles against it), until it is retried or canceled — the
    cancel of a retryable failure posts the reversal then. A provider reversal
    (`completed → failed`) first undoes the settlement, then — the failure is
    terminal — the pending entry: every entry of the refund then nets to zero,
    as its released reservation says. A void posts its own VOID_* entries instead.
    """
    if is_void(refund):
        void_post_ledger(refund, source=source, to=to, occurred_at=occurred_at)
        return
    if to == S.APPROVED:
        refund_post_pending(refund=refund)
    elif to == S.COMPLETED and refund.instrument == RefundInstrument.STORE_CREDIT:
        # Paid as store credit (refunds.services.store_credit): the credit is the settlement.
        policy = refund.policy_version
        credit_issue(
            refund=refund, bonus_percent=policy.store_credit_bonus_percent, expiry_days=policy.store_credit_expiry_days
        )
    elif to == S.COMPLETED:
        refund_post_settled(refund=refund, occurred_at=occurred_at)
    elif to == S.FAILED:
        if source == S.COMPLETED:
            refund_post_settlement_reversed(refund=refund, occurred_at=occurred_at)
        if not refund.failure_retryable:
            refund_post_reversed(refund=refund)
    elif to == S.CANCELED and (source == S.APPROVED or (source == S.FAILED and refund.failure_retryable)):
        refund_post_reversed(refund=refund)


@dataclass(frozen=True)
class _Step:
    actor: Actor
    event: AuditAction
    action: AuditAction | None
    note: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None  # None: the refund as it is now
    audit: Mapping[str, Any]
    log: Mapping[str, Any]


def _record(refund: Refund, steps: list[_Step], *, at: datetime) -> None:
    """The audit events and `refund_changing` now, in the transaction; log lines, metrics and signals once it commits.

    The events are dated `at`, when the change began: every record the change
    writes (ledger entry, outbox message …) is at or after its event, which is
    how the refund's timeline puts effects after their cause.
    """
    now = refund_snapshot(refund)

    def event(step: _Step) -> dict[str, Any]:
        # `after_extra`: what the event records besides the refund's snapshot (a decline's internal rationale).
        fields = dict(step.audit)
        after = {**(step.after if step.after is not None else now), **fields.pop("after_extra", {})}
        return dict(
            actor=step.actor,
            action=step.action or step.event,
            refund=refund,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            note=step.note,
            before=step.before,
            after=after,
            **fields,
        )

    audit_record_many([event(step) for step in steps], occurred_at=at)
    for index, step in enumerate(steps):
        # Called once the refund row is written, so receivers see the refund as this move leaves it
        # (one `_record` covers both events of a refund approved at creation: `requested` is then
        # seen with the state `approved`, which is how its email knows to stay quiet). `send`, not
        # `send_robust`: a receiver's failure must roll the move back, or its email would be lost.
        # `more`: another step of this change follows (a receiver may write both at once).
        refund_changing.send(
            sender=Refund,
            refund=refund,
            event=step.event,
            state=(step.after or now)["state"],
            more=index < len(steps) - 1,
        )
    for step in steps:
        state = (step.after or now)["state"]
        extra = {
            "message_id": step.event.log_message_id,
            "refund_id": refund.public_id,
            "state": state,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
            **step.log,
        }
        # Worked out now, with the refund as this move leaves it (a later move in the same
        # transaction could change `failure_retryable`); observed only once the move commits.
        source = step.before["state"] if step.before else None
        observations = tuple(
            observation
            for observation in (
                slo_observation(refund, source=source, to=state, system=step.actor.type == "system", at=at),
                amount_observation(refund, source=source, to=state),
            )
            if observation is not None
        )
        transaction.on_commit(partial(_announce, refund, step.event, state, extra, observations))


def _announce(
    refund: Refund,
    event: AuditAction,
    state: str,
    extra: dict[str, Any],
    observations: tuple[SloObservation | AmountObservation, ...] = (),
) -> None:
    """After commit: the outcome metric, the SLO and amount observations, the log line, the signal apps react to."""
    REFUND_OUTCOME_TOTAL.labels(state=state).inc()
    for observation in observations:
        observation.observe()
    logger.info(event.log_message_id, extra=extra)
    # Robust: the change is committed; a failing receiver is logged, never turned into an error here.
    for receiver, error in refund_changed.send_robust(sender=Refund, refund=refund, event=event, state=state):
        if isinstance(error, Exception):
            logger.error(
                "refund_changed receiver failed",
                exc_info=error,
                extra={
                    "message_id": "MSG.refund.receiver_failed",
                    "refund_id": refund.public_id,
                    "receiver": getattr(receiver, "__qualname__", str(receiver)),
                },
            )
