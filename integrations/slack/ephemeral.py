"""Answers only the tapping person sees (`chat.postEphemeral`): why nothing happened, or what did.

Always sent from Celery, after the decision committed (or was refused): a
slow or rate-limiting Slack never holds a decision or a web process. A 429
is retried after its Retry-After, a 5xx or a network failure with backoff,
a few times; an ephemeral is a courtesy (the card shows the refund as it is),
so one that cannot be delivered is logged and dropped, never stored.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task
from django.db import transaction
from prometheus_client import Counter
from slack_sdk.errors import SlackApiError

from core.queueing import backoff_with_jitter, enqueue_best_effort
from integrations.slack.client import slack_client, slack_enabled
from integrations.slack.users import NETWORK_ERRORS, slack_unavailable

logger = logging.getLogger("integrations.slack.ephemeral")

EPHEMERAL_MAX_RETRIES = 5
# Slack's section text limit is 3000 characters; an answer is a sentence or two.
EPHEMERAL_MAX_CHARS = 3000

SLACK_EPHEMERAL_TOTAL = Counter(
    "slack_ephemeral_total", "Ephemeral answers to people tapping Slack cards, by outcome.", ["outcome"]
)


def ephemeral_queue(*, channel: str, user: str, text: str) -> None:
    """Queue the answer once the current transaction commits (at once outside one); best effort."""
    if not channel or not user or not text:
        return
    transaction.on_commit(
        partial(
            enqueue_best_effort,
            post_ephemeral,
            kwargs={"channel": channel, "user": user, "text": text[:EPHEMERAL_MAX_CHARS]},
            message_id="MSG.slack.ephemeral_enqueue_failed",
            log={"channel": channel},
        )
    )


@shared_task(name="integrations.slack.post_ephemeral", bind=True, max_retries=EPHEMERAL_MAX_RETRIES, acks_late=True)
def post_ephemeral(self, *, channel: str, user: str, text: str) -> str:
    """`chat.postEphemeral` of `text` to `user` in `channel`; retried on 429 (Retry-After), 5xx and the network."""
    if not slack_enabled():
        return "off"
    try:
        slack_client().chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as error:
        status = getattr(error.response, "status_code", 0) or 0
        if status == 429 or status >= 500:
            return _retry(self, error)
        # not_in_channel, user_not_in_channel, channel_not_found …: Slack will not take it, however often asked.
        SLACK_EPHEMERAL_TOTAL.labels(outcome="refused").inc()
        logger.warning(
            "ephemeral refused by slack",
            extra={"message_id": "MSG.slack.ephemeral_refused", "error": str(error.response.get("error", ""))[:100]},
        )
        return "refused"
    except NETWORK_ERRORS as error:
        return _retry(self, error)
    SLACK_EPHEMERAL_TOTAL.labels(outcome="sent").inc()
    return "sent"


def _retry(task, error: Exception) -> str:
    unavailable = slack_unavailable(error)
    if task.request.retries >= EPHEMERAL_MAX_RETRIES:
        SLACK_EPHEMERAL_TOTAL.labels(outcome="dropped").inc()
        logger.warning(
            "ephemeral dropped after retries",
            extra={"message_id": "MSG.slack.ephemeral_dropped", "error": str(unavailable)},
        )
        return "dropped"
    countdown = unavailable.retry_after or backoff_with_jitter(task.request.retries + 1, base=2.0, cap=60.0)
    raise task.retry(countdown=countdown, exc=unavailable)
