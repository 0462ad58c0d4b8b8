"""Operational endpoints: liveness, readiness, metrics, JSON error pages for the API."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from refunds.api.errors import error_body
from refunds.errors import ERR_INTERNAL, ERR_NOT_FOUND

logger = logging.getLogger("refunds.ops")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return f"database: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"broker: {exc.__class__.__name__}"
    return None


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if problems:
        logger.warning("not ready", extra={"message_id": "MSG.ops.not_ready", "problems": problems})
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ready"})


class DatabaseRatesCollector:
    """Rates computed from the database at scrape time, identical in every process."""

    def collect(self):
        from refunds.selectors_metrics import auto_decision_rate_pct

        gauge = GaugeMetricFamily(
            "refund_auto_decision_rate_pct", "Share of refunds of the last 24 h decided by policy without a person."
        )
        gauge.add_metric([], auto_decision_rate_pct())
        yield gauge

        # The audit sealer (beat) keeps the queue short; a growing age means it stopped.
        from django.db.models import Min
        from django.utils import timezone

        from audit.models import AuditPending

        pending = AuditPending.objects.aggregate(oldest=Min("event__occurred_at"))["oldest"]
        waiting = GaugeMetricFamily(
            "audit_unsealed_oldest_seconds",
            "Age of the oldest audit event not yet sealed into the hash chain (0 when none waits).",
        )
        waiting.add_metric([], (timezone.now() - pending).total_seconds() if pending else 0.0)
        yield waiting

        # Reconciliation (SPEC §7, §10): the latest current run per provider, and the last trial balance check.
        from ledger.reconcile.selectors import latest_current_runs, trial_balance_latest

        mismatch = GaugeMetricFamily(
            "refund_mismatch_rate_pct",
            "Share of refunds in exception in the latest reconciled day (current run), per provider.",
            labels=["provider"],
        )
        for run in latest_current_runs():
            mismatch.add_metric([run.provider], float(run.mismatch_rate_pct))
        yield mismatch
        check = trial_balance_latest()
        if check is not None:
            balanced = GaugeMetricFamily(
                "ledger_trial_balance_ok", "1 when all postings summed to zero per currency at the last check, else 0."
            )
            balanced.add_metric([], 1.0 if check.is_balanced else 0.0)
            yield balanced
            imbalance = GaugeMetricFamily(
                "ledger_trial_balance_minor",
                "Sum of all postings per currency at the last check (minor units; must be 0).",
                labels=["currency"],
            )
            for currency, total in sorted(check.balances.items()):
                imbalance.add_metric([currency], float(total))
            yield imbalance


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    import os

    from prometheus_client import REGISTRY, multiprocess

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    db_registry = CollectorRegistry()
    db_registry.register(DatabaseRatesCollector())
    output += generate_latest(db_registry)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/v1/", "/webhooks/"))


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        status, body = error_body(ERR_NOT_FOUND)
        return JsonResponse(body, status=status)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        status, body = error_body(ERR_INTERNAL)
        return JsonResponse(body, status=status)
    from django.views.defaults import server_error

    return server_error(request)
