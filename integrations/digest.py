"""The weekly digest: what people decided last week, read back to the seniors (issue 13, docs/slack.md).

`digest_build(week)` reads one ISO week, Monday 00:00 to the next Monday
00:00 in UTC — the zone of every scheduled report here (CELERY_TIMEZONE; the
daily reconciliation's days are UTC days too) — with a fixed handful of
aggregate queries, however many refunds the week had:

1. overrides: refunds decided that week against the policy's recommendation
   (`Refund.override_flagged`, the flag the audit events of those decisions
   carry), with who decided, what the draft said and what was done;
2. declines, grouped by the customer-facing reason when the same text repeats;
3. drafts edited, per policy rule: of the reviewed refunds citing the rule
   that were decided that week, how many a person edited, and the change they
   made most often — the sign that a rule (or its draft) wants rewriting;
4. counts by outcome, with amounts per currency;
5. median time from request to decision;
6. refunds waiting longer than the decision SLA right now
   (`refunds.selectors.refunds_decision_overdue`, the console's definition).

"Decided" is `Refund.decided_at`: set once, by the approval that moves the
refund (a person's, or the policy's at creation) or by the decline. The
outcomes that come later (canceled, completed, failed) are read from the
audit trail: a refund counts once per outcome it reached that week.

Rendering is `integrations.digest_render`; sending `integrations.digest_send`.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Case, Count, Exists, F, OuterRef, Prefetch, Q, Sum, Value, When
from django.urls import reverse
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from refunds.enums import DecisionKind, PolicyOutcome, RefundState
from refunds.models import Decision, Refund
from refunds.selectors import decision_sla, policy_reply, refunds_decision_overdue

# How many refunds past the SLA the digest names (the count is always whole).
OVERDUE_LISTED = 10

_WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week ("2026-W45"): Monday 00:00 UTC to the next Monday 00:00 UTC."""

    year: int
    week: int

    def __post_init__(self) -> None:
        # date.fromisocalendar refuses week 53 of a 52-week year, and anything outside 1..53.
        date.fromisocalendar(self.year, self.week, 1)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """'2026-W45' -> IsoWeek(2026, 45); ValueError naming the problem for anything else."""
        match = _WEEK.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week: write it as YYYY-Www, e.g. 2026-W45")
        year, week = int(match[1]), int(match[2])
        if not 1 <= year <= 9998:
            raise ValueError(f"{text!r} is not an ISO week: the year must be 0001 to 9998")
        try:
            return cls(year, week)
        except ValueError:
            # 28 December is always in the year's last ISO week.
            last = date(year, 12, 28).isocalendar().week
            raise ValueError(f"{text!r} is not an ISO week: {year} has weeks W01 to W{last:02d}") from None

    @classmethod
    def containing(cls, moment: datetime) -> IsoWeek:
        iso = moment.astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_complete(cls, now: datetime | None = None) -> IsoWeek:
        """The week before the one `now` is in: on Monday morning, the week that just ended."""
        return cls.containing((now or timezone.now()) - timedelta(days=7))

    @property
    def start(self) -> datetime:
        return datetime.combine(date.fromisocalendar(self.year, self.week, 1), datetime.min.time(), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00: the first moment that is no longer this week."""
        return self.start + timedelta(days=7)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


# --- what the digest holds ---------------------------------------------------------


@dataclass(frozen=True)
class RefundRef:
    public_id: str
    card_url: str


@dataclass(frozen=True)
class Override:
    """A decision against the policy's recommendation on a reviewed refund."""

    refund: RefundRef
    rule: str
    rule_text: str
    recommendation: str  # what the policy drafted: approve or decline
    done: str  # what people did: "approved" or "declined"
    decided_by: tuple[str, ...]  # the approvers (two under dual control) or the decliner
    decided_at: datetime
    amount_minor: int
    currency: str
    requested_minor: int  # before any edit
    draft_reply: str  # the policy's draft, as it was before any edit
    decline_reason: str  # to the customer, when declined
    rationale: str  # staff only, when declined with one


@dataclass(frozen=True)
class DeclineGroup:
    """Declines that gave the customer the same reason (the text as written, trimmed)."""

    reason: str
    refunds: tuple[RefundRef, ...]
    rationales: tuple[str, ...]  # staff only: the distinct internal rationales given with it

    @property
    def count(self) -> int:
        return len(self.refunds)


# The change a person made to a drafted refund, over all their edits of it (first amount -> last).
LOWERED = "lowered"
RAISED = "raised"
REWORDED = "reworded"
LOWERED_REWORDED = "lowered_reworded"
RAISED_REWORDED = "raised_reworded"
CHANGE_LABELS = {
    LOWERED: "lowering the amount",
    RAISED: "raising the amount",
    REWORDED: "rewording the reply only",
    LOWERED_REWORDED: "lowering the amount and rewording the reply",
    RAISED_REWORDED: "raising the amount and rewording the reply",
}


@dataclass(frozen=True)
class RuleEdits:
    """One policy rule: its reviewed refunds decided this week, and how often people edited the draft."""

    rule: str
    reviewed: int
    edited: int
    changes: dict[str, int] = field(default_factory=dict)  # change -> refunds

    @property
    def ratio(self) -> float:
        return self.edited / self.reviewed if self.reviewed else 0.0

    @property
    def common_change(self) -> str | None:
        """The change made most often (ties: the order of CHANGE_LABELS); None without a net change."""
        if not self.changes:
            return None
        return max(CHANGE_LABELS, key=lambda change: (self.changes.get(change, 0), -list(CHANGE_LABELS).index(change)))

    @property
    def sentence(self) -> str:
        """'R-QUALITY drafts were edited 14 of 20 times, usually lowering the amount.'"""
        text = f"{self.rule} drafts were edited {self.edited} of {self.reviewed} times"
        if self.common_change:
            text += f", usually {CHANGE_LABELS[self.common_change]}"
        return text + "."


AUTO_APPROVED = "auto_approved"
APPROVED_BY_PEOPLE = "approved_by_people"
DECLINED = "declined"
CANCELED = "canceled"
COMPLETED = "completed"
FAILED = "failed"
OUTCOME_LABELS = {
    AUTO_APPROVED: "Auto-approved",
    APPROVED_BY_PEOPLE: "Approved by people",
    DECLINED: "Declined",
    CANCELED: "Canceled",
    COMPLETED: "Completed",
    FAILED: "Failed",
}
# The audit actions of a refund reaching each later outcome (a move can be named more precisely
# than its state: a manual payout completes, a reversal fails, giving up on a failure cancels).
_LATER_OUTCOMES = {
    CANCELED: (AuditAction.REFUND_CANCELED, AuditAction.REFUND_FAILURE_CANCELED),
    COMPLETED: (AuditAction.REFUND_COMPLETED, AuditAction.REFUND_PAYOUT_PAID),
    FAILED: (AuditAction.REFUND_FAILED, AuditAction.REFUND_PROVIDER_REVERSED),
}


@dataclass(frozen=True)
class OutcomeCount:
    key: str
    count: int
    amounts: tuple[tuple[str, int], ...]  # (currency, minor units), by currency

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.key]


@dataclass(frozen=True)
class WaitingRefund:
    refund: RefundRef
    created_at: datetime
    amount_minor: int
    currency: str
    rule: str


@dataclass(frozen=True)
class Digest:
    week: IsoWeek
    generated_at: datetime
    overrides: list[Override]
    declines: list[DeclineGroup]
    edits: list[RuleEdits]
    outcomes: list[OutcomeCount]
    median_by_people: timedelta | None
    decided_by_people: int
    median_all: timedelta | None
    decided_all: int
    sla: timedelta
    overdue_count: int
    overdue: list[WaitingRefund]  # the oldest OVERDUE_LISTED, oldest first

    @property
    def start(self) -> datetime:
        return self.week.start

    @property
    def end(self) -> datetime:
        return self.week.end

    @property
    def declined_count(self) -> int:
        return sum(group.count for group in self.declines)


# --- building it -------------------------------------------------------------------


def card_url(public_id: str) -> str:
    return settings.APP_BASE_URL + reverse("console:card", kwargs={"public_id": public_id})


def _ref(public_id: str) -> RefundRef:
    return RefundRef(public_id, card_url(public_id))


def digest_build(week: IsoWeek, *, now: datetime | None = None) -> Digest:
    """The digest of `week`; the SLA section is as of `now` (default: this moment).

    Ten queries whatever the number of refunds (tests/integrations/test_digest.py
    guards it): nothing is read per refund.
    """
    now = now or timezone.now()
    decided = Refund.objects.filter(decided_at__gte=week.start, decided_at__lt=week.end)
    overdue = refunds_decision_overdue(now)
    return Digest(
        week=week,
        generated_at=now,
        overrides=_overrides(decided),
        declines=_declines(decided),
        edits=_edits(decided),
        outcomes=_outcomes(decided, week),
        **_medians(decided),
        sla=decision_sla(),
        overdue_count=overdue.count(),
        overdue=[
            WaitingRefund(_ref(r.public_id), r.created_at, r.amount_minor, r.currency, r.policy_rule)
            for r in overdue[:OVERDUE_LISTED]
        ],
    )


def _overrides(decided) -> list[Override]:
    """Two queries: the flagged refunds, then all their decisions (with their actors)."""
    refunds = (
        decided.filter(override_flagged=True)
        .prefetch_related(Prefetch("decisions", queryset=Decision.objects.select_related("actor", "api_key")))
        .order_by("decided_at", "id")
    )
    overrides = []
    for refund in refunds:
        decisions = list(refund.decisions.all())
        edits = [d for d in decisions if d.kind == DecisionKind.EDIT]
        declined = refund.state == RefundState.DENIED
        final_kind = DecisionKind.DENY if declined else DecisionKind.APPROVE
        deciders = [d for d in decisions if d.kind == final_kind]
        overrides.append(
            Override(
                refund=_ref(refund.public_id),
                rule=refund.policy_rule,
                rule_text=refund.policy_rule_text,
                recommendation=refund.recommendation,
                done="declined" if declined else "approved",
                decided_by=tuple(_who(d) for d in deciders),
                decided_at=refund.decided_at,
                amount_minor=refund.amount_minor,
                currency=refund.currency,
                requested_minor=edits[0].amount_before_minor if edits else refund.amount_minor,
                draft_reply=policy_reply(refund),
                decline_reason=refund.decline_reason if declined else "",
                rationale=next((d.rationale for d in deciders if d.rationale), ""),
            )
        )
    return overrides


def _who(decision: Decision) -> str:
    if decision.actor_id:
        return decision.actor.get_full_name() or decision.actor.get_username()
    if decision.api_key_id:
        return f"API key {decision.api_key.prefix}"
    return "system"


def _declines(decided) -> list[DeclineGroup]:
    """One query: the decline Decisions of the refunds declined that week, grouped by the reason's text."""
    rows = (
        Decision.objects.filter(kind=DecisionKind.DENY, refund__in=decided.filter(state=RefundState.DENIED))
        .order_by("refund__decided_at", "refund_id", "id")
        .values_list("refund__public_id", "refund__decline_reason", "rationale")
    )
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for public_id, reason, rationale in rows:
        grouped[reason.strip()].append((public_id, rationale.strip()))
    groups = [
        DeclineGroup(
            reason=reason,
            refunds=tuple(_ref(public_id) for public_id in dict.fromkeys(p for p, _ in items)),
            rationales=tuple(dict.fromkeys(r for _, r in items if r)),
        )
        for reason, items in grouped.items()
    ]
    # The most repeated reasons first; among equals, the order they were first given.
    return sorted(groups, key=lambda group: -group.count)


def _edits(decided) -> list[RuleEdits]:
    """Two queries: reviewed refunds per rule, then every edit of them (no reply texts are fetched)."""
    reviewed = decided.filter(policy_outcome=PolicyOutcome.REVIEW)
    per_rule = dict(reviewed.values_list("policy_rule").annotate(n=Count("id")).order_by())
    rows = (
        Decision.objects.filter(kind=DecisionKind.EDIT, refund__in=reviewed)
        .annotate(
            reworded=Case(
                When(reply_before=F("reply_after"), then=Value(False)), default=Value(True), output_field=BooleanField()
            )
        )
        .order_by("refund_id", "created_at", "id")
        .values_list("refund_id", "refund__policy_rule", "amount_before_minor", "amount_after_minor", "reworded")
    )
    first_last: dict[int, list] = {}
    for refund_id, rule, before, after, reworded in rows:
        seen = first_last.setdefault(refund_id, [rule, before, after, False])
        seen[2] = after
        seen[3] = seen[3] or reworded
    edited: Counter[str] = Counter()
    changes: dict[str, Counter[str]] = defaultdict(Counter)
    for rule, before, after, reworded in first_last.values():
        edited[rule] += 1
        change = _change(before, after, reworded)
        if change is not None:
            changes[rule][change] += 1
    result = [
        RuleEdits(rule=rule, reviewed=count, edited=edited[rule], changes=dict(changes[rule]))
        for rule, count in per_rule.items()
    ]
    return sorted(result, key=lambda r: (-r.ratio, -r.edited, r.rule))


def _change(before: int | None, after: int | None, reworded: bool) -> str | None:
    """What one refund's edits amounted to; None when they cancelled out (changed, then changed back)."""
    delta = (after or 0) - (before or 0) if before is not None and after is not None else 0
    if delta < 0:
        return LOWERED_REWORDED if reworded else LOWERED
    if delta > 0:
        return RAISED_REWORDED if reworded else RAISED
    return REWORDED if reworded else None


def _outcomes(decided, week: IsoWeek) -> list[OutcomeCount]:
    """Two queries: decisions of the week by kind and currency; later outcomes reached that week."""
    counts: dict[str, int] = Counter()
    amounts: dict[str, Counter[str]] = defaultdict(Counter)
    rows = (
        decided.annotate(
            declined=Case(
                When(state=RefundState.DENIED, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
        .values_list("policy_outcome", "declined", "currency")
        .annotate(n=Count("id"), total=Sum("amount_minor"))
        .order_by()
    )
    for outcome, declined, currency, n, total in rows:
        if declined:
            key = DECLINED
        elif outcome == PolicyOutcome.AUTO_APPROVE:
            key = AUTO_APPROVED
        else:
            key = APPROVED_BY_PEOPLE
        counts[key] += n
        amounts[key][currency] += total

    events = AuditEvent.objects.filter(occurred_at__gte=week.start, occurred_at__lt=week.end)

    def reached(actions: tuple[str, ...]) -> Exists:
        return Exists(events.filter(refund=OuterRef("pk"), action__in=actions))

    # Only refunds with such an event that week are looked at (occurred_at is indexed).
    candidates = events.filter(action__in=[a for actions in _LATER_OUTCOMES.values() for a in actions])
    later = (
        Refund.objects.filter(pk__in=candidates.values("refund_id"))
        .annotate(**{key: reached(actions) for key, actions in _LATER_OUTCOMES.items()})
        .filter(Q(**{CANCELED: True}) | Q(**{COMPLETED: True}) | Q(**{FAILED: True}))
        .values_list(*_LATER_OUTCOMES, "currency")
        .annotate(n=Count("id"), total=Sum("amount_minor"))
        .order_by()
    )
    for *flags, currency, n, total in later:
        for key, reached_it in zip(_LATER_OUTCOMES, flags, strict=True):
            if reached_it:
                counts[key] += n
                amounts[key][currency] += total
    return [OutcomeCount(key, counts[key], tuple(sorted(amounts[key].items()))) for key in OUTCOME_LABELS]


def _medians(decided) -> dict[str, object]:
    """One query: request-to-decision times of the week's decisions, their medians (by people, all).

    The median is taken here rather than in SQL: the embedded demo database
    (SQLite) has no percentile aggregate, and a week's decisions are a list of
    timestamps, not a table to page through.
    """
    rows = decided.values_list("policy_outcome", "created_at", "decided_at")
    # An auto-approval's decided_at is taken just before the row's created_at: never below zero.
    waits = [(outcome, max(d - c, timedelta(0))) for outcome, c, d in rows]
    by_people = [wait for outcome, wait in waits if outcome == PolicyOutcome.REVIEW]
    everyone = [wait for _, wait in waits]
    return {
        "median_by_people": statistics.median(by_people) if by_people else None,
        "decided_by_people": len(by_people),
        "median_all": statistics.median(everyone) if everyone else None,
        "decided_all": len(everyone),
    }
