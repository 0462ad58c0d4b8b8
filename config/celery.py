"""The Celery application; workers run with `celery -A config worker`."""

import os

from celery import Celery
from celery.signals import worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("refund_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_shutdown.connect
def _metrics_process_dead(pid: int | None = None, **kwargs: object) -> None:
    """A prefork child is exiting: drop its live gauges from PROMETHEUS_MULTIPROC_DIR (core.metrics).

    Its counters and histograms stay in the directory and keep being summed,
    as they must (docs/operations.md "Metrics").
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
