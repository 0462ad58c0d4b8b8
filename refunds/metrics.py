"""Prometheus metrics of the refund domain (SPEC §10, docs/operations.md "Metrics"); the scrape is `core.metrics`.

In-process histograms and counters are observed by whichever process did the
work (a gunicorn worker for a decision made over HTTP, a Celery worker for a
settlement) and summed across processes by the multiprocess collector. The
SLO ratios, the outbox backlog and the held webhooks are read from the
database at scrape time (`database_gauges`), so every process reports the same
number whoever did the work.

Synthetic refunds (the merchant flagged `Merchant.synthetic`, slug `synthetic`,
`manage.py synthetic_refund`) prove the path works; they are not customers'
refunds, so the SLO histograms and ratios leave them out. The flag, never the
slug: only the journey sets it, so no tenant can slip out of the measures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.money import minor_to_major
from providers.registry import provider_class, provider_names
from refunds.enums import (
    DecisionKind,
    OutboxStatus,
    PauseKind,
    PolicyOutcome,
    RefundInstrument,
    RefundState,
    WebhookStatus,
)
from refunds.models import Decision, Merchant, OperationsPause, OutboxMessage, Refund, WebhookEvent

S = RefundState
# The brief's targets (docs/operations.md "Metrics"): auto-decided within 2 minutes, completed by T+5 days.
AUTO_DECISION_SLO = timedelta(seconds=120)
SETTLEMENT_SLO = timedelta(days=5)
# The settlement cohort: old enough that every refund in it had its 5 days, recent enough to be news.
SETTLEMENT_COHORT = (timedelta(days=5), timedelta(days=12))

REFUND_CREATE_LATENCY_MS = Histogram(
    "refund_create_latency_ms",
    "Time to accept a refund create request, in milliseconds.",
    buckets=(2, 5, 10, 15, 25, 50, 100, 250, 500, 1000, 2500),
)
REFUND_OUTCOME_TOTAL = Counter("refund_outcome_total", "Refunds reaching a state.", ["state"])
WEBHOOK_REPLAY_DEDUP_TOTAL = Counter(
    "webhook_replay_dedup_total", "Provider webhook events received again and ignored."
)
REFUND_DECISION_SECONDS = Histogram(
    "refund_decision_seconds",
    "Request (created_at) to the refund's first decision, once per refund; synthetic refunds left out.",
    ["provider", "reason", "outcome", "decided_by"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 3600, 14400, 86400, 259200),
)
REFUND_SETTLEMENT_SECONDS = Histogram(
    "refund_settlement_seconds",
    "Request (created_at) to completed or terminal failure, once per refund; synthetic refunds left out.",
    ["provider", "reason", "outcome"],
    buckets=(60, 300, 900, 3600, 21600, 86400, 172800, 259200, 345600, 432000, 604800, 1209600),
)
# outcome: sent (the provider answered with a refund, done or pending), retry (unknown outcome: tried
# again later), dead (dead-lettered), rejected (the provider refused: the refund failed), held (submission
# paused for the provider: not sent, kept in order).
OUTBOX_DELIVERY_ATTEMPTS_TOTAL = Counter(
    "outbox_delivery_attempts_total", "Provider outbox delivery attempts, by outcome.", ["provider", "outcome"]
)
PROVIDER_WEBHOOK_LAG_SECONDS = Histogram(
    "provider_webhook_lag_seconds",
    "Provider event's created time to the event applied to its refund (or found already applied).",
    ["provider"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
REFUND_POLICY_OVERRIDES_TOTAL = Counter(
    "refund_policy_overrides_total",
    "Final decisions of a person against the policy's recommendation on a reviewed refund (approve, deny).",
    ["decision"],
)

# Major units (1.25 USD, 150 JPY), so currencies of different exponents read alike on one panel.
REFUND_AMOUNT_TOTAL = Counter(
    "refund_amount_total",
    "Money paid back to customers (kind settled: the refund completed) and taken back by the provider "
    "(kind reversed), per currency and instrument, in major units; synthetic refunds left out.",
    ["currency", "instrument", "kind"],
)

# merchant id -> is the synthetic merchant. The flag is set when the merchant is created and never
# changes, so one look-up per merchant and process; it keeps the question off the hot path of every decision.
_synthetic: dict[int | None, bool] = {None: False}


def is_synthetic(refund: Refund) -> bool:
    """Whether `refund` is a synthetic journey's (`Merchant.synthetic`): left out of the SLO measures."""
    merchant_id = refund.merchant_id
    if merchant_id not in _synthetic:
        flag = Merchant.objects.filter(pk=merchant_id).values_list("synthetic", flat=True).first()
        _synthetic[merchant_id] = bool(flag)
    return _synthetic[merchant_id]


@dataclass(frozen=True)
class SloObservation:
    """One observation of an SLO histogram, worked out in the move's transaction and made after its commit."""

    histogram: Histogram
    labels: tuple[str, ...]
    seconds: float

    def observe(self) -> None:
        self.histogram.labels(*self.labels).observe(self.seconds)


@dataclass(frozen=True)
class AmountObservation:
    """Money a move settled or lost, counted once its transaction commits (the executive dashboard)."""

    labels: tuple[str, ...]
    amount: float

    def observe(self) -> None:
        REFUND_AMOUNT_TOTAL.labels(*self.labels).inc(self.amount)


def amount_observation(refund: Refund, *, source: str | None, to: str) -> AmountObservation | None:
    """What a move adds to `refund_amount_total`: its amount when it completes, again when a completed one fails.

    In-process and counted after commit (each process's share summed by the
    multiprocess scrape), not summed from the ledger at scrape time: that would
    read every settlement ever posted on each scrape.
    """
    if to == S.COMPLETED:
        kind = "settled"
    elif to == S.FAILED and source == S.COMPLETED:
        kind = "reversed"
    else:
        return None
    if is_synthetic(refund):
        return None
    amount = float(minor_to_major(refund.amount_minor, refund.currency))
    return AmountObservation((refund.currency, refund.instrument or RefundInstrument.ORIGINAL_PAYMENT, kind), amount)


def slo_observation(
    refund: Refund, *, source: str | None, to: str, system: bool, at: datetime
) -> SloObservation | None:
    """What a move of `refund` from `source` to `to` at `at` adds to the SLO histograms, or None.

    Once per refund: the first decision (`requested → approved | denied`;
    `system` is the policy deciding, anyone else a person); the settlement on
    `completed` or a terminal failure (a retryable one may still complete; a
    provider reversal of a completed refund was measured when it completed).
    """
    if to in (S.APPROVED, S.DENIED) and source == S.REQUESTED:
        histogram = REFUND_DECISION_SECONDS
        outcome = "approved" if to == S.APPROVED else "denied"
        extra: tuple[str, ...] = (outcome, "policy" if system else "person")
    elif to == S.COMPLETED or (to == S.FAILED and not refund.failure_retryable and source != S.COMPLETED):
        histogram = REFUND_SETTLEMENT_SECONDS
        extra = ("completed" if to == S.COMPLETED else "failed",)
    else:
        return None
    if is_synthetic(refund):
        return None
    seconds = max((at - refund.created_at).total_seconds(), 0.0)
    return SloObservation(histogram, (refund.payment.provider, refund.reason, *extra), seconds)


def outbox_attempt(*, provider: str, outcome: str) -> None:
    """Count one delivery attempt of a provider outbox message (`refunds.services.outbox`)."""
    OUTBOX_DELIVERY_ATTEMPTS_TOTAL.labels(provider=provider, outcome=outcome).inc()


def policy_override(*, decision: str) -> None:
    """Count a person's final decision against the policy's recommendation (after its commit)."""
    REFUND_POLICY_OVERRIDES_TOTAL.labels(decision=decision).inc()


def webhook_applied(*, provider: str, created_at: datetime | None) -> None:
    """Observe how late a provider event was applied (events without a created time are not observed)."""
    if created_at is not None:
        lag = (timezone.now() - created_at).total_seconds()
        PROVIDER_WEBHOOK_LAG_SECONDS.labels(provider=provider).observe(max(lag, 0.0))


# --- Scrape-time gauges, from the database --------------------------------------------------------------


def _customer_refunds():
    return Refund.objects.exclude(merchant__synthetic=True)


# Issue 16 kill switch: requests the policy would have approved, sent to review because auto-approval was paused.
REFUND_AUTO_APPROVAL_PAUSED_TOTAL = Counter(
    "refund_auto_approval_paused_total",
    "Refund requests sent to review because auto-approval was paused (refunds.services.pauses).",
)


def auto_decision_rate_pct(*, hours: int = 24) -> float:
    """Percent of refunds created in the window that the policy approved on its own."""
    since = timezone.now() - timedelta(hours=hours)
    totals = (
        _customer_refunds()
        .filter(created_at__gte=since)
        .aggregate(total=Count("id"), auto=Count("id", filter=Q(policy_outcome=PolicyOutcome.AUTO_APPROVE)))
    )
    if not totals["total"]:
        return 0.0
    return round(100.0 * totals["auto"] / totals["total"], 2)


def auto_decided_within_slo(*, now: datetime) -> tuple[int, int]:
    """(decided by the policy within 2 minutes, all) of the refunds of the last 24 h.

    Decided by the policy: its system Decision (no person, no API key), which
    a refund the policy sent to review (or auto-approval paused) never has.
    """
    by_policy = Decision.objects.filter(
        refund=OuterRef("pk"), kind=DecisionKind.APPROVE, actor__isnull=True, api_key__isnull=True
    )
    totals = (
        _customer_refunds()
        .filter(created_at__gte=now - timedelta(hours=24))
        .aggregate(
            total=Count("id"),
            within=Count(
                "id",
                filter=Q(Exists(by_policy), decided_at__lte=F("created_at") + AUTO_DECISION_SLO),
            ),
        )
    )
    return totals["within"], totals["total"]


def completed_within_slo(*, now: datetime) -> tuple[int, int]:
    """(completed within 5 days, approved) of the refunds created 5 to 12 days ago.

    Approved: decided and not denied (a refund canceled after its approval
    counts: it was not settled in time). Completed: `completed_at` set, even
    if a provider reversal failed it later — it was paid within the target.
    """
    young, old = SETTLEMENT_COHORT
    totals = (
        _customer_refunds()
        .filter(created_at__gte=now - old, created_at__lt=now - young, decided_at__isnull=False)
        .exclude(state=S.DENIED)
        .aggregate(
            approved=Count("id"),
            within=Count("id", filter=Q(completed_at__lte=F("created_at") + SETTLEMENT_SLO)),
        )
    )
    return totals["within"], totals["approved"]


# Approved and not yet final: on its way to the provider, out there, or failed and still retryable.
_UNSETTLED = Q(state__in=[S.APPROVED, S.SUBMITTING, S.PROVIDER_PENDING]) | Q(state=S.FAILED, failure_retryable=True)


def _ratio(name: str, documentation: str, counts: tuple[int, int]) -> GaugeMetricFamily:
    """A ratio gauge; no sample while the denominator is 0 (no data, rather than a made-up 0 or 1)."""
    gauge = GaugeMetricFamily(name, documentation)
    good, total = counts
    if total:
        gauge.add_metric([], good / total)
    return gauge


def slo_gauges(*, now: datetime) -> Iterator[GaugeMetricFamily]:
    """The SLO ratios of the brief and the refunds already late (synthetic refunds left out)."""
    yield _ratio(
        "refund_auto_decided_within_slo_ratio",
        "Refunds of the last 24 h decided by the policy within 120 s, over all of them (target 0.8).",
        auto_decided_within_slo(now=now),
    )
    yield _ratio(
        "refund_completed_within_slo_ratio",
        "Approved refunds created 5 to 12 days ago that completed within 5 days, over all of them (target 0.95).",
        completed_within_slo(now=now),
    )
    overdue = GaugeMetricFamily(
        "refund_settlement_overdue", "Approved refunds not yet completed nor finally failed, created over 5 days ago."
    )
    overdue.add_metric([], _customer_refunds().filter(_UNSETTLED, created_at__lt=now - SETTLEMENT_SLO).count())
    yield overdue


def outbox_gauges(*, now: datetime) -> Iterator[GaugeMetricFamily]:
    """The provider outbox per provider: pending (held by a submission pause or not), the oldest's age, dead letters.

    Every provider with an API gets its series, at 0 when it has nothing, so an
    alert or a panel sees "none" rather than "no data".
    """
    paused = set(
        OperationsPause.objects.filter(kind=PauseKind.SUBMISSION, resumed_at__isnull=True).values_list(
            "provider", flat=True
        )
    )
    rows = (
        OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD])
        .values("status", provider=F("refund__payment__provider"))
        .annotate(n=Count("pk"), oldest=Min("created_at"))
    )
    # A provider settled by hand has payout tasks, never an outbox message: no series of its own.
    providers = [name for name in provider_names() if not provider_class(name).settles_by_hand]
    pending = dict.fromkeys(providers, 0)
    dead = dict.fromkeys(providers, 0)
    oldest: dict[str, datetime | None] = dict.fromkeys(providers)
    for row in rows:
        provider = row["provider"]
        pending.setdefault(provider, 0)
        if row["status"] == OutboxStatus.DEAD:
            dead[provider] = row["n"]
        else:
            pending[provider] = row["n"]
            oldest[provider] = row["oldest"]
    backlog = GaugeMetricFamily(
        "outbox_pending_messages",
        "Provider outbox messages not yet delivered; held=true while submission to the provider is paused.",
        labels=["provider", "held"],
    )
    age = GaugeMetricFamily(
        "outbox_oldest_pending_seconds",
        "Age of the oldest pending provider outbox message (0 when none), held ones included.",
        labels=["provider"],
    )
    letters = GaugeMetricFamily(
        "outbox_dead_letters", "Provider outbox messages dead-lettered and not replayed.", labels=["provider"]
    )
    for provider in sorted(pending):
        held = provider in paused or "" in paused
        backlog.add_metric([provider, "true"], pending[provider] if held else 0)
        backlog.add_metric([provider, "false"], 0 if held else pending[provider])
        first = oldest.get(provider)
        age.add_metric([provider], max((now - first).total_seconds(), 0.0) if first else 0.0)
        letters.add_metric([provider], dead.get(provider, 0))
    yield from (backlog, age, letters)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    now = timezone.now()
    gauge = GaugeMetricFamily(
        "refund_auto_decision_rate_pct", "Share of refunds of the last 24 h decided by policy without a person."
    )
    gauge.add_metric([], auto_decision_rate_pct())
    yield gauge
    yield from slo_gauges(now=now)
    yield from outbox_gauges(now=now)
    held = GaugeMetricFamily("provider_webhooks_held", "Provider webhook events held for finance, not yet reviewed.")
    held.add_metric([], WebhookEvent.objects.filter(status=WebhookStatus.HELD, reviewed_at__isnull=True).count())
    yield held
