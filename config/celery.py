"""The Celery application; workers run with `celery -A config worker`."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("refund_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# --- Database connections kept from task to task (CELERY_DB_REUSE_MAX in config/settings/base.py) -----


@signals.worker_init.connect(weak=False)
def _check_reused_connections(**_kwargs: object) -> None:
    """A worker keeps its database connections between tasks: each task checks its connection first.

    A kept connection can be dead by the next task (PostgreSQL restarted, the
    session terminated, a pooler recycled it); without the check that task's
    first query would fail. Django's CONN_HEALTH_CHECKS runs one `SELECT 1`
    when a task first uses its connection, and opens a new one if it fails:
    a round trip, against a new session per task before. Set here, before the
    pool forks and before any connection opens, so web processes are left as
    they are (their requests rarely outlive a restart by more than one error).
    """
    from django.db import connections

    for alias in connections:
        connections.settings[alias]["CONN_HEALTH_CHECKS"] = True


@signals.task_prerun.connect(weak=False)
@signals.task_postrun.connect(weak=False)
def _close_old_connections(sender: object = None, **_kwargs: object) -> None:
    """What Django does around a request, around a task: close a connection too old or left broken.

    Celery's fixup, with CELERY_DB_REUSE_MAX set, only counts tasks; this
    applies DB_CONN_MAX_AGE (0 behind PgBouncer: a pooled connection per task)
    and drops a connection a failed task left unusable, and arms the health
    check above for the next first use. An eager task runs inside its
    caller's transaction: not touched.
    """
    request = getattr(sender, "request", None)
    if getattr(request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


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
