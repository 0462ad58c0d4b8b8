"""Reconciliation use cases: run a day, resolve an exception, check the trial balance (SPEC §7, §4).

A run moves queued → running → succeeded | failed. Its work happens in one
database transaction, so a run that fails leaves no half-written items and
the day's current run stays what it was. Re-running a day writes a new run
and, at the end of that same transaction, marks the previous current run
superseded (kept, with its items, as history) and carries its resolutions over
to the matching new exceptions.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from ledger.services import trial_balance
from providers.base import FailureCode, Provider, ProviderRejected, ReportFormatError, ReportRow
from providers.registry import get_provider, provider_class, provider_names
from reconciliation import classify, staging
from reconciliation.enums import ItemKind, ResolutionKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun, TrialBalanceCheck
from reconciliation.sources import open_text, rows_from_api, rows_from_report
from reconciliation.webhooks import unknown_refund_events_add
from reconciliation.window import DayWindow, day_window
from refunds.permissions import Perm, require_perm

logger = logging.getLogger("reconciliation")

DEFAULT_MAX_LOOKUPS = 1000
DEFAULT_WORK_MEM = "256MB"

FileSource = str | Path | IO[bytes] | IO[str]


def _require_finance(actor: Actor) -> None:
    """People need the finance permission; the system (beat, operators' command) acts on its own authority."""
    if actor.type == "system":
        return
    require_perm(actor.user, Perm.VIEW_FINANCE, "Reconciliation is for the finance role.")


def reconciliation_run_create(
    *,
    day: date,
    provider: str,
    source: str,
    actor: Actor,
    source_name: str = "",
    upload_path: str = "",
) -> ReconciliationRun:
    """Record that a run of `day` was asked for (status queued); `reconciliation_run_execute` does it."""
    _require_finance(actor)
    if provider not in provider_names():
        raise DomainError(ERR_VALIDATION, f"Unknown provider '{provider}'.", field="provider")
    if source not in RunSource.values:
        raise DomainError(ERR_VALIDATION, f"Unknown source '{source}'.", field="source")
    capabilities = provider_class(provider)
    if source == RunSource.API and not capabilities.lists_refunds:
        raise DomainError(
            ERR_VALIDATION, f"{capabilities.label} have no provider API; upload a report.", field="source"
        )
    if source == RunSource.FILE and not capabilities.reads_reports:
        raise DomainError(ERR_VALIDATION, f"{capabilities.label} give no reports; use the API.", field="source")
    window = day_window(day)
    if window.start > timezone.now():
        raise DomainError(ERR_VALIDATION, "A day in the future has nothing to reconcile yet.", field="day")
    if source == RunSource.API and not source_name:
        source_name = get_provider(provider).api_base[:255]
    return ReconciliationRun.objects.create(
        day=day,
        provider=provider,
        source=source,
        source_name=source_name[:255],
        upload_path=upload_path,
        timezone=window.tz,
        window_start=window.start,
        window_end=window.end,
        requested_by=actor.user,
        requested_label=actor.label[:150],
    )


def reconciliation_run(
    *, day: date, provider: str, source: str, actor: Actor, file: FileSource | None = None, source_name: str = ""
) -> ReconciliationRun:
    """Reconcile `day` now, in this process (command line, nightly task, tests).

    With source "file", `file` is the provider's report (path or file object).
    Returns the finished run. On failure the run is recorded as failed with
    its error, the error is logged, and then raised.
    """
    if source == RunSource.FILE and file is None:
        raise DomainError(ERR_VALIDATION, "A file run needs the provider report.", field="file")
    if source == RunSource.FILE and not source_name:
        source_name = Path(str(getattr(file, "name", file) or "")).name
    run = reconciliation_run_create(day=day, provider=provider, source=source, actor=actor, source_name=source_name)
    return reconciliation_run_execute(run_id=run.pk, file=file, actor=actor)


def reconciliation_run_execute(
    *, run_id: int, actor: Actor | None = None, file: FileSource | None = None
) -> ReconciliationRun:
    """Do a queued run. Safe to call twice (a redelivered task): the second call returns the finished run.

    Side effects, in order: the run is marked running (committed, so screens
    show it); then in one transaction: the run row locked, the provider side
    staged, our side selected, items written, webhook-inbox items added,
    totals computed, the previous current run of the day superseded and its
    resolutions carried over, the run marked succeeded, audit event
    `reconciliation.run_completed`. On error the transaction rolls back and
    the run is marked failed with the error (and logged).
    """
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
        if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return run
        run.status, run.started_at, run.error = RunStatus.RUNNING, timezone.now(), ""
        run.save(update_fields=["status", "started_at", "error"])
    if actor is None:  # a queued run, done by a worker on behalf of whoever asked for it
        actor = Actor.for_user(run.requested_by) if run.requested_by else Actor.system(run.requested_label or "system")
    try:
        with transaction.atomic():
            # Held to the end: a second execution of the same run waits, then sees it finished.
            run = ReconciliationRun.objects.select_for_update().get(pk=run_id)
            if run.status != RunStatus.RUNNING:
                return run
            _execute(run, actor=actor, file=file)
    except Exception as error:
        _mark_failed(run_id, error, actor=actor)
        raise
    run.refresh_from_db()
    return run


def _execute(run: ReconciliationRun, *, actor: Actor, file: FileSource | None) -> None:
    window = day_window(run.day, run.timezone)
    provider = get_provider(run.provider)
    vendor = connection.vendor
    timings = _Timings()
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            work_mem = str(getattr(settings, "RECONCILIATION_WORK_MEM", DEFAULT_WORK_MEM))
            cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
            # Compiling these one-off statements costs more than it saves.
            cursor.execute("SELECT set_config('jit', 'off', true)")
        staging.stage_create(cursor)
        run.provider_rows = staging.stage_load(cursor, _provider_rows(run, provider, window, file), vendor=vendor)
        staging.stage_prepare(cursor, vendor=vendor)
        with_meta = staging.meta_build(cursor, provider=run.provider, vendor=vendor) > 0
        timings.lap("stage")
        start = connection.ops.adapt_datetimefield_value(window.start)
        end = connection.ops.adapt_datetimefield_value(window.end)
        classify.items_insert_listed(
            cursor, run_id=run.pk, window=window, start=start, end=end, vendor=vendor, with_meta=with_meta
        )
        timings.lap("classify_listed")
        staging.unlisted_build(
            cursor, window, run_id=run.pk, provider=run.provider, connection=connection, vendor=vendor
        )
        if run.source == RunSource.API:
            _look_up_unlisted(cursor, provider)
        classify.items_insert_unlisted(cursor, run_id=run.pk, start=start, vendor=vendor)
        staging.drop_all(cursor)
        timings.lap("classify_unlisted")
    if provider.sends_webhooks:
        unknown_refund_events_add(run=run, provider=provider)
    with connection.cursor() as cursor:
        summary = classify.run_summary(cursor, run_id=run.pk, start=start, end=end)
        if vendor == "postgresql":
            # A day can add a million items; without fresh statistics the planner reads the
            # run's items for the screens and exports as if they were a handful (and sorts on disk).
            cursor.execute("ANALYZE reconciliation_reconciliationitem")
    timings.lap("summary")
    current = _make_current(run)
    for field in ("counts", "totals", "item_count", "matched_count", "exception_count", "mismatch_rate_pct"):
        setattr(run, field, summary[field])
    run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
    if current is not None and current.pk > run.pk:
        # A run asked for later finished first (a corrected report uploaded while this one was still
        # running): the later request stays the day's result and this one goes straight to history.
        run.is_current, run.superseded_by = False, current
        history = f"; finished after run {current.pk}, which stays current"
    else:
        carried = _carry_resolutions(previous=current, run=run) if current else 0
        run.is_current = True
        history = f"; supersedes run {current.pk}, {carried} resolution(s) carried over" if current else ""
    run.save()
    audit_record(
        actor=actor,
        action=AuditAction.RECONCILIATION_RUN_COMPLETED,
        subject=f"reconciliation {run.day} {run.provider}"[:100],
        note=(
            f"run {run.pk} ({run.source}): {run.item_count} items, {run.exception_count} exceptions, "
            f"mismatch rate {run.mismatch_rate_pct} %{history}"
        ),
        after={"counts": run.counts, "totals": run.totals},
    )
    timings.lap("finish")
    _log_finished(run, timings.seconds)


class _Timings:
    """Seconds per phase of a run, for the completion log line (where did the time go?)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def _provider_rows(
    run: ReconciliationRun, provider: Provider, window: DayWindow, file: FileSource | None
) -> Iterator[ReportRow]:
    """The provider side as normalised rows: from its list API or from the report file."""
    if run.source == RunSource.API:
        yield from rows_from_api(provider, created_gte=window.fetch_gte, created_lt=window.fetch_lt)
    elif file is not None and not isinstance(file, str | Path):
        yield from rows_from_report(provider, open_text(file))  # the caller's file: the caller closes it
    elif file is not None:
        with open_text(file) as stream:
            yield from rows_from_report(provider, stream)
    elif run.upload_path:
        with default_storage.open(run.upload_path, "rb") as stored:
            yield from rows_from_report(provider, open_text(stored))
    else:
        raise ReportFormatError("this file run has no report to read")


def _look_up_unlisted(cursor, provider: Provider) -> None:
    """Ask the provider, one by one, about our refunds of the day its listing did not contain.

    They were created on another day (a refund pending for days, a retry
    across midnight). Bounded by RECONCILIATION_MAX_LOOKUPS; beyond it, and for
    refunds the provider does not know (not found), the refund stays unlisted
    and is reported missing at the provider.
    """
    limit = int(getattr(settings, "RECONCILIATION_MAX_LOOKUPS", DEFAULT_MAX_LOOKUPS))
    for provider_refund_id in staging.unlisted_without_provider_row(cursor, limit=limit):
        try:
            row = provider.fetch_refund_row(provider_refund_id=provider_refund_id)
        except ProviderRejected as error:
            if error.code == FailureCode.NOT_FOUND:
                continue
            raise
        staging.stage_add(cursor, row)


def _make_current(run: ReconciliationRun) -> ReconciliationRun | None:
    """Supersede the day's current run by this one, unless it was asked for later; returns that run.

    The day's result is the latest run requested (highest id), not the last
    to finish: a current run with a higher id is left current and returned
    untouched. Two runs of the same day finishing together would both find no
    current run; a transaction-scoped advisory lock on (provider, day) makes
    the second wait for the first's commit and then decide.
    """
    if connection.vendor == "postgresql":
        key = int.from_bytes(
            hashlib.sha256(f"recon:{run.provider}:{run.day}".encode()).digest()[:8], "big", signed=True
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    previous = (
        ReconciliationRun.objects.select_for_update()
        .filter(day=run.day, provider=run.provider, is_current=True)
        .exclude(pk=run.pk)
        .first()
    )
    if previous is not None and previous.pk < run.pk:
        previous.is_current, previous.superseded_by = False, run
        previous.save(update_fields=["is_current", "superseded_by"])
    return previous


def _carry_resolutions(*, previous: ReconciliationRun, run: ReconciliationRun) -> int:
    """Copy resolutions of the old run's exceptions to the same exceptions in the new run."""
    carried = 0
    resolved = previous.items.filter(resolved=True).exclude(kind=ItemKind.MATCHED)
    for old in resolved.values(
        "kind", "provider_refund_id", "refund_id", "resolution_note", "resolution_kind", "resolved_by_id", "resolved_at"
    ):
        carried += ReconciliationItem.objects.filter(
            run=run,
            kind=old["kind"],
            provider_refund_id=old["provider_refund_id"],
            refund_id=old["refund_id"],
            resolved=False,
        ).update(
            resolved=True,
            resolution_note=old["resolution_note"],
            resolution_kind=old["resolution_kind"],
            resolved_by_id=old["resolved_by_id"],
            resolved_at=old["resolved_at"],
        )
    return carried


def _mark_failed(run_id: int, error: Exception, *, actor: Actor) -> None:
    message = f"{type(error).__name__}: {error}"[:2000]
    ReconciliationRun.objects.filter(pk=run_id).update(
        status=RunStatus.FAILED, error=message, finished_at=timezone.now()
    )
    logger.error(
        "reconciliation run failed",
        extra={"message_id": "MSG.reconciliation.failed", "run_id": run_id, "error": message, "actor": actor.label},
    )


def _log_finished(run: ReconciliationRun, timings: dict[str, float]) -> None:
    extra = {
        "run_id": run.pk,
        "day": str(run.day),
        "provider": run.provider,
        "items": run.item_count,
        "exceptions": run.exception_count,
        "mismatch_rate_pct": float(run.mismatch_rate_pct),
    }
    logger.info(
        "reconciliation run completed",
        extra={"message_id": "MSG.reconciliation.completed", "seconds": timings, **extra},
    )
    if run.exception_count:
        logger.warning(
            "reconciliation found exceptions",
            extra={"message_id": "MSG.reconciliation.mismatches", "counts": run.counts, **extra},
        )


def reconciliation_item_resolve(*, item_id: int, note: str, actor: Actor, kind: str = "") -> ReconciliationItem:
    """Mark an exception resolved with a note (and how: `kind`, a ResolutionKind); resolving it again changes nothing.

    Only exceptions of the day's current run can be resolved (ERR_CONFLICT_STATE
    otherwise). Side effects, in order, in one transaction: the item row and
    its run row locked, the item updated (resolved, note, who, when); audit
    event `reconciliation.item_resolved` with the item before and after.
    """
    _require_finance(actor)
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_VALIDATION, "Say how the exception was resolved.", field="note")
    if kind and kind not in ResolutionKind.values:
        raise DomainError(ERR_VALIDATION, f"Unknown resolution kind '{kind}'.", field="kind")
    with transaction.atomic():
        # FOR UPDATE locks the run row too (joined): a re-run superseding this run waits for the
        # resolution and carries it over, or has committed and the check below refuses.
        item = ReconciliationItem.objects.select_for_update().select_related("run").get(pk=item_id)
        if item.kind == ItemKind.MATCHED:
            raise DomainError(ERR_CONFLICT_STATE, "A matched item has nothing to resolve.")
        if item.resolved:
            return item
        if not item.run.is_current:
            # Resolutions travel forward only (a re-run copies them from the run it supersedes):
            # one written into history would never reach the day's result.
            raise DomainError(ERR_CONFLICT_STATE, "This run is history: resolve it in the day's current run.")
        before = {"resolved": False, "kind": item.kind, "run": item.run_id}
        item.resolved, item.resolution_note, item.resolution_kind = True, note, kind
        item.resolved_by, item.resolved_at = actor.user, timezone.now()
        item.save(update_fields=["resolved", "resolution_note", "resolution_kind", "resolved_by", "resolved_at"])
        refund = item.refund if item.refund_id else None
        audit_record(
            actor=actor,
            action=AuditAction.RECONCILIATION_ITEM_RESOLVED,
            refund=refund,
            subject=(item.refund_public_id or item.provider_refund_id or f"item {item.pk}")[:100],
            amount_minor=item.our_amount_minor if item.our_amount_minor is not None else item.provider_amount_minor,
            currency=item.our_currency or item.provider_currency,
            note=note,
            before=before,
            after={
                "resolved": True,
                "kind": item.kind,
                "resolution_kind": kind,
                "run": item.run_id,
                "day": str(item.run.day),
                "provider_refund_id": item.provider_refund_id,
            },
        )
    return item


@dataclass(frozen=True)
class ResolveResult:
    """What became of one exception of a bulk resolve: resolved, or refused and why."""

    item_id: int
    label: str
    resolved: bool
    message: str


MAX_BULK_RESOLVE = 200


def reconciliation_items_resolve(
    *, run_id: int, item_ids: Iterable[int], note: str, kind: str, actor: Actor
) -> list[ResolveResult]:
    """Resolve several exceptions of one run with one note and kind; a result per item, in the order given.

    Each item goes through `reconciliation_item_resolve` in a transaction of
    its own (locked, re-checked, audited one by one), so a refusal of one
    (matched, already resolved, history, not of this run) leaves the others
    resolved. The note and kind are checked once, before any item.
    """
    _require_finance(actor)
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_VALIDATION, "Say how the exceptions were resolved.", field="note")
    if kind not in ResolutionKind.values:
        raise DomainError(ERR_VALIDATION, "Choose how the exceptions were resolved.", field="kind")
    ids = list(dict.fromkeys(int(item_id) for item_id in item_ids))
    if not ids:
        raise DomainError(ERR_VALIDATION, "Select at least one exception.", field="items")
    if len(ids) > MAX_BULK_RESOLVE:
        raise DomainError(ERR_VALIDATION, f"Resolve at most {MAX_BULK_RESOLVE} at a time.", field="items")
    found = {item.pk: item for item in ReconciliationItem.objects.filter(pk__in=ids).select_related("resolved_by")}
    results = []
    for item_id in ids:
        item = found.get(item_id)
        if item is None or item.run_id != run_id:
            results.append(ResolveResult(item_id, f"item {item_id}", False, "Not an item of this run."))
            continue
        label = item.provider_refund_id or item.refund_public_id or f"item {item_id}"
        if item.resolved:
            who = item.resolved_by.get_username() if item.resolved_by else "someone"
            results.append(ResolveResult(item_id, label, False, f"Already resolved by {who}."))
            continue
        try:
            done = reconciliation_item_resolve(item_id=item_id, note=note, kind=kind, actor=actor)
        except DomainError as error:
            results.append(ResolveResult(item_id, label, False, error.message))
            continue
        if done.resolved_by_id != actor.user.pk or done.resolution_note != note:
            # Someone resolved it between our read and our lock: theirs stands.
            results.append(ResolveResult(item_id, label, False, "Already resolved by someone else meanwhile."))
        else:
            results.append(ResolveResult(item_id, label, True, "Resolved."))
    return results


def trial_balance_check(*, checked_by: str = "system") -> TrialBalanceCheck:
    """Sum every posting per currency and store the result; every sum must be zero.

    An unbalanced ledger is logged as an error (MSG.ledger.trial_balance_unbalanced)
    and shows in the `ledger_trial_balance_ok` gauge.
    """
    balances = {currency: int(total) for currency, total in trial_balance().items()}
    is_balanced = all(total == 0 for total in balances.values())
    check = TrialBalanceCheck.objects.create(balances=balances, is_balanced=is_balanced, checked_by=checked_by[:150])
    if not is_balanced:
        logger.error(
            "ledger trial balance does not sum to zero",
            extra={"message_id": "MSG.ledger.trial_balance_unbalanced", "balances": balances},
        )
    return check
