"""Reads for the finance screens and the metrics endpoint (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet

from providers.registry import provider_names
from reconciliation.enums import EXCEPTION_KINDS, ItemKind, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun, TrialBalanceCheck


@dataclass(frozen=True)
class RunFilters:
    day_from: date | None = None
    day_to: date | None = None
    provider: str = ""
    include_superseded: bool = False


def runs_list(filters: RunFilters) -> QuerySet[ReconciliationRun]:
    """Runs newest day first; superseded runs (history) only when asked for."""
    runs = ReconciliationRun.objects.select_related("superseded_by")
    if not filters.include_superseded:
        # Queued, running and failed runs stay visible: they are what someone is waiting for or must retry.
        runs = runs.filter(Q(is_current=True) | ~Q(status=RunStatus.SUCCEEDED))
    if filters.day_from:
        runs = runs.filter(day__gte=filters.day_from)
    if filters.day_to:
        runs = runs.filter(day__lte=filters.day_to)
    if filters.provider:
        runs = runs.filter(provider=filters.provider)
    return runs.order_by("-day", "provider", "-id")


@dataclass(frozen=True)
class ItemFilters:
    kind: str = ""  # one kind, "exceptions" (default) or "all"
    resolution: str = "open"  # open | resolved | all
    currency: str = ""
    search: str = ""


def run_items(run: ReconciliationRun, filters: ItemFilters) -> QuerySet[ReconciliationItem]:
    """A run's items for the exception list; by default the open exceptions."""
    items = ReconciliationItem.objects.filter(run=run).select_related("resolved_by")
    if filters.kind in ItemKind.values:
        items = items.filter(kind=filters.kind)
    elif filters.kind != "all":
        items = items.filter(kind__in=EXCEPTION_KINDS)
    if filters.resolution == "open":
        items = items.filter(resolved=False)
    elif filters.resolution == "resolved":
        items = items.filter(resolved=True)
    if filters.currency:
        currency = filters.currency.upper()
        items = items.filter(Q(our_currency=currency) | Q(provider_currency=currency))
    if filters.search:
        term = filters.search.strip()
        items = items.filter(Q(provider_refund_id=term) | Q(refund_public_id=term))
    return items.order_by("id")


def run_get(run_id: int) -> ReconciliationRun:
    return ReconciliationRun.objects.select_related("superseded_by", "requested_by").get(pk=run_id)


def current_run_of(run: ReconciliationRun) -> ReconciliationRun | None:
    """The run that now stands for this run's day (itself when current)."""
    if run.is_current:
        return run
    return ReconciliationRun.objects.filter(day=run.day, provider=run.provider, is_current=True).first()


def trial_balance_latest() -> TrialBalanceCheck | None:
    return TrialBalanceCheck.objects.order_by("-checked_at", "-id").first()


def latest_current_runs() -> list[ReconciliationRun]:
    """Per provider, the current run of the most recent reconciled day (for the mismatch-rate gauge)."""
    runs = (
        ReconciliationRun.objects.filter(is_current=True, provider=provider).order_by("-day").first()
        for provider in provider_names()
    )
    return [run for run in runs if run is not None]
