"""Celery tasks of reconciliation (nightly and on demand) and the trial balance check.

Each fetches ids, calls one service, and retries only trouble that waiting can
fix (the provider or the database being unavailable). A failed reconciliation
is recorded as a failed run before anything is retried, and a retry is a new
run - runs are never edited back into shape.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from core.actor import Actor
from providers.base import ProviderUnavailable
from providers.registry import default_provider_name, provider_class
from reconciliation.enums import RunSource
from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_run, reconciliation_run_execute, trial_balance_check
from reconciliation.window import yesterday

logger = logging.getLogger("reconciliation.tasks")


@shared_task(name="ledger.reconcile_run")
def reconcile_run(*, run_id: int) -> str:
    """Do a run finance queued from the screens; returns its final status."""
    if not ReconciliationRun.objects.filter(pk=run_id).exists():
        logger.warning(
            "reconciliation run not found", extra={"message_id": "MSG.reconciliation.missing", "run_id": run_id}
        )
        return "missing"
    try:
        return reconciliation_run_execute(run_id=run_id).status
    except Exception:  # noqa: BLE001 - recorded on the run and logged by the service; finance re-runs it
        return "failed"


@shared_task(
    name="ledger.reconcile_yesterday",
    autoretry_for=(ProviderUnavailable, OperationalError),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=6,
)
def reconcile_yesterday() -> dict:
    """The nightly job (beat): check the trial balance, then reconcile yesterday from the default provider's API.

    A provider without a list API (manual payouts) is reconciled from reports
    finance uploads, so the night only checks the trial balance for it.
    """
    check = trial_balance_check(checked_by="nightly job")
    result: dict = {"trial_balance_ok": check.is_balanced}
    provider = default_provider_name()
    if not provider_class(provider).lists_refunds:
        logger.info(
            "nightly reconciliation skipped: the provider has no list API",
            extra={"message_id": "MSG.reconciliation.skipped", "provider": provider},
        )
        return result
    run = reconciliation_run(
        day=yesterday(), provider=provider, source=RunSource.API, actor=Actor.system("nightly job")
    )
    result.update(run_id=run.pk, status=run.status, exceptions=run.exception_count)
    return result


@shared_task(name="ledger.trial_balance_check")
def trial_balance_check_task() -> bool:
    """Sum all postings per currency now; logs an error and flips the gauge if any is not zero."""
    return trial_balance_check(checked_by="task").is_balanced
