"""Evaluating the refund policy (SPEC §3.2).

Rules are checked in a fixed order and the first that applies decides; the
outcome always names that rule (`R-…: text`) and the policy version, so the
decision can be explained later even after risk edits the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.i18n import babel_locale, customer_language, format_amount
from core.money import exponent, format_plain
from refunds.enums import PolicyOutcome, Reason, Recommendation
from refunds.models import Payment, Refund, RefundPolicy
from refunds.replies import DEFAULT_REPLY_TEMPLATES, reply_fill


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


def policy_get_active() -> RefundPolicy:
    """The policy in force: the highest version, created with defaults if none exists."""
    policy = RefundPolicy.objects.order_by("-version").first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            return RefundPolicy.objects.create(version=1, note="Default policy")
    except IntegrityError:
        # Another process created version 1 at the same moment.
        return RefundPolicy.objects.get(version=1)


def _limit_minor(value: Decimal | str, currency: str) -> int:
    """A policy limit in the currency's minor units, rounded down.

    A limit like 199.99 means 199 in JPY: rounding down is the conservative
    side for both ceilings (fewer auto-approvals) and the dual-control
    threshold (more dual control).
    """
    return int((Decimal(value) * 10 ** exponent(currency)).to_integral_value(rounding=ROUND_FLOOR))


def dual_control_threshold_minor(policy: RefundPolicy, currency: str) -> int:
    return _limit_minor(policy.dual_control_threshold, currency)


def policy_reply_template(policy: RefundPolicy, *, language: str, kind: str) -> str:
    """The policy's reply template of `kind` in `language`; the default text where the version has none."""
    templates = policy.reply_templates or {}
    text = (templates.get(language) or {}).get(kind)
    if text:
        return text
    defaults = DEFAULT_REPLY_TEMPLATES.get(language) or DEFAULT_REPLY_TEMPLATES["en"]
    return defaults[kind]


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
) -> PolicyDecision:
    """Decide auto-approve or review for a refund request that passed the hard checks.

    Hard refusals (not captured, voided, charged back, over remaining) are not
    policy outcomes here: the request service raises them before any refund
    exists. Order of rules: goodwill, cancellation fee schedule (bookings:
    orders with a service start, for the schedule's reasons — they skip the
    window), window, evidence, velocity, ceiling.
    """
    now = now or timezone.now()
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
    if not booking and now - captured_at > timedelta(days=policy.window_days):
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

    ceiling = policy.auto_approve_ceilings.get(reason)
    if ceiling is None:
        return review(
            f"R-CEILING-{reason.upper()}", f"'{reason}' refunds are never auto-approved", Recommendation.APPROVE
        )
    ceiling_minor = _limit_minor(ceiling, currency)
    if amount_minor > ceiling_minor:
        return review(
            f"R-CEILING-{reason.upper()}",
            f"'{reason}' refunds above {format_plain(ceiling_minor, currency)} are reviewed",
            Recommendation.APPROVE,
        )
    when = (
        f"within the cancellation terms ({tier.percent} % {tier.describe()})"
        if booking
        else f"within {policy.window_days} days of capture"
    )
    return PolicyDecision(
        PolicyOutcome.AUTO_APPROVE,
        f"R-AUTO-{reason.upper()}",
        f"'{reason}' refunds up to {format_plain(ceiling_minor, currency)} {when} are approved automatically",
        Recommendation.APPROVE,
        1,
        reply("approve"),
    )


def customer_refund_count_24h(*, customer_id: int, now: datetime | None = None) -> int:
    since = (now or timezone.now()) - timedelta(hours=24)
    return Refund.objects.filter(order__customer_id=customer_id, created_at__gte=since).count()
