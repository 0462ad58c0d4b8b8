"""Read this process's in-process metrics (prometheus_client's REGISTRY) in tests.

Counters and histograms are process-global and never reset between tests, so
a test reads a value before and after what it does and asserts the delta.
"""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample_value(name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels`, 0 when it has not been observed yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """`Delta(name, **labels)`: take the value now; `.now()` says how much it grew since."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.before = sample_value(name, **labels)

    def now(self) -> float:
        return sample_value(self.name, **self.labels) - self.before


def scraped_value(name: str, **labels: str) -> float | None:
    """The sample `name` with exactly `labels` in a full scrape (database gauges included); None when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    from core.metrics import scrape

    for family in text_string_to_metric_families(scrape().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None
