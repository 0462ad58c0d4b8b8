"""Evaluating the refund policy (SPEC §3.2).

Rules are checked in a fixed order and the first that applies decides; the
outcome always names that rule (`R-…: text`) and the policy version, so the
decision can be explained later even after risk edits the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.i18n import babel_locale, customer_language, format_amount
from core.money import format_plain
from refunds.enums import PolicyOutcome, PolicyStatus, Reason, Recommendation
from refunds.limits import CEILING_REASONS, GOODWILL_DUAL_CONTROL, HIGH_VALUE
from refunds.models import Payment, Refund, RefundPolicy
from refunds.replies import DEFAULT_REPLY_TEMPLATES, reply_fill
from refunds.selectors import policy_reply


class ProratedAmount(Protocol):
    """What the policy reads of a refund for time not used (`refunds.services.proration.Proration`)."""

    total_days: int
    unused_days: int
    fee_percent: int


@dataclass(frozen=True)
class PolicyDecision:
    outcome: PolicyOutcome
    rule: str
    rule_text: str
    recommendation: Recommendation
    approvals_required: int
    draft_reply: str

    @property
    def cited(self) -> str:
        return f"{self.rule}: {self.rule_text}"


def policy_get_active(*, now: datetime | None = None) -> RefundPolicy:
    """The policy in force: of the approved versions whose activation time has come, the one that
    activated last (ties: the higher version); created with defaults if none exists.

    Drafts and rejected versions never apply, nor an approved one before its
    activation time. A refund keeps the version that decided it, so approving
    or activating a version changes nothing for refunds already created.
    """
    now = now or timezone.now()
    policy = (
        RefundPolicy.objects.filter(status=PolicyStatus.APPROVED, activates_at__lte=now)
        .order_by("-activates_at", "-version")
        .first()
    )
    if policy is not None:
        return policy
    return _policy_create_default(now=now)


def _policy_create_default(*, now: datetime) -> RefundPolicy:
    """The default policy, approved by the system, as the next version (the first, on a new install)."""
    for _attempt in range(3):
        next_version = (RefundPolicy.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        try:
            with transaction.atomic():
                return RefundPolicy.objects.create(
                    version=next_version,
                    note="Default policy",
                    status=PolicyStatus.APPROVED,
                    reviewed_at=now,
                    activates_at=now,
                )
        except IntegrityError:
            # Another process created that version at the same moment: use theirs if it applies.
            policy = RefundPolicy.objects.filter(
                version=next_version, status=PolicyStatus.APPROVED, activates_at__lte=now
            ).first()
            if policy is not None:
                return policy
    raise RuntimeError("could not create the default refund policy")


def _limits_row(policy: RefundPolicy, currency: str) -> dict[str, int | None] | None:
    return (policy.limits or {}).get(currency)


def _limit_minor(policy: RefundPolicy, currency: str, column: str) -> int | None:
    """One cell of the policy's limits table, in the currency's minor units.

    A currency the table does not list has limit 0 for dual control (every
    refund in it needs two senior approvals) and no ceiling (never
    auto-approved): nobody has said what is a lot of money in it.
    """
    row = _limits_row(policy, currency)
    if row is None:
        return None if column in CEILING_REASONS else 0
    value = row.get(column)
    return None if value is None else int(value)


def dual_control_threshold_minor(policy: RefundPolicy, currency: str) -> int:
    """Goodwill refunds above this (minor units of `currency`) need two senior approvals."""
    threshold = _limit_minor(policy, currency, GOODWILL_DUAL_CONTROL)
    return 0 if threshold is None else threshold


def high_value_threshold_minor(policy: RefundPolicy, currency: str) -> int | None:
    """Refunds of any reason above this (minor units of `currency`) need two senior approvals, and the
    console asks for one explicit confirmation before approving them.

    0 for a currency the policy has no limits for (every amount is high
    value); None when risk left the currency's high-value cell empty (no
    high-value dual control in it).
    """
    return _limit_minor(policy, currency, HIGH_VALUE)


def is_high_value(policy: RefundPolicy, currency: str, amount_minor: int) -> bool:
    threshold = high_value_threshold_minor(policy, currency)
    return threshold is not None and amount_minor > threshold


def approvals_required(*, policy: RefundPolicy, currency: str, reason: str, amount_minor: int) -> int:
    """How many approvals a refund of this amount needs: two above either dual-control threshold.

    Asked at creation (`policy_evaluate`) and again when an amount is edited (`refund_edit`).
    """
    if reason == Reason.GOODWILL and amount_minor > dual_control_threshold_minor(policy, currency):
        return 2
    return 2 if is_high_value(policy, currency, amount_minor) else 1


def policy_reply_template(policy: RefundPolicy, *, language: str, kind: str) -> str:
    """The policy's reply template of `kind` in `language`; the default text where the version has none."""
    templates = policy.reply_templates or {}
    text = (templates.get(language) or {}).get(kind)
    if text:
        return text
    defaults = DEFAULT_REPLY_TEMPLATES.get(language) or DEFAULT_REPLY_TEMPLATES["en"]
    return defaults[kind]


def policy_decline_draft(refund: Refund, *, language: str) -> str:
    """What a decline form offers as the message to the customer: the policy's decline draft.

    The refund's own draft when the policy recommended declining it (that draft
    is the decline), else the decline template of the refund's policy version in
    `language`. The console's decline form and Slack's decline modal both start from it.
    """
    if refund.policy_outcome == PolicyOutcome.REVIEW and refund.recommendation == Recommendation.DECLINE:
        return policy_reply(refund)
    return policy_reply_template(refund.policy_version, language=language, kind="decline")


def payment_reply_language(payment: Payment) -> tuple[str, str]:
    """The customer's language (en, de, ar) and their own locale, for a reply about this payment."""
    customer = payment.order.customer
    customer_locale = (customer.locale if customer else "") or ""
    return customer_language(requested=None, customer_locale=customer_locale), customer_locale


@dataclass(frozen=True)
class FeeTier:
    """The tier of the cancellation fee schedule a booking falls in, and what it allows."""

    min_days: int
    max_days: int | None  # the next earlier tier's min_days; None for the earliest tier
    percent: int
    entitled_minor: int  # the tier's share of the captured amount, rounded down

    def describe(self) -> str:
        if self.max_days is None:
            return f"{self.min_days} or more days before the start"
        if self.min_days == 0:
            return f"less than {self.max_days} days before the start, or after it"
        return f"{self.min_days} to {self.max_days} days before the start"


def fee_tier(*, schedule: list[dict[str, int]], starts_at: datetime, captured_minor: int, now: datetime) -> FeeTier:
    """Which tier a cancellation at `now` falls in (SPEC §3.2 cancellation fee schedule).

    Tiers are matched on whole days before the start (rounded down, so 6 days
    and 23 hours is 6 days), latest tier last; once the service has started
    only the 0-day tier applies. The share rounds down to the minor unit: a
    fee schedule never refunds more than it says.
    """
    tiers = sorted(schedule, key=lambda tier: tier["min_days"], reverse=True)
    days_before = (starts_at - now) // timedelta(days=1)
    upper = None
    for tier in tiers:
        if days_before >= tier["min_days"] or tier is tiers[-1]:
            entitled = captured_minor * tier["percent"] // 100
            return FeeTier(tier["min_days"], upper, tier["percent"], entitled)
        upper = tier["min_days"]
    raise ValueError("empty fee schedule")  # the admin form refuses one; kept for the type checker


def policy_evaluate(
    *,
    policy: RefundPolicy,
    payment: Payment,
    amount_minor: int,
    reason: str,
    has_evidence: bool,
    customer_refunds_24h: int,
    now: datetime | None = None,
    prorated: ProratedAmount | None = None,
) -> PolicyDecision:
    """Decide auto-approve or review for a refund request that passed the hard checks.

    `prorated`: the amount is this policy's own refund for time not used
    (`refunds.services.proration`): within its terms by construction, so the
    fee schedule and window rules do not apply to it; the others do.

    Hard refusals (not captured, voided, charged back, over remaining) are not
    policy outcomes here: the request service raises them before any refund
    exists. Order of rules: goodwill, cancellation fee schedule (bookings:
    orders with a service start, for the schedule's reasons — they skip the
    window), window, evidence, velocity, ceiling. Then high-value dual
    control, for every reason: above the currency's threshold the refund
    needs two senior approvals, so one the rules would auto-approve is
    reviewed instead (R-HIGH-VALUE-DUAL-CONTROL), and a reviewed one keeps
    its rule with the second approval named in its text.
    """
    now = now or timezone.now()
    decision = _decide(
        policy=policy,
        payment=payment,
        amount_minor=amount_minor,
        reason=reason,
        has_evidence=has_evidence,
        customer_refunds_24h=customer_refunds_24h,
        now=now,
        prorated=prorated,
    )
    currency = payment.currency
    if decision.approvals_required > 1 or not is_high_value(policy, currency, amount_minor):
        return decision
    if _limits_row(policy, currency) is None:
        rule, text = "R-CURRENCY-NO-LIMITS", f"no limits are set for {currency}, so two senior approvals are needed"
    else:
        threshold = format_plain(high_value_threshold_minor(policy, currency) or 0, currency)
        rule, text = "R-HIGH-VALUE-DUAL-CONTROL", f"refunds above {threshold} need two senior approvals"
    if decision.outcome == PolicyOutcome.AUTO_APPROVE:
        return PolicyDecision(PolicyOutcome.REVIEW, rule, text, Recommendation.APPROVE, 2, decision.draft_reply)
    return replace(decision, rule_text=f"{decision.rule_text}; {text} ({rule})", approvals_required=2)


def _decide(
    *,
    policy: RefundPolicy,
    payment: Payment,
    amount_minor: int,
    reason: str,
    has_evidence: bool,
    customer_refunds_24h: int,
    now: datetime,
    prorated: ProratedAmount | None = None,
) -> PolicyDecision:
    currency = payment.currency
    # The draft is a template in the customer's language; its {amount} is filled when the email is sent.
    language, customer_locale = payment_reply_language(payment)

    def reply(kind: str) -> str:
        return policy_reply_template(policy, language=language, kind=kind)

    def review(rule: str, text: str, recommendation: Recommendation, approvals: int = 1) -> PolicyDecision:
        return PolicyDecision(
            PolicyOutcome.REVIEW,
            rule,
            text,
            recommendation,
            approvals,
            reply("approve" if recommendation == Recommendation.APPROVE else "decline"),
        )

    if reason == Reason.GOODWILL:
        threshold = dual_control_threshold_minor(policy, currency)
        if amount_minor > threshold:
            return review(
                "R-GOODWILL-DUAL-CONTROL",
                f"goodwill refunds above {format_plain(threshold, currency)} need two senior approvals",
                Recommendation.APPROVE,
                approvals=2,
            )
        return review("R-GOODWILL-REVIEW", "goodwill refunds are always reviewed by an agent", Recommendation.APPROVE)

    starts_at = payment.order.service_starts_at
    booking = starts_at is not None and reason in policy.fee_schedule_reasons and policy.cancellation_fee_schedule
    # A prorated amount already went through the fee tier in force (and took off what earlier refunds hold).
    booking = booking and prorated is None
    if booking:
        # A booking's refund follows the fee schedule instead of the window since capture: it may
        # have been paid months before it is called off. What earlier refunds took counts against it.
        tier = fee_tier(
            schedule=policy.cancellation_fee_schedule, starts_at=starts_at, captured_minor=payment.amount_minor, now=now
        )
        allowed = max(tier.entitled_minor - payment.refund_reserved_minor, 0)
        if amount_minor > allowed:
            terms = f"cancellations {tier.describe()} are refunded {tier.percent} %"
            return PolicyDecision(
                PolicyOutcome.REVIEW,
                f"R-CANCEL-FEE-{tier.percent}",
                f"{terms}: at most {format_plain(allowed, currency)} of this booking can still be refunded",
                Recommendation.DECLINE,
                1,
                # The share and what it allows are the policy's facts now, not the refund's: written in at drafting.
                reply_fill(
                    reply("decline_fee"),
                    {
                        "percent": str(tier.percent),
                        "refundable": format_amount(allowed, currency, babel_locale(language, customer_locale)),
                    },
                ),
            )

    captured_at = payment.captured_at or now
    if not booking and prorated is None and now - captured_at > timedelta(days=policy.window_days):
        return review(
            f"R-WINDOW-{policy.window_days}D",
            f"refunds within {policy.window_days} days of capture",
            Recommendation.DECLINE,
        )

    if reason in policy.evidence_required_reasons and not has_evidence:
        return review(
            f"R-EVIDENCE-{reason.upper()}",
            f"'{reason}' refunds need evidence (photo, document or reference)",
            Recommendation.DECLINE,
        )

    if customer_refunds_24h >= policy.velocity_max_per_24h:
        return review(
            "R-VELOCITY-24H",
            f"more than {policy.velocity_max_per_24h} refunds for one customer in 24 hours are reviewed",
            Recommendation.DECLINE,
        )

    if _limits_row(policy, currency) is None:
        return review(
            "R-CURRENCY-NO-LIMITS",
            f"no limits are set for {currency}: its refunds are never auto-approved",
            Recommendation.APPROVE,
            approvals=2,
        )
    ceiling_minor = _limit_minor(policy, currency, reason)
    if ceiling_minor is None:
        return review(
            f"R-CEILING-{reason.upper()}",
            f"'{reason}' refunds in {currency} are never auto-approved",
            Recommendation.APPROVE,
        )
    if amount_minor > ceiling_minor:
        return review(
            f"R-CEILING-{reason.upper()}",
            f"'{reason}' refunds above {format_plain(ceiling_minor, currency)} are reviewed",
            Recommendation.APPROVE,
        )
    if prorated is not None:
        when = (
            f"for the time not used ({prorated.unused_days}/{prorated.total_days} days, "
            f"{prorated.fee_percent} % after the cancellation fee)"
        )
    elif booking:
        when = f"within the cancellation terms ({tier.percent} % {tier.describe()})"
    else:
        when = f"within {policy.window_days} days of capture"
    return PolicyDecision(
        PolicyOutcome.AUTO_APPROVE,
        f"R-AUTO-{reason.upper()}",
        f"'{reason}' refunds up to {format_plain(ceiling_minor, currency)} {when} are approved automatically",
        Recommendation.APPROVE,
        1,
        reply("approve"),
    )


def customer_refund_count_24h(*, customer_id: int, now: datetime | None = None) -> int:
    """The customer's refunds of the last 24 hours (the velocity rule), through the (customer, created_at) index.

    On PostgreSQL a create counts in its locking statement instead
    (refunds.services.request_lock); this is the same count, for SQLite.
    """
    since = (now or timezone.now()) - timedelta(hours=24)
    return Refund.objects.filter(customer_id=customer_id, created_at__gte=since).count()
