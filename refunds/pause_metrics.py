"""The kill switches in Prometheus (issue 16): `refund_pause_active{kind, provider}`, read at scrape time.

One sample of 1 per pause in force (`provider="*"` for a pause of every
provider); none when nothing is paused. Read from the database, so every
process answers the same, the moment a pause commits.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from refunds.services.pause_reads import pauses_in_force


def database_gauges() -> Iterator[GaugeMetricFamily]:
    gauge = GaugeMetricFamily(
        "refund_pause_active",
        'Kill switches in force: 1 per pause (provider "*" = every provider); docs/runbooks.md Kill switches.',
        labels=["kind", "provider"],
    )
    for pause in pauses_in_force():
        gauge.add_metric([pause.kind, pause.provider or "*"], 1)
    yield gauge
