"""The Celery application; workers run with `celery -A config worker`."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("refund_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_shutdown.connect(weak=False)
def _metrics_process_dead(pid: int | None = None, **kwargs: object) -> None:
    """A prefork child is exiting: drop its live gauges from PROMETHEUS_MULTIPROC_DIR (core.metrics).

    Its counters and histograms stay in the directory and keep being summed,
    as they must (docs/operations.md "Metrics").
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


# --- Tracing (core/telemetry.py; off unless the OTEL_* variables ask for it) ---------------------------
# In the process that runs the tasks: a prefork child configures its own (its span processor's
# export thread must start after the fork); a threads or solo pool runs tasks in the main process.


@signals.worker_process_init.connect(weak=False)
def _trace_pool_process(**_kwargs) -> None:
    from core.telemetry import SERVICE_WORKER, configure_tracing

    configure_tracing(SERVICE_WORKER)


@signals.worker_init.connect(weak=False)
def _trace_worker(sender=None, **_kwargs) -> None:
    from celery.concurrency import get_implementation

    if sender is not None and not get_implementation(sender.pool_cls).__module__.endswith(".prefork"):
        _trace_pool_process()


@signals.worker_process_shutdown.connect(weak=False)
def _flush_traces(**_kwargs) -> None:
    from core.telemetry import shutdown_tracing

    shutdown_tracing()
