"""Creating a refund (SPEC §3, §3.2): the one way money gets reserved."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_CURRENCY_MISMATCH,
    ERR_EXCEEDS_REMAINING,
    ERR_NOT_CAPTURED,
    ERR_NOT_FOUND,
    ERR_VALIDATION,
    DomainError,
)
from core.write_batch import writes_together
from refunds.enums import DecisionKind, PaymentStatus, PolicyOutcome, Reason, RefundInstrument
from refunds.metadata import metadata_clean
from refunds.metrics import REFUND_AUTO_APPROVAL_PAUSED_TOTAL
from refunds.models import Decision, Order, Payment, Refund
from refunds.services.decide import approval_audit, approval_effects
from refunds.services.evidence_refs import evidence_clean
from refunds.services.lines import LineRequest, refund_lines_build
from refunds.services.outbox import WITHDRAWN_PAYMENT_ERRORS
from refunds.services.policy import PolicyDecision, policy_evaluate
from refunds.services.proration import proration_compute
from refunds.services.request_lock import auto_approval_pause_id, payment_lock_for_request
from refunds.services.store_credit import store_credit_check_allowed
from refunds.services.transition import Approval, creation_caches_forget, refund_open
from refunds.services.void import void_instrument

_HARD_REFUSALS = {
    **WITHDRAWN_PAYMENT_ERRORS,  # checked again at approval and before submission (refunds.services.outbox)
    PaymentStatus.CAPTURE_PENDING: ERR_NOT_CAPTURED,
    PaymentStatus.CAPTURE_FAILED: ERR_NOT_CAPTURED,
}


def payment_check_refundable(*, payment: Payment, amount_minor: int, currency: str) -> None:
    """Raise the API error for anything that makes this refund impossible."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise DomainError(ERR_AMOUNT_RANGE)
    payment_check_status(payment=payment, currency=currency)
    if amount_minor > payment.remaining_refundable_minor:
        raise DomainError(ERR_EXCEEDS_REMAINING, remaining_refundable_minor=payment.remaining_refundable_minor)


def payment_check_status(*, payment: Payment, currency: str) -> None:
    """The refusals that do not depend on the amount: the payment's status, the currency."""
    refusal = _HARD_REFUSALS.get(payment.status)
    if refusal:
        raise DomainError(refusal, payment_status=payment.status)
    if currency != payment.currency:
        raise DomainError(ERR_CURRENCY_MISMATCH, expected=payment.currency)


def refund_request(
    *,
    order: Order | OrderRef,
    amount_minor: int | None = None,
    lines: list[LineRequest] | None = None,
    prorate: bool = False,
    instrument: str | None = None,
    currency: str,
    reason: str,
    actor: Actor,
    customer_note: str = "",
    evidence: list | None = None,
    metadata: dict[str, str] | None = None,
    uploaded_files: int = 0,
    correlation_id: str = "",
    request_token: str | None = None,
) -> Refund:
    """Create a refund, decide it by policy, and approve it if the policy says so.

    The amount is given in one of three ways, exactly one (else ERR_VALIDATION):
    `amount_minor`; `lines`, units of the order's lines by sku, worth their
    share of each line's gross (`refunds.services.lines`; the refund keeps its
    `RefundLine`s and holds the units); or `prorate`, the time not used of a
    service as the policy in force computes it (`refunds.services.proration`;
    the refund keeps the arithmetic in `proration`). `instrument`: a
    `RefundInstrument` value (None: the original payment; see voids below).

    `evidence`: uploaded file ids of the order and typed references, checked
    and stored by `refunds.services.evidence_refs.evidence_clean` (anything
    else is refused, ERR_VALIDATION). `uploaded_files`: how many files the
    caller attaches in the same transaction (`refund_request_with_evidence`);
    either satisfies the policy's evidence rule.

    `request_token` (the console form's one-time token) is stored unique per
    requester: a second request with it raises IntegrityError, after waiting
    for the first to commit or roll back.

    An `authorized` payment is voided, not refunded (`refunds.services.void`):
    the refund's instrument is `void`, of the full amount (ERR_PARTIAL_VOID),
    and `store_credit` asked of it is ERR_INSTRUMENT_NOT_ALLOWED. It passes
    the same policy; the window since capture counts from now for it (no
    capture yet), so only the other rules can send it to review.

    `order`: the order, or an `OrderRef` (its merchant and id: found with the
    payment's lock, in the same statement; ERR_NOT_FOUND when there is none).

    Side effects, in order, in one transaction:
    1. lock the order's payment row (serialises every refund of this payment
       across processes; remaining refundable and the lines' refunded
       quantities are re-read under the lock) and, in the same statement on
       PostgreSQL, take the auto-approval switch's shared lock and read what
       the create needs (`refunds.services.request_lock`): the policy in
       force, the customer's refunds of the last 24 hours, the pause in
       force, the order's lines;
    2. `refund_open`: reserve the amount on the payment (its CHECK constraint
       refuses an over-refund even if a bug skipped step 1) and, by line, the
       units on the order lines (their CHECK alike), insert the refund and its lines —
       already `approved` when the policy auto-approves (REFUND_PENDING) — and
       audit `refund.requested` citing the rule (and `refund.approved`);
    3. when auto-approved, `approval_effects` as the policy: the system
       decision and the provider submission. While auto-approval is paused
       for the payment's provider (`refunds.services.pauses`), what the policy
       would approve goes to review instead (`decision_paused`; counted in
       `refund_auto_approval_paused_total` after commit).
    In the transaction, per audit event: the `refund_changing` signal (the
    customer email's outbox row). After commit: the log lines, metrics and
    `refund_changed` signals.
    """
    if sum((amount_minor is not None, lines is not None, prorate is True)) != 1:
        raise DomainError(ERR_VALIDATION, "Give exactly one of amount_minor, lines or prorate.", field="amount_minor")
    if instrument is not None and instrument not in RefundInstrument.values:
        raise DomainError(ERR_VALIDATION, f"Unknown instrument '{instrument}'.", field="instrument")
    if reason not in Reason.values:
        raise DomainError(ERR_VALIDATION, f"Unknown reason '{reason}'.", field="reason")
    metadata = metadata_clean(metadata)
    with transaction.atomic():
        now = timezone.now()
        locked = payment_lock_for_request(payments=_payments_of(order), now=now, by_amount=lines is None)
        if locked is None:
            if isinstance(order, OrderRef) and not order.exists():
                raise DomainError(ERR_NOT_FOUND)
            raise DomainError(ERR_NOT_CAPTURED, "The order has no payment yet.")
        payment, policy = locked.payment, locked.policy
        order = payment.order
        payment_check_status(payment=payment, currency=currency)
        refund_lines, proration = [], None
        if lines is not None:
            refund_lines = refund_lines_build(order=order, requested=list(lines))
            amount_minor = sum(line.amount_minor for line in refund_lines)
            if amount_minor == 0:
                raise DomainError(ERR_AMOUNT_RANGE, "These units are worth nothing to refund.", field="lines")
        elif prorate:
            proration = proration_compute(payment=payment, policy=policy, reason=reason, now=now)
            amount_minor = proration.amount_minor
        payment_check_refundable(payment=payment, amount_minor=amount_minor, currency=currency)
        instrument = void_instrument(payment=payment, amount_minor=amount_minor, asked=instrument)
        store_credit_check_allowed(policy=policy, instrument=instrument)
        evidence = evidence_clean(order=order, items=list(evidence or []))

        decision = policy_evaluate(
            policy=policy,
            payment=payment,
            amount_minor=amount_minor,
            reason=reason,
            has_evidence=bool(evidence) or uploaded_files > 0,
            customer_refunds_24h=locked.customer_refunds_24h,
            now=now,
            prorated=proration,
        )
        paused = decision.outcome == PolicyOutcome.AUTO_APPROVE and auto_approval_pause_id(locked)
        if paused:
            decision = decision_paused(decision, paused)
        refund = Refund(
            id=locked.refund_id,
            order=order,
            merchant_id=order.merchant_id,
            customer_id=order.customer_id,
            payment=payment,
            amount_minor=amount_minor,
            currency=currency,
            instrument=instrument,
            proration=proration.as_json() if proration else None,
            reason=reason,
            customer_note=customer_note,
            evidence=evidence,
            metadata=metadata or None,
            requested_by=actor.user,
            requested_via=actor.type,
            correlation_id=correlation_id,
            customer_email=order.customer.email,
            request_token=request_token or None,
            policy_version=policy,
            policy_outcome=decision.outcome,
            policy_rule=decision.rule,
            policy_rule_text=decision.rule_text,
            recommendation=decision.recommendation,
            approvals_required=decision.approvals_required,
            draft_reply=decision.draft_reply,
        )
        approval = None
        if decision.outcome == PolicyOutcome.AUTO_APPROVE:
            approval = Approval(
                actor=Actor.system("policy"),
                note=decision.cited,
                audit=approval_audit(refund),
                decision=Decision(kind=DecisionKind.APPROVE, actor=None, note=decision.cited),
            )
        # The refund's rows, and those its signal's receivers write, in one statement (core.write_batch).
        with writes_together():
            refund_open(
                refund,
                payment=payment,
                actor=actor,
                note=customer_note,
                audit={"policy_rule": decision.cited},
                log={"policy_rule": decision.rule, "order_id": order.order_id},
                approval=approval,
                lines=refund_lines,
            )
            if approval is not None:
                approval_effects(refund=refund, payment=payment, actor=approval.actor, note=approval.note)
        if paused:
            transaction.on_commit(REFUND_AUTO_APPROVAL_PAUSED_TOTAL.inc)
    creation_caches_forget(refund)
    return refund


@dataclass(frozen=True)
class OrderRef:
    """An order named by its merchant and the merchant's order id: `refund_request` finds it with the
    payment's lock, in one statement, instead of reading it first."""

    merchant_id: int
    order_id: str

    def exists(self) -> bool:
        return Order.objects.filter(merchant_id=self.merchant_id, order_id=self.order_id).exists()


def _payments_of(order: Order | OrderRef) -> QuerySet[Payment]:
    if isinstance(order, OrderRef):
        return Payment.objects.filter(order__merchant_id=order.merchant_id, order__order_id=order.order_id)
    return Payment.objects.filter(order=order)


def decision_paused(decision: PolicyDecision, pause_id: int) -> PolicyDecision:
    """What the policy decided, sent to review because auto-approval is paused (issue 16 kill switch).

    The rule, recommendation, approvals required and draft reply stay the
    policy's (people decide as they would have, with dual control where it
    applied); the rule text says a pause sent it to a person, and which one.
    """
    # The audit event cites "<rule>: <text>" in a field as long as the refund's rule text: fit both.
    limit = Refund._meta.get_field("policy_rule_text").max_length - len(decision.rule) - 2
    # Not the pause's reason: this text is the merchant's too (the refund document's policy.rule_text, its
    # webhooks), and an incident note is for staff (the banner, the pause's own audit event). The pause's
    # number leads staff to it.
    text = f"auto-approval paused by operations (pause {pause_id}; the policy would approve: {decision.rule_text})"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return replace(decision, outcome=PolicyOutcome.REVIEW, rule_text=text)
