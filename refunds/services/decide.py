"""Human decisions on a refund: approve (with maker-checker and dual control),
deny, edit (SPEC §3.3). The API and the agent console both call these; who may
do what is asked of `refunds.permissions`."""

from __future__ import annotations

from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_DECLINE_REASON_REQUIRED,
    ERR_EXCEEDS_REMAINING,
    ERR_VALIDATION,
    DomainError,
    InvalidTransition,
)
from refunds.enums import DecisionKind, PolicyOutcome, Recommendation, RefundState
from refunds.metrics import policy_override
from refunds.models import Decision, Payment, Refund
from refunds.permissions import (
    ApprovalRefusal,
    approval_refusal,
    changed_refusal,
    decide_refusal,
    edit_refusal,
    merchant_refusal,
)
from refunds.replies import reply_check_amounts, reply_check_placeholders
from refunds.selectors import reply_declines
from refunds.services.lines import refund_has_lines
from refunds.services.outbox import refund_stop_if_payment_withdrawn, submission_open
from refunds.services.policy import approvals_required
from refunds.services.store_credit import is_store_credit, store_credit_settle
from refunds.services.transition import refund_lock, refund_snapshot, refund_transition
from refunds.services.void import void_check_amount_edit
from refunds.signals import refund_revised

S = RefundState
# An approval asked for again once the refund moved on is answered with the refund, unchanged.
_APPROVED_OR_LATER = frozenset({S.APPROVED, S.SUBMITTING, S.PROVIDER_PENDING, S.COMPLETED})
PAYMENT_CHECK_ACTOR = Actor.system("payment_check")


def refund_approve_now(*, refund: Refund, payment: Payment, actor: Actor, note: str = "") -> None:
    """Approve a locked `requested` refund: the approval that moves money (the final human one).

    Side effects, in order: the move to `approved` (REFUND_PENDING ledger
    entry, audit `refund.approved` citing the rule, flagged when it overrides
    the policy), then `approval_effects`.
    """
    refund_transition(
        refund,
        payment=payment,
        to=S.APPROVED,
        actor=actor,
        note=note,
        changes={"decided_at": timezone.now()},
        audit=approval_audit(refund),
    )
    approval_effects(refund=refund, payment=payment, actor=actor, note=note)


def approval_audit(refund: Refund) -> dict[str, object]:
    """What the audit event of an approval carries besides the move: the rule cited, the override flag."""
    return {"policy_rule": _cited(refund), "flagged": refund.override_flagged}


def approval_effects(*, refund: Refund, payment: Payment, actor: Actor, note: str) -> None:
    """What an approved refund implies besides its move, in its transaction.

    The approval's Decision is written before: a person's by `refund_approve`,
    the policy's with the refund (`refunds.services.transition.refund_open`).
    Side effects: the provider submission
    (`refunds.services.outbox.submission_open`: an outbox message whose delivery is
    queued on commit, or a payout task for a provider settled by hand) — or, for
    a store-credit refund, no provider: completed at once with its credit
    (`refunds.services.store_credit.store_credit_settle`).
    """
    if is_store_credit(refund):
        store_credit_settle(refund=refund, payment=payment)
        return
    submission_open(refund=refund, payment=payment, round_=refund.submission_count + 1)


def _require_same_merchant(refund: Refund, actor: Actor) -> None:
    refusal = merchant_refusal(refund, actor)
    if refusal is not None:
        raise refusal


def _cited(refund: Refund) -> str:
    return f"{refund.policy_rule}: {refund.policy_rule_text}"


def _is_override(refund: Refund, decision: str) -> bool:
    """Going against the policy's recommendation on a reviewed refund."""
    return refund.policy_outcome == PolicyOutcome.REVIEW and refund.recommendation != decision


def refund_approve(
    *,
    refund_id: int,
    actor: Actor,
    note: str = "",
    expected_version: int | None = None,
    expected_amount_minor: int | None = None,
) -> Refund:
    """Record an approval; approve the refund once enough distinct approvers agree.

    Refusals (`refunds.permissions.approval_refusal`), checked under the row
    lock so concurrent approvals see each other: the requester can never approve
    (maker-checker, whatever the state); nor can who administers access; the
    approver needs the decide permission, and the senior one when two approvals
    are required; one person counts once (a unique constraint settles a race of
    the same person with themself). Then the refund must still be the one the
    approver saw: `expected_version` and `expected_amount_minor`, when given,
    must equal the locked row's (`changed_refusal`, 409 ERR.CONFLICT.changed) —
    an edit between looking and approving is never approved blind.
    Side effects: a Decision row; then either the audit event
    `refund.approval_recorded` (one of two) or everything `refund_approve_now`
    does. An already-approved refund is returned unchanged (idempotent retry;
    the approval itself moved its version, so only the amount is compared).
    """
    user = actor.user
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        _require_same_merchant(refund, actor)
        approver_ids = list(
            Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).values_list("actor_id", flat=True)
        )
        refusal = approval_refusal(refund, user, approver_ids=approver_ids)
        if refusal is ApprovalRefusal.MAKER:
            raise refusal.error()
        if refund.state != S.REQUESTED:
            if refund.state in _APPROVED_OR_LATER:
                changed = changed_refusal(refund, expected_version=None, expected_amount_minor=expected_amount_minor)
                if changed is not None:
                    raise changed
                return refund
            raise InvalidTransition(refund.state, S.APPROVED)
        if refusal is not None:
            raise refusal.error()
        changed = changed_refusal(
            refund, expected_version=expected_version, expected_amount_minor=expected_amount_minor
        )
        if changed is not None:
            raise changed
        # Charged back or voided since the request: no approval can send it. The refund is canceled in this
        # transaction (committed), and the approver told why afterwards.
        stopped = refund_stop_if_payment_withdrawn(refund=refund, payment=payment, actor=PAYMENT_CHECK_ACTOR)
        if stopped is None:
            _approval_record(refund, payment, actor=actor, note=note, approvals_before=len(approver_ids))
    if stopped is not None:
        raise stopped
    return refund


def _approval_record(refund: Refund, payment: Payment, *, actor: Actor, note: str, approvals_before: int) -> None:
    """One person's approval of a locked, approvable refund: the Decision, then either the audit event
    `refund.approval_recorded` and the `refund_revised` signal (one of two) or everything
    `refund_approve_now` does (and, after commit, `refund_policy_overrides_total`
    when the deciding approval overrides the policy)."""
    senior = refund.approvals_required > 1
    try:
        with transaction.atomic():
            Decision.objects.create(
                refund=refund,
                kind=DecisionKind.APPROVE,
                actor=actor.user,
                api_key=actor.api_key,
                as_senior=senior,
                note=note,
                amount_after_minor=refund.amount_minor,
            )
    except IntegrityError:
        raise ApprovalRefusal.ALREADY_APPROVED.error() from None
    approvals = approvals_before + 1
    if _is_override(refund, Recommendation.APPROVE) and not refund.override_flagged:
        refund.override_flagged = True
        refund.save(update_fields=["override_flagged", "updated_at"])
    if approvals < refund.approvals_required:
        audit_record(
            actor=actor,
            action=AuditAction.REFUND_APPROVAL_RECORDED,
            refund=refund,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            note=f"{approvals} of {refund.approvals_required} approvals. {note}".strip(),
            policy_rule=_cited(refund),
            flagged=refund.override_flagged,
        )
        refund_revised.send(sender=Refund, refund=refund, event=AuditAction.REFUND_APPROVAL_RECORDED)
        return
    if _is_override(refund, Recommendation.APPROVE):
        # Counted once, on the approval that decides (the first of two approvals decides nothing yet).
        transaction.on_commit(partial(policy_override, decision=DecisionKind.APPROVE))
    refund_approve_now(refund=refund, payment=payment, actor=actor, note=note)


def refund_deny(
    *,
    refund_id: int,
    actor: Actor,
    note: str,
    rationale: str = "",
    expected_version: int | None = None,
    expected_amount_minor: int | None = None,
) -> Refund:
    """Decline a requested refund; a message to the customer is mandatory, an internal rationale optional.

    `note` is the customer-facing message: a reply template like the drafted
    reply (placeholders filled when the email is sent; an unknown one is
    refused). `rationale` is for staff only: kept on the Decision and in the
    audit event's `after.rationale`, never emailed, never on the status page,
    never in the merchant API's answers.

    Refused to who may not decide (`decide_refusal`: the role, or someone who
    administers access), and, like an approval, when the refund is not the
    one the decider saw (`changed_refusal`). Side effects: the move to
    `denied` (the reserved amount returns to the payment; audit
    `refund.denied`, flagged when it overrides an approve recommendation), a
    Decision(deny); after commit an override is counted
    (`refund_policy_overrides_total`). A refund already denied is returned unchanged.
    """
    note = (note or "").strip()
    rationale = (rationale or "").strip()
    if not note:
        raise DomainError(ERR_DECLINE_REASON_REQUIRED)
    reply_check_placeholders(note)
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        _require_same_merchant(refund, actor)
        if refund.state == S.DENIED:
            return refund
        refusal = decide_refusal(actor.user) or changed_refusal(
            refund, expected_version=expected_version, expected_amount_minor=expected_amount_minor
        )
        if refusal is not None:
            raise refusal
        overrides = _is_override(refund, Recommendation.DECLINE)
        flagged = refund.override_flagged or overrides
        if overrides:
            transaction.on_commit(partial(policy_override, decision=DecisionKind.DENY))
        refund_transition(
            refund,
            payment=payment,
            to=S.DENIED,
            actor=actor,
            note=note,
            changes={"decline_reason": note, "decided_at": timezone.now(), "override_flagged": flagged},
            audit={
                "policy_rule": _cited(refund),
                "flagged": flagged,
                **({"after_extra": {"rationale": rationale}} if rationale else {}),
            },
        )
        Decision.objects.create(
            refund=refund,
            kind=DecisionKind.DENY,
            actor=actor.user,
            api_key=actor.api_key,
            note=note,
            rationale=rationale,
        )
    return refund


def _edited_reply_check(refund: Refund, *, reply: str | None, amount_minor: int) -> None:
    """The draft as the edit leaves it may not contradict the amount as the edit leaves it.

    Checked when either changes, so an amount lowered under a draft that
    spells the old amount out is refused too (issue 12). The policy's decline
    draft is exempt from the amount check: it is never sent with an approval
    (`reply_declines`) and may name what the terms allow instead.
    """
    reply_changed = reply is not None and reply != refund.draft_reply
    if reply_changed:
        reply_check_placeholders(reply)
    if not reply_changed and amount_minor == refund.amount_minor:
        return
    draft = reply if reply is not None else refund.draft_reply
    if not reply_declines(refund, draft):
        reply_check_amounts(draft, amount_minor=amount_minor, currency=refund.currency)


def _amount_edit_check(refund: Refund) -> None:
    if refund.proration is not None:
        raise DomainError(
            ERR_VALIDATION,
            "This refund is for the time not used: its amount is the policy's arithmetic and cannot be edited. "
            "Decline it and request another.",
            field="amount_minor",
        )
    if refund_has_lines(refund.pk):
        raise DomainError(
            ERR_VALIDATION,
            "This refund is by line: its amount is what its units are worth and cannot be edited. "
            "Decline it and request the lines wanted.",
            field="amount_minor",
        )


def refund_edit(
    *,
    refund_id: int,
    actor: Actor,
    amount_minor: int | None = None,
    reply: str | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Refund:
    """Change the drafted reply and/or the amount of a refund still under review.

    Not a move of the state machine: the refund stays `requested`, but its
    `version` is bumped, so an approval of what was shown before is refused.
    The new amount must fit the remaining refundable (re-read under the
    payment lock) and the reservation moves by the difference. Crossing a
    dual-control threshold (goodwill, or high value for any reason) changes
    how many approvals are needed. Refused (`refunds.permissions.edit_refusal`) to the requester
    (maker-checker) and after a first approval; and when `expected_version`
    is given and the refund changed since (`changed_refusal`). The amount of a
    refund by line or for time not used is not edited (ERR_VALIDATION): it is
    the worth of its units, or the policy's arithmetic, which an edit would
    make a lie — such a refund is declined and requested again instead.
    Side effects: refund update, payment reservation, Decision(edit) with
    before/after, audit `refund.edited` with both drafts and amounts, the
    `refund_revised` signal (in the transaction).
    """
    with transaction.atomic():
        refund, payment = refund_lock(refund_id=refund_id)
        approvals = Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).count()
        refusal = edit_refusal(refund, actor.user, approvals_given=approvals) or changed_refusal(
            refund, expected_version=expected_version, expected_amount_minor=None
        )
        if refusal is not None:
            raise refusal
        before = refund_snapshot(refund)
        fields = ["updated_at"]
        amount_changes = amount_minor is not None and amount_minor != refund.amount_minor
        if amount_changes and (
            isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0
        ):
            raise DomainError(ERR_AMOUNT_RANGE)
        _edited_reply_check(
            refund,
            reply=reply,
            amount_minor=refund.amount_minor if amount_minor is None else amount_minor,
        )
        if amount_changes:
            void_check_amount_edit(refund=refund, amount_minor=amount_minor)
            _amount_edit_check(refund)
            available = payment.remaining_refundable_minor + refund.amount_minor
            if amount_minor > available:
                raise DomainError(ERR_EXCEEDS_REMAINING, remaining_refundable_minor=available)
            payment.refund_reserved_minor += amount_minor - refund.amount_minor
            payment.save(update_fields=["refund_reserved_minor", "updated_at"])
            refund.amount_minor = amount_minor
            fields.append("amount_minor")
            # The thresholds of the version that decided the refund, as at creation.
            refund.approvals_required = approvals_required(
                policy=refund.policy_version, currency=refund.currency, reason=refund.reason, amount_minor=amount_minor
            )
            fields.append("approvals_required")
        if reply is not None and reply != refund.draft_reply:
            refund.draft_reply = reply
            fields.append("draft_reply")
        if fields == ["updated_at"]:
            return refund
        refund.version += 1
        fields.append("version")
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
        audit_record(
            actor=actor,
            action=AuditAction.REFUND_EDITED,
            refund=refund,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            note=note,
            before=before,
            after=refund_snapshot(refund),
        )
        refund_revised.send(sender=Refund, refund=refund, event=AuditAction.REFUND_EDITED)
    return refund


def refund_approve_with_reply(
    *,
    refund_id: int,
    actor: Actor,
    reply: str,
    note: str = "",
    expected_version: int | None = None,
    expected_amount_minor: int | None = None,
) -> Refund:
    """Replace the drafted reply, then approve exactly the version that leaves (the API's "save and approve").

    One transaction: an approval refused (maker-checker, dual control, a
    changed refund) rolls the reply back with it. Side effects: those of
    `refund_edit`, then those of `refund_approve`.
    """
    with transaction.atomic():
        edited = refund_edit(
            refund_id=refund_id, actor=actor, reply=reply, note=note, expected_version=expected_version
        )
        return refund_approve(
            refund_id=refund_id,
            actor=actor,
            note=note,
            expected_version=edited.version,
            expected_amount_minor=expected_amount_minor,
        )
