"""What the app exports to Prometheus, and what a PromQL expression reads (alert rules, dashboards).

Used by the checks of deploy/prometheus and deploy/grafana: every metric an
expression names must be one the app exports (or a recording rule writes),
or the alert would never fire and the panel stay empty.
"""

from __future__ import annotations

import promql_parser

import core.request_metrics  # noqa: F401 - defines http_request_duration_seconds: exported before any request
from core.metrics import scrape

# The series a metric family of each type exposes (prometheus_client's exposition).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "untyped": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}


def exported_metric_names() -> set[str]:
    """Every series name the app's /metrics can show (needs the database: scrape-time gauges read it).

    Read from the exposition's `# TYPE` lines, so a labelled metric that has
    not been observed yet still counts: it is exported, it has just seen nothing.
    """
    names: set[str] = set()
    for line in scrape().decode().splitlines():
        if not line.startswith("# TYPE "):
            continue
        _, _, name, kind = line.split(" ", 3)
        base = name.removesuffix("_total") if kind == "counter" else name
        names.update(base + suffix for suffix in _SUFFIXES.get(kind, ("",)))
        if kind == "counter":
            names.add(name)
    return names


def metric_names_in(expr: str) -> set[str]:
    """The metric names an expression selects (its vector selectors), parsed, not guessed by regex."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names
