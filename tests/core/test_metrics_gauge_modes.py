"""An in-process Gauge must say how processes combine (multiprocess_mode), or each pid becomes its own series."""

from __future__ import annotations

import django.apps
from prometheus_client import REGISTRY, Gauge


def test_every_in_process_gauge_names_a_multiprocess_mode():
    assert django.apps.apps.ready  # every app's metrics module is imported (AppConfig.ready)
    gauges = [collector for collector in list(REGISTRY._collector_to_names) if isinstance(collector, Gauge)]
    # Default "all" keeps one series per process, dead ones included: never what a dashboard means.
    assert [gauge._name for gauge in gauges if gauge._multiprocess_mode == "all"] == []
