"""The card outbox: every change of a carded refund reaches its Slack message, once Slack answers.

On the model of the provider and email outboxes (refunds.services.outbox,
notifications.outbox):

1. mark — `card_mark`, in the change's transaction (integrations.slack.receivers):
   the refund's `SlackCard` is created when it starts to need a decision, or
   its `wanted_revision` bumped; one small write, no network. A task is queued
   on commit unless one is queued already (`queued_until`) or a worker holds
   the card (its lease: it queues again when it finds it fell behind).
2. claim — lock the row (SKIP LOCKED: a worker never waits behind another),
   check that it is behind, due and nobody's lease runs, take the lease,
   render the refund *as it is now* with the revision this rendering covers;
   commit. Slack is never called inside a transaction.
3. call — `chat.postMessage` when the card has no message yet (its channel
   and `ts` are stored), else `chat.update`; a message deleted in Slack
   (`message_not_found`) is posted afresh. A card whose channel is no longer
   SLACK_APPROVALS_CHANNEL, or whose `chat.update` answers that its channel
   is gone for us (`channel_not_found`, `is_archived`, `not_in_channel`),
   moves: a fresh card in the configured channel, and the old message, once
   the new one is recorded, becomes a line saying where it went (best effort).
4. record — `posted_revision` moves forward to what was rendered, never back;
   if the refund changed meanwhile the card is queued again at once. A 429
   waits exactly Retry-After (not a failure); a 5xx, a timeout or a refused
   connection backs off with jitter (SLACK_BACKOFF_*); an error that needs a
   fix (a refused post to the configured channel, invalid_auth …) is logged (MSG.slack.card_refused),
   kept in `last_error` and retried at the backoff cap, so fixing the
   configuration brings the cards back by itself. The database failing after
   Slack took the card is retried by the task for the record alone
   (`CardNotRecorded`), never for the call.

The sweeper (beat, every SLACK_SWEEP_SECONDS) queues every card that is
behind, due, not leased and whose queued task should have started by now: a
card that missed ten changes while Slack was down is updated once, to its
latest state. A refund's change never waits for Slack, nor fails with it.

Known limit: a worker that dies after Slack took its `chat.postMessage` and
before recording the `ts` leaves a message the card does not know; once the
lease runs out the card is posted again (Slack has no idempotency key for
messages). Two live workers never both post: the lease, and the record of a
second message finding the first deletes its own.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from slack_sdk.errors import SlackApiError

from core.queueing import backoff_with_jitter, enqueue_best_effort
from integrations.models import SlackCard
from integrations.slack.cards import card_blocks, card_refund
from integrations.slack.client import slack_client, slack_enabled
from integrations.slack.metrics import SLACK_CARD_CALLS_TOTAL
from refunds.enums import RefundState
from refunds.models import Refund

logger = logging.getLogger("integrations.slack")

# Slack's answers that a retry cannot fix: the configuration (token, channel, scopes) must change.
# Retried at the backoff cap all the same, so the fix is all it takes.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "too_many_attachments",
        "cant_update_message",
        "no_channel",
    }
)
MESSAGE_GONE = "message_not_found"
# chat.update's answers that the card's channel is gone for us: the card moves to the configured channel
# (a post refused there too is an ordinary refusal, retried at the cap).
CHANNEL_LOST = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
# A channel id as Slack answers it. The card's stored channel is the id Slack answered; a setting that is
# a name ("#refunds") cannot be compared with it, so only an id-valued setting moves cards by itself.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
# The database failing under the task: retried by Celery with backoff; then the sweeper takes over.
DB_RETRY_MAX = 8
DB_ERRORS = (OperationalError, InterfaceError)
# A card another transaction holds locked (a change being written, another worker's claim) is
# looked at again shortly: the lock is held for one short transaction.
BUSY_RETRY_MAX = 10
BUSY_RETRY_SECONDS = 1.0


# --- 1. mark (in the change's transaction) ------------------------------------------------------


def card_wanted(refund: Refund) -> bool:
    """A refund gets a card when it waits for a person and there is a channel to post it in."""
    return refund.state == RefundState.REQUESTED and bool(settings.SLACK_APPROVALS_CHANNEL)


def _queued_until(*, countdown: float, now: datetime | None = None) -> datetime:
    """The mark of a task queued now with `countdown`: past it, the task is taken as lost."""
    return (now or timezone.now()) + timedelta(seconds=countdown + settings.SLACK_QUEUED_TTL_SECONDS)


# The table name is the model's own, never input. RETURNING says whether this change took the queued mark.
_BUMP_SQL = f"""
UPDATE {SlackCard._meta.db_table}
SET wanted_revision = wanted_revision + 1,
    queued_until = CASE
        WHEN (queued_until IS NULL OR queued_until < %(now)s)
         AND (lease_expires_at IS NULL OR lease_expires_at < %(now)s)
        THEN %(until)s ELSE queued_until END,
    updated_at = %(now)s
WHERE refund_id = %(refund_id)s
RETURNING id, queued_until = %(until)s
"""  # noqa: S608 - the table name comes from model metadata, values are parameters


def card_mark(*, refund: Refund, create: bool) -> None:
    """The refund changed: mark its card to be rendered again (or create it); queue its task on commit.

    Called inside the change's transaction, under the refund's lock. One
    statement: an UPDATE that bumps `wanted_revision` (and takes the queued
    mark when no task is queued and no worker holds the card), or, for a
    refund that starts to need a decision, the INSERT of its card.
    """
    now = timezone.now()
    until = _queued_until(countdown=0, now=now)
    if create:
        card = SlackCard.objects.create(refund=refund, queued_until=until, available_at=now)
        _publish_on_commit(card.pk, countdown=0, until=until)
        return
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_SQL, {"now": now, "until": until, "refund_id": refund.pk})
        row = cursor.fetchone()
    if row is not None and row[1]:
        _publish_on_commit(row[0], countdown=0, until=until)


def _publish_on_commit(card_id: int, *, countdown: float, until: datetime) -> None:
    transaction.on_commit(partial(card_enqueue, card_id, countdown=countdown, until=until))


def card_enqueue(card_id: int, *, countdown: float = 0, until: datetime | None = None) -> bool:
    """Queue the card's task, best effort: the row is durable; a broker failure leaves it to the sweeper."""
    if enqueue_best_effort(
        sync_card,
        kwargs={"card_id": card_id},
        countdown=countdown,
        message_id="MSG.slack.card_enqueue_failed",
        log={"slack_card_id": card_id},
    ):
        return True
    if until is not None:
        # Not queued after all: the next sweep may queue it now, not once the mark runs out
        # (if the database is down too, the mark simply runs out).
        with contextlib.suppress(DatabaseError):
            SlackCard.objects.filter(pk=card_id, queued_until=until).update(queued_until=None)
    return False


class CardNotRecorded(Exception):
    """The database failed after Slack took the card: the task retries the record alone, never the call.

    `record` is what `card_record` needs (JSON for the task's kwargs): a retry
    that posted again would leave two messages for one refund.
    """

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"slack card {record['card_id']} revision {record['revision']} not recorded")
        self.record = record


# --- 2. claim -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardClaim:
    """One sync of a card, as taken under the row lock: what to send and where (the call needs no row)."""

    card_id: int
    public_id: str
    revision: int  # the wanted revision this rendering covers
    channel: str
    ts: str  # "" while the card has no message
    lease: datetime  # ours while the row still carries it
    text: str
    blocks: list[dict[str, Any]]


def card_claim(*, card_id: int) -> CardClaim | str:
    """Take the card for one sync, or say why not: busy, leased, current, not_due, missing, refused."""
    with transaction.atomic():
        card = SlackCard.objects.select_for_update(skip_locked=True).filter(pk=card_id).first()
        if card is None:
            return "busy" if SlackCard.objects.filter(pk=card_id).exists() else "missing"
        now = timezone.now()
        if card.lease_expires_at and card.lease_expires_at > now:
            return "leased"  # another worker is calling Slack for it; it queues again if the card fell behind
        if not card.behind:
            if card.queued_until is not None:
                card.queued_until = None
                card.save(update_fields=["queued_until", "updated_at"])
            return "current"
        if card.available_at > now:
            return "not_due"  # Retry-After or a backoff runs: the task queued for then does it
        channel = card.channel or settings.SLACK_APPROVALS_CHANNEL
        if not channel:
            _defer(card, kind="refused", error="no channel: set SLACK_APPROVALS_CHANNEL", now=now)
            return "refused"
        refund = card_refund(card.refund_id)
        if refund is None:
            return "missing"
        try:
            text, blocks = card_blocks(refund)
        except DatabaseError:
            raise
        except Exception as error:
            _defer(card, kind="refused", error=f"render failed: {error.__class__.__name__}: {error}", now=now)
            logger.exception("slack card not rendered", extra={"message_id": "MSG.slack.card_render_failed"})
            return "refused"
        card.lease_expires_at = now + timedelta(seconds=settings.SLACK_LEASE_SECONDS)
        # This task is the queued one, consumed: from here the lease covers the card.
        card.queued_until = None
        card.save(update_fields=["lease_expires_at", "queued_until", "updated_at"])
        return CardClaim(
            card_id=card.pk,
            public_id=refund.public_id,
            revision=card.wanted_revision,
            channel=channel,
            ts=card.ts,
            lease=card.lease_expires_at,
            text=text,
            blocks=blocks,
        )


# --- 3. call ------------------------------------------------------------------------------------


def _slack_error(error: SlackApiError) -> str:
    response = error.response
    data = getattr(response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _retry_after(error: SlackApiError) -> float | None:
    headers = getattr(error.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _elsewhere(channel: str, configured: str) -> bool:
    """The card's channel is not the one SLACK_APPROVALS_CHANNEL names now (comparable only when it is an id)."""
    return bool(_CHANNEL_ID.fullmatch(configured)) and channel != configured


def _post(client: Any, channel: str, claim: CardClaim) -> tuple[str, str]:
    """`chat.postMessage` of the card; Slack unfurls nothing a customer wrote. Returns where it went (channel, ts)."""
    response = client.chat_postMessage(
        channel=channel, text=claim.text, blocks=claim.blocks, unfurl_links=False, unfurl_media=False
    )
    SLACK_CARD_CALLS_TOTAL.labels(method="chat.postMessage", outcome="ok").inc()
    return str(response["channel"]), str(response["ts"])


def card_sync(*, card_id: int, record: dict[str, Any] | None = None) -> str:
    """One sync of a card: posted, updated, reposted, moved, ratelimited, retry, refused — or why nothing was done.

    With `record` (a retry after CardNotRecorded): only record what Slack already took.
    """
    if record is not None:
        return card_record(record)
    claim = card_claim(card_id=card_id)
    if isinstance(claim, str):
        return claim
    client = slack_client()
    configured = settings.SLACK_APPROVALS_CHANNEL
    method = "chat.update" if claim.ts else "chat.postMessage"
    log = {"refund_id": claim.public_id, "slack_card_id": claim.card_id, "method": method}
    try:
        if claim.ts and _elsewhere(claim.channel, configured):
            # SLACK_APPROVALS_CHANNEL changed: the card goes where people now look; the old message says so.
            method = log["method"] = "chat.postMessage"
            posted = _post(client, configured, claim)
            return _recorded(claim, posted=posted, replacing=claim.ts, moved_from=(claim.channel, claim.ts))
        if claim.ts:
            try:
                client.chat_update(channel=claim.channel, ts=claim.ts, text=claim.text, blocks=claim.blocks)
            except SlackApiError as error:
                code = _slack_error(error)
                if code != MESSAGE_GONE and not (code in CHANNEL_LOST and configured):
                    raise
                # The message, or its channel, is gone: a fresh card in the configured channel.
                outcome = "gone" if code == MESSAGE_GONE else "channel_lost"
                SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome=outcome).inc()
                logger.warning(
                    "slack card message gone", extra={"message_id": f"MSG.slack.card_{outcome}", "error": code, **log}
                )
                method = log["method"] = "chat.postMessage"
                posted = _post(client, configured or claim.channel, claim)
                return _recorded(claim, posted=posted, replacing=claim.ts)
            SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome="ok").inc()
            return _recorded(claim)
        return _recorded(claim, posted=_post(client, claim.channel, claim))
    except SlackApiError as error:
        status = getattr(error.response, "status_code", 0) or 0
        code = _slack_error(error)
        if status == 429:
            wait = _retry_after(error)
            if wait is not None:
                SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome="ratelimited").inc()
                error_text = f"429 ratelimited, Retry-After {wait:g}s"
                return _record_failed(claim, kind="ratelimited", error=error_text, wait=wait, log=log)
        if status >= 500 or status == 429 or code not in PERMANENT_ERRORS:
            SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome="retry").inc()
            return _record_failed(claim, kind="retry", error=f"HTTP {status} {code}".strip(), log=log)
        SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome="refused").inc()
        return _record_failed(claim, kind="refused", error=code, log=log)
    except (OSError, http.client.HTTPException) as error:
        # Refused connection, timeout, reset: Slack (or the way to it) is down.
        SLACK_CARD_CALLS_TOTAL.labels(method=method, outcome="retry").inc()
        return _record_failed(claim, kind="retry", error=f"{error.__class__.__name__}: {error}"[:500], log=log)


def _recorded(
    claim: CardClaim,
    *,
    posted: tuple[str, str] | None = None,
    replacing: str = "",
    moved_from: tuple[str, str] | None = None,
) -> str:
    try:
        outcome = _record_synced(claim, posted=posted, replacing=replacing)
    except DB_ERRORS as error:
        record = {
            "card_id": claim.card_id,
            "public_id": claim.public_id,
            "revision": claim.revision,
            "lease": claim.lease.isoformat(),
            "posted": list(posted) if posted else None,
            "replacing": replacing,
            "moved_from": list(moved_from) if moved_from else None,
        }
        raise CardNotRecorded(record) from error
    return _moved(claim.public_id, outcome, moved_from=moved_from, to=posted)


def _moved(public_id: str, outcome: str, *, moved_from: tuple[str, str] | None, to: tuple[str, str] | None) -> str:
    """After a recorded move: the old message becomes one line pointing at the new card (best effort, once)."""
    if moved_from is None or to is None or outcome != "reposted":
        return outcome
    text = f"Refund {public_id} moved to <#{to[0]}>."
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]
    try:
        slack_client().chat_update(channel=moved_from[0], ts=moved_from[1], text=text, blocks=blocks)
        SLACK_CARD_CALLS_TOTAL.labels(method="chat.update", outcome="ok").inc()
    except (SlackApiError, OSError, http.client.HTTPException) as error:
        # Its channel may be archived or gone. If the message stays, a tap on its buttons still goes
        # through the same checks as the new card's (signature, person, version, the services).
        SLACK_CARD_CALLS_TOTAL.labels(method="chat.update", outcome="refused").inc()
        logger.warning(
            "old slack card not marked moved",
            extra={"message_id": "MSG.slack.card_move_unmarked", "refund_id": public_id, "error": str(error)[:300]},
        )
    logger.info("slack card moved", extra={"message_id": "MSG.slack.card_moved", "refund_id": public_id, "to": to[0]})
    return "moved"


def card_record(record: dict[str, Any]) -> str:
    """Record a sync Slack already took (the retry of a task whose database failed after the call)."""
    claim = CardClaim(
        card_id=record["card_id"],
        public_id=record["public_id"],
        revision=record["revision"],
        channel="",
        ts="",
        lease=datetime.fromisoformat(record["lease"]),
        text="",
        blocks=[],
    )
    posted = tuple(record["posted"]) if record.get("posted") else None
    moved_from = tuple(record["moved_from"]) if record.get("moved_from") else None
    outcome = _record_synced(claim, posted=posted, replacing=record.get("replacing", ""))
    return _moved(claim.public_id, outcome, moved_from=moved_from, to=posted)


# --- 4. record ----------------------------------------------------------------------------------


def _requeue(card: SlackCard, *, countdown: float, now: datetime) -> None:
    """Mark the (locked) card queued and publish its task once this transaction commits."""
    card.queued_until = _queued_until(countdown=countdown, now=now)
    _publish_on_commit(card.pk, countdown=countdown, until=card.queued_until)


def _record_synced(claim: CardClaim, *, posted: tuple[str, str] | None = None, replacing: str = "") -> str:
    """Slack took the card: record the revision it shows; queue again if the refund moved on meanwhile."""
    duplicate: tuple[str, str] | None = None
    with transaction.atomic():
        card = SlackCard.objects.select_for_update().get(pk=claim.card_id)
        now = timezone.now()
        if posted is not None:
            if card.ts in ("", replacing):
                card.channel, card.ts, card.posted_at = posted[0], posted[1], now
            else:
                duplicate = posted  # another worker posted the card meanwhile (our lease had run out)
        # Only forward: a worker whose lease ran out may record an older rendering after a newer one.
        card.posted_revision = min(max(card.posted_revision, claim.revision), card.wanted_revision)
        card.synced_at = now
        if card.lease_expires_at == claim.lease:
            card.lease_expires_at = None
            card.attempts = 0
            card.last_error = ""
            card.available_at = now
            if card.behind:
                _requeue(card, countdown=0, now=now)  # changed while we were calling Slack
        card.save()
    if duplicate is not None:
        _delete_duplicate(claim, duplicate)
    if duplicate is not None:
        outcome = "duplicate"
    elif posted is None:
        outcome = "updated"
    else:
        outcome = "reposted" if replacing else "posted"
    logger.info(
        "slack card in step",
        extra={"message_id": f"MSG.slack.card_{outcome}", "refund_id": claim.public_id, "revision": claim.revision},
    )
    return outcome


def _delete_duplicate(claim: CardClaim, message: tuple[str, str]) -> None:
    """Best effort: a second message of the same card goes, so the channel shows one card per refund."""
    try:
        slack_client().chat_delete(channel=message[0], ts=message[1])
        SLACK_CARD_CALLS_TOTAL.labels(method="chat.delete", outcome="ok").inc()
    except (SlackApiError, OSError, http.client.HTTPException) as error:
        SLACK_CARD_CALLS_TOTAL.labels(method="chat.delete", outcome="retry").inc()
        logger.warning(
            "duplicate slack card left in the channel",
            extra={"message_id": "MSG.slack.card_duplicate", "refund_id": claim.public_id, "ts": message[1],
                   "error": str(error)[:300]},
        )  # fmt: skip


def _defer(card: SlackCard, *, kind: str, error: str, now: datetime, wait: float | None = None) -> float:
    """Put a locked card back to wait: exactly `wait` for a 429, else a backoff; queue its task for then."""
    if kind == "ratelimited" and wait is not None:
        pass  # Slack said when: not a failure, not counted
    elif kind == "refused":
        card.attempts += 1
        wait = settings.SLACK_BACKOFF_MAX_SECONDS
    else:
        card.attempts += 1
        wait = backoff_with_jitter(
            card.attempts, base=settings.SLACK_BACKOFF_BASE_SECONDS, cap=settings.SLACK_BACKOFF_MAX_SECONDS
        )
    card.available_at = now + timedelta(seconds=wait)
    card.lease_expires_at = None
    card.last_error = error[:2000]
    _requeue(card, countdown=wait, now=now)
    fields = ["attempts", "available_at", "lease_expires_at", "last_error", "queued_until", "updated_at"]
    card.save(update_fields=fields)
    return wait


def _record_failed(claim: CardClaim, *, kind: str, error: str, log: dict[str, Any], wait: float | None = None) -> str:
    """Slack did not take the card: wait (Retry-After, backoff, or the cap for a refusal) and try again."""
    with transaction.atomic():
        card = SlackCard.objects.select_for_update().get(pk=claim.card_id)
        if card.lease_expires_at != claim.lease:
            return "skipped"  # our lease ran out and another worker took the card over
        # Measured from now, after the answer: the next call is never earlier than Slack asked.
        wait = _defer(card, kind=kind, error=error, now=timezone.now(), wait=wait)
        attempts = card.attempts
    extra = {**log, "error": error[:300], "wait_s": round(wait, 3), "attempts": attempts}
    if kind == "refused":
        logger.error("slack refused the card", extra={"message_id": "MSG.slack.card_refused", **extra})
    elif kind == "ratelimited":
        logger.warning("slack rate limited the card", extra={"message_id": "MSG.slack.card_ratelimited", **extra})
    else:
        logger.warning("slack card to retry", extra={"message_id": "MSG.slack.card_retry", **extra})
    return kind


# --- the sweeper --------------------------------------------------------------------------------


def cards_due(*, now: datetime):
    """Cards behind their refund, due, held by no worker, with no task queued (or the one queued lost)."""
    return (
        SlackCard.objects.filter(posted_revision__lt=F("wanted_revision"), available_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
    )


def card_sweep(*, limit: int = 500) -> list[int]:
    """Queue one task for each card that is behind and has none; returns their ids.

    Selected and marked in one transaction, the rows locked (skipping those a
    claim, a change or another sweep holds): a card gets at most one queued
    task however often this runs. After the first refusal of the broker the
    marks of the rest are taken back, so the next sweep queues them.
    """
    if not slack_enabled():
        return []
    with transaction.atomic():
        now = timezone.now()
        due = list(
            cards_due(now=now)
            .select_for_update(skip_locked=True)
            .order_by("available_at")
            .values_list("pk", flat=True)[:limit]
        )
        until = _queued_until(countdown=0, now=now)
        SlackCard.objects.filter(pk__in=due).update(queued_until=until)
    for index, card_id in enumerate(due):
        if not card_enqueue(card_id):
            with contextlib.suppress(DatabaseError):  # down too: the marks simply run out
                SlackCard.objects.filter(pk__in=due[index + 1 :], queued_until=until).update(queued_until=None)
            return due[:index]
    if due:
        logger.info("slack cards swept", extra={"message_id": "MSG.slack.cards_swept", "queued": len(due)})
    return due


# --- Celery tasks (names are wire contracts: queued messages and beat name them) --------------------


def _db_retry_countdown(retries: int) -> float:
    return random.uniform(0.5, 1.0) * min(120.0, 2.0**retries)


@shared_task(name="integrations.slack.sync_card", bind=True, acks_late=True, max_retries=DB_RETRY_MAX)
def sync_card(self, *, card_id: int, record: dict[str, Any] | None = None) -> str:
    """Bring one card in step with its refund (`card_sync`). Slack's errors are kept on the row, not retried here.

    The database failing is retried with backoff: before the call, the whole
    sync; after it, only the record (`CardNotRecorded`), so Slack is not called twice.
    """
    if not slack_enabled() and record is None:
        return "off"
    try:
        outcome = card_sync(card_id=card_id, record=record)
    except CardNotRecorded as error:
        retry = {"card_id": card_id, "record": error.record}
        raise self.retry(kwargs=retry, countdown=_db_retry_countdown(self.request.retries)) from None
    except DB_ERRORS as error:
        raise self.retry(exc=error, countdown=_db_retry_countdown(self.request.retries)) from None
    if outcome == "busy" and not self.request.called_directly and self.request.retries < BUSY_RETRY_MAX:
        # Locked by a change being written or another claim: look again in a moment (else the sweeper will).
        raise self.retry(countdown=BUSY_RETRY_SECONDS, max_retries=BUSY_RETRY_MAX)
    return outcome


@shared_task(name="integrations.slack.sweep_cards")
def sweep_cards(*, limit: int = 500) -> int:
    """Queue the cards that are behind and whose task was lost, or that waited out Slack's outage."""
    return len(card_sweep(limit=limit))
