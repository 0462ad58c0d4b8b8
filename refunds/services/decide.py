"""Human decisions on a refund: approve (with maker-checker and dual control),
deny, edit (SPEC §3.3). The API and the agent console both call these."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record_many
from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_AUTHZ_DUAL_CONTROL,
    ERR_AUTHZ_MAKER_CHECKER,
    ERR_CONFLICT_STATE,
    ERR_DECLINE_REASON_REQUIRED,
    ERR_EXCEEDS_REMAINING,
    DomainError,
    InvalidTransition,
)
from ledger.services import refund_post_pending
from providers.registry import get_provider
from refunds.enums import DecisionKind, PolicyOutcome, Reason, Recommendation, RefundState
from refunds.models import Decision, OutboxMessage, PayoutTask, Refund
from refunds.services.common import (
    after_commit_state,
    audit_refund,
    payment_release,
    refund_lock,
    refund_snapshot,
    require_perm,
    require_transition,
)
from refunds.services.execute import enqueue_delivery
from refunds.services.policy import dual_control_threshold_minor

PERM_DECIDE = "refunds.decide_refund"
PERM_SENIOR = "refunds.approve_senior"


def approve_in_transaction(*, refund: Refund, actor: Actor, note: str = "") -> list[dict]:
    """Move a locked `requested` refund to `approved` and write what approval implies.

    Side effects, in order: state → approved (FSM), then `approval_effects`.
    Returns the audit events for the caller to write last. Caller holds the
    payment and refund locks inside a transaction.
    """
    before = refund_snapshot(refund)
    require_transition(refund, refund.approve, RefundState.APPROVED)
    refund.approve()
    refund.decided_at = timezone.now()
    refund.save(update_fields=["state", "decided_at", "updated_at"])
    return approval_effects(refund=refund, actor=actor, note=note, before=before)


def approval_effects(*, refund: Refund, actor: Actor, note: str, before: dict) -> list[dict]:
    """What an approved refund implies, in its transaction.

    Side effects, in order: a system Decision when the policy approved it, the
    REFUND_PENDING ledger entry, the outbox row that will carry it to the
    provider (delivery queued on commit) — or, with PROVIDER=manual, the payout
    task for finance. Returns the audit event for the caller to write last.
    """
    if actor.type == "system":
        Decision.objects.create(refund=refund, kind=DecisionKind.APPROVE, actor=None, note=note)
    refund_post_pending(refund=refund)
    if get_provider(refund.payment.provider).settles_by_hand:
        PayoutTask.objects.create(refund=refund)
    else:
        message = OutboxMessage.objects.create(
            refund=refund,
            topic=OutboxMessage.TOPIC_SUBMIT,
            # Stable per refund and submission round: the provider dedupes on it.
            idempotency_key=f"{refund.public_id}-{refund.submission_count + 1}",
            payload={"refund_id": refund.public_id},
        )
        enqueue_delivery(message.pk)
    after_commit_state(refund, "MSG.refund.approved")
    return [
        dict(
            actor=actor,
            action="refund.approved",
            note=note,
            before=before,
            after=refund_snapshot(refund),
            policy_rule=f"{refund.policy_rule}: {refund.policy_rule_text}",
            flagged=refund.override_flagged,
        )
    ]


def _is_override(refund: Refund, decision: str) -> bool:
    """Going against the policy's recommendation on a reviewed refund."""
    return refund.policy_outcome == PolicyOutcome.REVIEW and refund.recommendation != decision


def refund_approve(*, refund_id: int, actor: Actor, note: str = "") -> Refund:
    """Record an approval; approve the refund once enough distinct approvers agree.

    Refusals, checked under the row lock so concurrent approvals see each
    other: the requester can never approve (maker-checker); the approver needs
    the decide permission, and the senior one when two approvals are required;
    one person counts once. Side effects: a Decision row; on the final approval
    everything `approve_in_transaction` does; then the audit event(s).
    An already-approved refund is returned unchanged (idempotent retry).
    """
    user = actor.user
    with transaction.atomic():
        refund, _payment = refund_lock(refund_id=refund_id)
        if user is not None and refund.requested_by_id == user.pk:
            raise DomainError(ERR_AUTHZ_MAKER_CHECKER)
        if refund.state != RefundState.REQUESTED:
            if refund.state == RefundState.APPROVED or refund.state in {
                RefundState.SUBMITTING,
                RefundState.PROVIDER_PENDING,
                RefundState.COMPLETED,
            }:
                return refund
            raise InvalidTransition(refund.state, RefundState.APPROVED)
        require_perm(user, PERM_DECIDE)
        senior = refund.approvals_required > 1
        if senior:
            require_perm(user, PERM_SENIOR, "This refund needs approvals from senior agents.")
        if Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE, actor=user).exists():
            raise DomainError(ERR_AUTHZ_DUAL_CONTROL, "You already approved this refund; a different senior must.")
        try:
            with transaction.atomic():
                Decision.objects.create(
                    refund=refund,
                    kind=DecisionKind.APPROVE,
                    actor=user,
                    api_key=actor.api_key,
                    as_senior=senior,
                    note=note,
                    amount_after_minor=refund.amount_minor,
                )
        except IntegrityError:
            raise DomainError(ERR_AUTHZ_DUAL_CONTROL) from None
        approvals = Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).count()
        if _is_override(refund, Recommendation.APPROVE) and not refund.override_flagged:
            refund.override_flagged = True
            refund.save(update_fields=["override_flagged", "updated_at"])
        if approvals < refund.approvals_required:
            audit_refund(
                actor=actor,
                action="refund.approval_recorded",
                refund=refund,
                note=f"{approvals} of {refund.approvals_required} approvals. {note}".strip(),
                policy_rule=f"{refund.policy_rule}: {refund.policy_rule_text}",
                flagged=refund.override_flagged,
            )
            return refund
        audit_record_many(
            [
                dict(refund=refund, amount_minor=refund.amount_minor, currency=refund.currency, **event)
                for event in approve_in_transaction(refund=refund, actor=actor, note=note)
            ],
        )
    return refund


def refund_deny(*, refund_id: int, actor: Actor, note: str) -> Refund:
    """Decline a requested refund; a reason is mandatory and goes to the customer.

    Side effects: Decision(deny), state → denied, the reserved amount returns to
    the payment, audit `refund.denied` (flagged when it overrides an approve
    recommendation). A refund already denied is returned unchanged.
    """
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_DECLINE_REASON_REQUIRED)
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        if refund.state == RefundState.DENIED:
            return refund
        require_perm(actor.user, PERM_DECIDE)
        require_transition(refund, refund.deny, RefundState.DENIED)
        before = refund_snapshot(refund)
        refund.deny()
        refund.decline_reason = note
        refund.decided_at = timezone.now()
        refund.override_flagged = refund.override_flagged or _is_override(refund, Recommendation.DECLINE)
        refund.save(update_fields=["state", "decline_reason", "decided_at", "override_flagged", "updated_at"])
        payment_release(payment=payment, amount_minor=refund.amount_minor)
        Decision.objects.create(
            refund=refund, kind=DecisionKind.DENY, actor=actor.user, api_key=actor.api_key, note=note
        )
        audit_refund(
            actor=actor,
            action="refund.denied",
            refund=refund,
            note=note,
            before=before,
            policy_rule=f"{refund.policy_rule}: {refund.policy_rule_text}",
            flagged=refund.override_flagged,
        )
        after_commit_state(refund, "MSG.refund.denied")
    return refund


def refund_edit(
    *, refund_id: int, actor: Actor, amount_minor: int | None = None, reply: str | None = None, note: str = ""
) -> Refund:
    """Change the drafted reply and/or the amount of a refund still under review.

    The new amount must fit the remaining refundable (re-read under the payment
    lock) and the reservation moves by the difference. For goodwill, crossing
    the dual-control threshold changes how many approvals are needed; an edit
    after a first approval is refused, because that approval was for the old
    terms. Side effects: refund update, payment reservation, Decision(edit) with
    before/after, audit `refund.edited` with both drafts and amounts.
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        require_perm(actor.user, PERM_DECIDE)
        if refund.state != RefundState.REQUESTED:
            raise InvalidTransition(refund.state, "edited")
        if Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).exists():
            raise DomainError(ERR_CONFLICT_STATE, "This refund already has an approval; it can no longer be edited.")
        before = refund_snapshot(refund)
        fields = ["updated_at"]
        if amount_minor is not None and amount_minor != refund.amount_minor:
            if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
                raise DomainError(ERR_AMOUNT_RANGE)
            available = payment.remaining_refundable_minor + refund.amount_minor
            if amount_minor > available:
                raise DomainError(ERR_EXCEEDS_REMAINING, remaining_refundable_minor=available)
            payment.refund_reserved_minor += amount_minor - refund.amount_minor
            payment.save(update_fields=["refund_reserved_minor", "updated_at"])
            refund.amount_minor = amount_minor
            fields.append("amount_minor")
            if refund.reason == Reason.GOODWILL:
                threshold = dual_control_threshold_minor(refund.policy_version, refund.currency)
                refund.approvals_required = 2 if amount_minor > threshold else 1
                fields.append("approvals_required")
        if reply is not None and reply != refund.draft_reply:
            refund.draft_reply = reply
            fields.append("draft_reply")
        if fields == ["updated_at"]:
            return refund
        refund.save(update_fields=fields)
        Decision.objects.create(
            refund=refund,
            kind=DecisionKind.EDIT,
            actor=actor.user,
            api_key=actor.api_key,
            note=note,
            amount_before_minor=before["amount_minor"],
            amount_after_minor=refund.amount_minor,
            reply_before=before["draft_reply"],
            reply_after=refund.draft_reply,
        )
        audit_refund(actor=actor, action="refund.edited", refund=refund, note=note, before=before)
    return refund
