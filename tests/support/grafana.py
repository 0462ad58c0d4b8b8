"""The Grafana dashboards of deploy/grafana, read as Grafana reads them (for their check and their render).

Grafana replaces its own variables in a query before Prometheus sees it
(`$__rate_interval`, `$__range`, a dashboard variable such as `$provider`), so
an expression only parses as PromQL once they are filled in. `promql()` does
that the way Grafana does for a Prometheus data source; the check of the
dashboards and `benchmarks/dashboards.py` (which evaluates every panel against
a real Prometheus) both use it, so they read the same queries.

Stdlib only: the benchmark imports this without Django.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
NAMES = ("executive", "oncall", "debug")


@dataclass(frozen=True)
class Intervals:
    """What Grafana would put for its interval variables, in seconds.

    `interval`: the query step (`$__interval`); `rate`: `$__rate_interval`
    (Grafana: max($__interval + scrape interval, 4 x scrape interval));
    `range`: the dashboard's time range (`$__range`).
    """

    interval: float
    rate: float
    range: float

    @classmethod
    def grafana(cls, *, range_s: float, max_data_points: int, scrape_s: float) -> Intervals:
        interval = max(range_s / max_data_points, scrape_s)
        return cls(interval=interval, rate=max(interval + scrape_s, 4 * scrape_s), range=range_s)


def load(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARDS / f"{name}.json").read_text())


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too (rows themselves included)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def duration(seconds: float) -> str:
    """A PromQL duration of whole milliseconds (what Grafana writes: `15s`, `1500ms`)."""
    ms = max(round(seconds * 1000), 1)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def promql(expr: str, intervals: Intervals, variables: dict[str, str] | None = None) -> str:
    """`expr` with Grafana's variables filled in: the query Prometheus receives.

    A dashboard variable with "All" selected becomes its `allValue` (`.*` for
    the provider variable, used only with `=~`); `variables` maps names to values.
    """
    values = {
        "__rate_interval": duration(intervals.rate),
        "__interval": duration(intervals.interval),
        "__range": duration(intervals.range),
        "__range_s": str(round(intervals.range)),
        "__interval_ms": str(round(intervals.interval * 1000)),
        **(variables or {}),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    # Longest names first is implicit: \w+ takes the whole name ($__range_s, not $__range + "_s").
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, expr)


def all_values(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each query variable of the dashboard at "All" (its allValue), as a first view shows it."""
    return {
        variable["name"]: variable.get("allValue") or ".*"
        for variable in dashboard.get("templating", {}).get("list", [])
        if variable.get("type") == "query"
    }
