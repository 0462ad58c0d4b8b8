"""The /metrics scrape: this process's counters plus gauges read from the database (SPEC §10).

Counters and histograms live in the process that observes them (each app
defines its own in its `metrics` module); with several gunicorn workers set
PROMETHEUS_MULTIPROC_DIR so the scrape aggregates them. Rates that finance and
risk watch are computed from the database at scrape time, so every process
reports the same number: each app registers a function yielding those gauges
from its AppConfig.ready(), so this kernel module imports none of them.
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


def scrape() -> bytes:
    """The text exposition of every metric: process (or multiprocess) registry, then database gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    database = CollectorRegistry()
    database.register(_DatabaseCollector())
    return generate_latest(registry) + generate_latest(database)
