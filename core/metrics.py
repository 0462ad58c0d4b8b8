"""The /metrics scrape: the in-process counters and histograms, then gauges read from the database (SPEC §10).

Counters and histograms live in the process that observes them (each app
defines its own in its `metrics` module). Production runs several gunicorn
workers and Celery prefork children, so PROMETHEUS_MULTIPROC_DIR is set for
every app process of a host (docs/operations.md "Metrics"): prometheus_client
then keeps each process's values in a file of its own there
(`counter_<pid>.db`, `histogram_<pid>.db` …), and a scrape sums the files of
every process of the host — a web scrape shows what the host's Celery workers
counted too. Files of processes that exited stay and keep counting (a
counter must not go down when a worker is recycled); the directory is emptied
at deploy, with every process of the host stopped.

Rates and backlogs that finance, risk and on-call watch are computed from the
database at scrape time, so every process reports the same number: each app
registers a function yielding those gauges from its AppConfig.ready(), so this
kernel module imports none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import Metric

DatabaseGauges = Callable[[], Iterable[Metric]]

_database_gauges: dict[str, DatabaseGauges] = {}


def register_database_gauges(name: str, collect: DatabaseGauges) -> None:
    """Add `collect` to every scrape; registering the same name again replaces it (app reloads)."""
    _database_gauges[name] = collect


class _DatabaseCollector:
    def collect(self) -> Iterable[Metric]:
        for collect in _database_gauges.values():
            yield from collect()


def multiprocess_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR, or "" when this process keeps its metrics to itself (tests, one process)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def in_process_registry() -> CollectorRegistry:
    """The counters and histograms: of every process of the host (multiprocess mode), or of this one."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def database_registry() -> CollectorRegistry:
    """The gauges read from the database (and Redis) at scrape time: the same from any process."""
    registry = CollectorRegistry()
    registry.register(_DatabaseCollector())
    return registry


def scrape() -> bytes:
    """The text exposition of every metric: in-process (or multiprocess) registry, then database gauges."""
    return generate_latest(in_process_registry()) + generate_latest(database_registry())


def scrape_in_process() -> bytes:
    """The in-process metrics alone (`manage.py serve_metrics` on a host with workers and no web)."""
    return generate_latest(in_process_registry())
