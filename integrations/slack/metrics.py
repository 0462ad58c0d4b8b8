"""Prometheus metrics of the Slack card (SPEC §10): calls by outcome, and how many cards are behind."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from integrations.models import SlackCard

# method: chat.postMessage, chat.update, chat.delete; outcome: ok, ratelimited, retry (5xx, network),
# refused (a Slack error that needs a fix: channel_not_found, invalid_auth …), gone (message_not_found).
SLACK_CARD_CALLS_TOTAL = Counter(
    "slack_card_calls_total",
    "Slack Web API calls made for approval cards, by method and outcome.",
    ["method", "outcome"],
)


def database_gauges() -> Iterator[GaugeMetricFamily]:
    """Cards whose message does not show their refund's latest change yet (the partial index `slack_card_behind`)."""
    gauge = GaugeMetricFamily("slack_cards_behind", "Slack approval cards not showing their refund's latest change.")
    gauge.add_metric([], SlackCard.objects.filter(posted_revision__lt=F("wanted_revision")).count())
    yield gauge
