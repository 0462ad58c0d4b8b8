"""Reads for the finance screens and the metrics endpoint (no writes here).

On the read replica when there is one (core.databases.read_alias): reports of days that are over,
whose lag of a second or so nobody can see. A run is read where it is found first (a run asked for a
moment ago may not be on the replica yet) and its items, totals and successor from the same database,
so a page never shows a run finished on one database beside its items missing on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.databases import read_alias, read_or_primary
from ledger.enums import EntryType
from ledger.models import JournalEntry
from providers.registry import provider_names
from reconciliation.enums import EXCEPTION_KINDS, ItemKind, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun, TrialBalanceCheck
from reconciliation.window import day_window, reconciliation_timezone


@dataclass(frozen=True)
class RunFilters:
    day_from: date | None = None
    day_to: date | None = None
    provider: str = ""
    include_superseded: bool = False


def runs_list(filters: RunFilters) -> QuerySet[ReconciliationRun]:
    """Runs newest day first; superseded runs (history) only when asked for."""
    runs = ReconciliationRun.objects.using(read_alias()).select_related("superseded_by")
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
    items = ReconciliationItem.objects.using(run._state.db).filter(run=run).select_related("resolved_by")
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
    """The run, on the replica or (not there yet) the primary; ReconciliationRun.DoesNotExist on neither."""

    def fetch(alias: str) -> ReconciliationRun | None:
        return (
            ReconciliationRun.objects.using(alias)
            .select_related("superseded_by", "requested_by")
            .filter(pk=run_id)
            .first()
        )

    run = read_or_primary(fetch)
    if run is None:
        raise ReconciliationRun.DoesNotExist(f"reconciliation run {run_id}")
    return run


def current_run_of(run: ReconciliationRun) -> ReconciliationRun | None:
    """The run that now stands for this run's day (itself when current)."""
    if run.is_current:
        return run
    return (
        ReconciliationRun.objects.using(run._state.db)
        .filter(day=run.day, provider=run.provider, is_current=True)
        .first()
    )


def trial_balance_latest() -> TrialBalanceCheck | None:
    """The last check, on the primary: the runs page shows it right after "Check now" wrote it."""
    return TrialBalanceCheck.objects.order_by("-checked_at", "-id").first()


def latest_current_runs() -> list[ReconciliationRun]:
    """Per provider, the current run of the most recent reconciled day (for the mismatch-rate gauge)."""
    alias = read_alias()
    runs = (
        ReconciliationRun.objects.using(alias).filter(is_current=True, provider=provider).order_by("-day").first()
        for provider in provider_names()
    )
    return [run for run in runs if run is not None]


def settled_day_latest(*, until: date | None = None) -> date | None:
    """The last day (reconciliation timezone) on which a refund settled in the ledger, up to `until` (today).

    The finance screens default to it rather than to yesterday, which on a
    quiet day has nothing to reconcile or export. Served by the journal's
    created_at index (newest entry of one type).
    """
    tz = ZoneInfo(reconciliation_timezone())
    until = until or timezone.now().astimezone(tz).date()
    latest = (
        JournalEntry.objects.using(read_alias())
        .filter(entry_type=EntryType.REFUND_SETTLED, created_at__lt=day_window(until).end)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return latest.astimezone(tz).date() if latest else None


def settled_in_range(*, day_from: date, day_to: date) -> bool:
    """Whether any refund settled in the ledger in [day_from, day_to] (what an export would contain)."""
    return (
        JournalEntry.objects.using(read_alias())
        .filter(
            entry_type=EntryType.REFUND_SETTLED,
            created_at__gte=day_window(day_from).start,
            created_at__lt=day_window(day_to).end,
        )
        .exists()
    )
