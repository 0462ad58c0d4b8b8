"""Posting the weekly digest to the approvals channel: `integrations.slack.post_digest` (docs/slack.md).

The digest's `DigestRun` row is the outbox: the sender stores the rendered
blocks in it and queues this task after commit. One attempt (`digest_post_attempt`)
takes a short lease on the row, calls `chat.postMessage` outside any
transaction, and records the message's `ts` — a task delivered twice, or two
tasks for the same week, post once. On failure it records when the next try
may run (`slack_available_at`):

- 429: Slack's `Retry-After`, never earlier (Slack counts early calls against us);
- 5xx, a timeout, a refused or dropped connection (any `OSError`, or an
  `http.client` error slack_sdk lets through): backoff with jitter;
- anything else (`channel_not_found`, `not_in_channel`, `invalid_auth` …): no
  retry — the error is kept on the row and logged, for a person to fix and
  `manage.py send_digest --week … ` to post again (it re-queues a pending post).

The task reschedules itself for that time with Celery's countdown, so a worker
never sleeps inside a call while other Slack work waits. If the database fails
after Slack took the post, the task retries only the record, with the message's
channel and `ts` in its arguments (`DigestNotRecorded`), never the call: a
re-run would post the digest twice. The database failing before the call is
retried with backoff too (nothing was posted).
"""

from __future__ import annotations

import http.client
import logging
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from slack_sdk.errors import SlackApiError

from core.queueing import backoff_with_jitter, enqueue_best_effort
from integrations.models import DigestRun
from integrations.slack.client import slack_client, slack_enabled

logger = logging.getLogger("integrations.slack.digest")

# After this many failed attempts in a row the post is given up (kept on the row, logged).
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 600.0
# Without a Retry-After header on a 429 (Slack always sends one; a proxy may not).
DEFAULT_RETRY_AFTER_SECONDS = 30.0
# The way to Slack failing: refused, reset, dropped, timed out (URLError, TimeoutError and ConnectionError
# are OSErrors), or a response cut short (http.client's IncompleteRead, BadStatusLine …).
TRANSIENT_ERRORS = (OSError, http.client.HTTPException)
DB_ERRORS = (OperationalError, InterfaceError)

POSTED = "posted"
DONE = "done"  # posted before, or no longer wanted
NOT_YET = "not_yet"  # its retry time has not come
BUSY = "busy"  # another attempt holds the lease
RETRY = "retry"
FAILED = "failed"
OFF = "off"  # the integration is off (no bot token)


@dataclass(frozen=True)
class PostResult:
    status: str
    retry_in: float | None = None  # seconds until the next attempt may run, when one should


def _lease() -> timedelta:
    # Longer than one call can take (the client's timeout), so a live attempt never loses it.
    return timedelta(seconds=settings.SLACK_TIMEOUT_SECONDS * 2 + 10)


def retry_delay(error: Exception, *, attempts: int) -> float | None:
    """Seconds before the next attempt after `error` (the `attempts`-th failure), or None: do not retry."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0)
        if status == 429:
            headers = {k.lower(): v for k, v in (getattr(error.response, "headers", None) or {}).items()}
            value = headers.get("retry-after")
            try:
                return float(math.ceil(float(value))) if value is not None else DEFAULT_RETRY_AFTER_SECONDS
            except ValueError:
                return DEFAULT_RETRY_AFTER_SECONDS
        if status < 500:
            return None
    elif not isinstance(error, TRANSIENT_ERRORS):
        return None
    if attempts >= MAX_ATTEMPTS:
        return None
    return backoff_with_jitter(attempts, base=BACKOFF_BASE_SECONDS, cap=BACKOFF_MAX_SECONDS)


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else ""
        return f"HTTP {getattr(error.response, 'status_code', '?')} {code}".strip()
    return f"{error.__class__.__name__}: {error}"[:500]


class DigestNotRecorded(Exception):
    """The database failed after Slack took the post: the task retries the record alone, never the call.

    `record` is what `digest_post_record` needs (JSON for the task's kwargs).
    """

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"digest run {record['run_id']} posted as {record['ts']}, not recorded")
        self.record = record


def digest_post_attempt(*, run_id: int) -> PostResult:
    """Post the run's digest once, if it is wanted, due and not being posted; record what happened.

    Raises DigestNotRecorded when the database fails after Slack took the post.
    """
    if not slack_enabled():
        return PostResult(OFF)
    now = timezone.now()
    with transaction.atomic():
        # The row lock only orders attempts taking the lease; Slack is called after it is released.
        run = DigestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or not run.slack_pending:
            return PostResult(DONE)
        if run.slack_available_at and run.slack_available_at > now:
            return PostResult(NOT_YET, (run.slack_available_at - now).total_seconds())
        if run.slack_lease_until and run.slack_lease_until > now:
            return PostResult(BUSY)
        run.slack_lease_until = now + _lease()
        run.save(update_fields=["slack_lease_until"])
    channel = settings.SLACK_APPROVALS_CHANNEL
    try:
        response = slack_client().chat_postMessage(
            channel=channel, text=run.slack_text, blocks=run.slack_blocks, unfurl_links=False, unfurl_media=False
        )
    except (SlackApiError, *TRANSIENT_ERRORS) as error:
        return _failed(run, error, now=timezone.now())
    record = {
        "run_id": run.pk,
        "sends": run.sends,
        "channel": str(response.get("channel") or channel),
        "ts": str(response["ts"]),
        "week": run.week,
    }
    try:
        return PostResult(digest_post_record(record))
    except DB_ERRORS as error:
        raise DigestNotRecorded(record) from error


def digest_post_record(record: dict[str, Any]) -> str:
    """Record a post Slack took: its channel and `ts` on the run, once; POSTED, or DONE if already recorded.

    Only for the round it was posted in (`sends`: a forced resend since wants
    its own post) and only while the run has no `ts`: a record retried late
    never overwrites another post's.
    """
    recorded = DigestRun.objects.filter(pk=record["run_id"], sends=record["sends"], slack_ts="").update(
        slack_channel=record["channel"],
        slack_ts=record["ts"],
        slack_posted_at=timezone.now(),
        slack_lease_until=None,
        slack_available_at=None,
        slack_attempts=0,
        slack_last_error="",
    )
    if not recorded:
        return DONE
    logger.info("digest posted", extra={"message_id": "MSG.digest.slack_posted", "week": record["week"]})
    return POSTED


def _failed(run: DigestRun, error: Exception, *, now: datetime) -> PostResult:
    attempts = run.slack_attempts + 1
    delay = retry_delay(error, attempts=attempts)
    DigestRun.objects.filter(pk=run.pk).update(
        slack_attempts=attempts,
        slack_last_error=_describe(error),
        slack_lease_until=None,
        slack_available_at=now + timedelta(seconds=delay) if delay is not None else None,
    )
    logger.warning(
        "digest not posted",
        extra={
            "message_id": "MSG.digest.slack_retry" if delay is not None else "MSG.digest.slack_failed",
            "week": run.week,
            "error": _describe(error),
            "attempts": attempts,
        },
    )
    if delay is None:
        return PostResult(FAILED)
    return PostResult(RETRY, delay)


def _db_retry_countdown(retries: int) -> float:
    return random.uniform(0.5, 1.0) * min(120.0, 2.0**retries)


@shared_task(name="integrations.slack.post_digest", bind=True, max_retries=MAX_ATTEMPTS * 2, acks_late=True)
def post_digest(self, *, run_id: int, record: dict[str, Any] | None = None) -> str:
    """Post a week's digest to the approvals channel; rescheduled for the time Slack (or the backoff) allows.

    With `record` (a retry after DigestNotRecorded): only record the post Slack already took.
    """
    try:
        if record is not None:
            return digest_post_record(record)
        result = digest_post_attempt(run_id=run_id)
    except DigestNotRecorded as error:
        retry = {"run_id": run_id, "record": error.record}
        raise self.retry(kwargs=retry, countdown=_db_retry_countdown(self.request.retries)) from None
    except DB_ERRORS as error:
        raise self.retry(exc=error, countdown=_db_retry_countdown(self.request.retries)) from None
    if result.retry_in is not None:
        raise self.retry(countdown=result.retry_in)
    return result.status


def digest_post_enqueue(run_id: int) -> bool:
    """Queue the post (after the caller's commit: the row must be there for the worker)."""
    return enqueue_best_effort(
        post_digest,
        kwargs={"run_id": run_id},
        message_id="MSG.digest.slack_enqueue_failed",
        log={"digest_run_id": run_id},
    )
