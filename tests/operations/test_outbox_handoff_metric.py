"""outbox_handoff_relay (issue 17): the web processes say whether a relay is expected, for OutboxRelayDown."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import scrape


def handoff_relay() -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(scrape().decode())
        if family.name == "outbox_handoff_relay"
        for sample in family.samples
    ]


@pytest.mark.parametrize(("handoff", "exported"), [("relay", [1.0]), ("publish", [0.0])])
def test_the_scrape_reports_the_configured_handoff(db, settings, handoff, exported):
    settings.OUTBOX_HANDOFF = handoff

    assert handoff_relay() == exported
