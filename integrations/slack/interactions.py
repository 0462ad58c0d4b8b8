"""Slack's interactivity requests: verified, recorded once, acknowledged within Slack's 3 seconds.

`POST /integrations/slack/interactions` (integrations.slack.views) runs, in order:

1. off → 404 (no SLACK_BOT_TOKEN); a body over MAX_BODY_BYTES → 413;
2. the signature: `X-Slack-Signature` is `v0=` HMAC-SHA256 of
   `v0:{X-Slack-Request-Timestamp}:{raw body}` with SLACK_SIGNING_SECRET
   (slack_sdk's `SignatureVerifier` algorithm), the timestamp within 5 minutes of now,
   either way. A missing, malformed, stale or forged signature → 401, with a
   log line and `slack_interaction_rejected_total{reason}`, nothing stored;
3. a request Slack marks as its own retry (`X-Slack-Retry-Num`) → 200,
   nothing done: the first delivery did (or will do) the work;
4. the `payload` form field → JSON of a known type (`block_actions` of our
   card's buttons, `view_submission` of our modals), else 400;
5. the inbox row (`SlackInteraction`), whose unique digest of the signed
   content refuses a replay of the same signed request in every web process
   at once (the INSERT is the check): a replay → 200, nothing done;
6. the work (integrations.slack.decisions): an approval is queued to Celery
   and answered 200 at once, unless the refund is high value and the person
   could approve it: then the confirmation modal opens in the request, as
   Edit's and Decline's do (the trigger id lives 3 seconds); a modal's
   submission is decided in the request, its refusals answered into the
   modal. Every Slack call made while Slack waits shares one budget
   (`integrations.slack.client.Deadline`, IN_REQUEST_BUDGET_SECONDS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.db import IntegrityError, transaction
from prometheus_client import Counter

from integrations.models import SlackInteraction

logger = logging.getLogger("integrations.slack.interactions")

# Slack's interaction payloads carry the message (its blocks) or the view: tens of kilobytes at most.
MAX_BODY_BYTES = 256 * 1024
# How far the signed timestamp may be from now, either way (Slack's own rule, and slack_sdk's).
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60

# The card's actions block (integrations.slack.cards): `decide:{public id}:v{version}`, buttons
# `approve` / `edit` / `decline` whose value is the refund's public id.
CARD_BLOCK = re.compile(r"decide:(rf_[0-9a-z]{1,29}):v([0-9]{1,9})")
PUBLIC_ID = re.compile(r"rf_[0-9a-z]{1,29}")
CARD_ACTIONS = ("approve", "edit", "decline")
EDIT_CALLBACK = "refund_edit"
DECLINE_CALLBACK = "refund_decline"
# The confirmation asked before approving a high-value refund (integrations.slack.modals.approve_confirm_modal).
APPROVE_CONFIRM_CALLBACK = "refund_approve_confirm"
MODAL_CALLBACKS = (EDIT_CALLBACK, DECLINE_CALLBACK, APPROVE_CONFIRM_CALLBACK)

SLACK_INTERACTION_REJECTED_TOTAL = Counter(
    "slack_interaction_rejected_total",
    "Slack interaction requests refused before any work: bad or stale signature, malformed, replayed, retried.",
    ["reason"],
)
SLACK_INTERACTION_TOTAL = Counter(
    "slack_interaction_total", "Slack interactions accepted, by kind and action.", ["kind", "action"]
)


class InteractionRejected(Exception):
    """Refused before any work; `reason` is the metric's label, never shown to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def interaction_rejected(reason: str, **log: Any) -> None:
    """Log and count a refusal (the only trace of it: nothing is stored)."""
    SLACK_INTERACTION_REJECTED_TOTAL.labels(reason=reason).inc()
    logger.warning(
        "slack interaction rejected", extra={"message_id": "MSG.slack.interaction_rejected", "reason": reason, **log}
    )


def interaction_verify(body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> str:
    """The request's signed timestamp when Slack signed exactly this body within the last 5 minutes.

    Raises InteractionRejected("no_secret" | "missing" | "malformed" | "stale" | "forged").
    """
    secret = settings.SLACK_SIGNING_SECRET
    if not secret or not secret.strip():
        raise InteractionRejected("no_secret")
    timestamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not timestamp or not signature:
        raise InteractionRejected("missing")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise InteractionRejected("malformed")
    if abs((time.time() if now is None else now) - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        raise InteractionRejected("stale")
    if not hmac.compare_digest(interaction_signature(secret, timestamp, body).encode(), signature.encode("utf-8")):
        raise InteractionRejected("forged")
    return timestamp


def interaction_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`: slack_sdk's `SignatureVerifier.generate_signature`,
    over the raw bytes (it decodes the body first, which a non-UTF-8 body would turn into a 500)."""
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def interaction_digest(timestamp: str, body: bytes) -> str:
    """sha256 of the signed content, `v0:{timestamp}:{body}`: one per signed request, ever."""
    return hashlib.sha256(f"v0:{timestamp}:".encode() + body).hexdigest()


@dataclass(frozen=True)
class Interaction:
    """What a request asks, as read from Slack's payload (the raw payload is kept on the inbox row)."""

    kind: str  # block_actions | view_submission
    action_id: str  # approve | edit | decline, or the modal's callback_id
    refund_public_id: str
    version: int | None  # the refund's version the card (or the modal) showed
    slack_user_id: str
    slack_team_id: str
    channel: str  # the card's channel and message ts (a modal carries them in private_metadata)
    message_ts: str
    trigger_id: str
    view_id: str
    payload: dict[str, Any]


class BadInteraction(Exception):
    """The payload is not one of ours (400); `reason` is the metric's label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def interaction_parse(body: bytes) -> Interaction | None:
    """The interaction in a verified body; None for a block action that is none of the card's decisions.

    (A link button, say: Slack sends those too, and they ask nothing of us.)
    Raises BadInteraction for anything but JSON of a known type.
    """
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=5, strict_parsing=True)
        payload = json.loads(fields["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise BadInteraction("not_json") from None
    if not isinstance(payload, dict):
        raise BadInteraction("not_json")
    kind = payload.get("type")
    user = _dict(payload.get("user"))
    slack_user_id = _text(user.get("id"))
    team_id = _text(user.get("team_id")) or _text(_dict(payload.get("team")).get("id"))
    if not slack_user_id:
        raise BadInteraction("no_user")
    if kind == "block_actions":
        return _block_action(payload, slack_user_id, team_id)
    if kind == "view_submission":
        return _view_submission(payload, slack_user_id, team_id)
    raise BadInteraction("unknown_type")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int = 40) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _block_action(payload: dict[str, Any], slack_user_id: str, team_id: str) -> Interaction | None:
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise BadInteraction("no_actions")
    action = next(
        (a for a in actions if isinstance(a, dict) and a.get("action_id") in CARD_ACTIONS),
        None,
    )
    if action is None:
        return None
    match = CARD_BLOCK.fullmatch(str(action.get("block_id", "")))
    value = str(action.get("value", ""))
    if match is None or match.group(1) != value:
        raise BadInteraction("not_our_card")
    container = _dict(payload.get("container"))
    channel = _text(_dict(payload.get("channel")).get("id")) or _text(container.get("channel_id"))
    message_ts = _text(container.get("message_ts")) or _text(_dict(payload.get("message")).get("ts"))
    return Interaction(
        kind="block_actions",
        action_id=action["action_id"],
        refund_public_id=value,
        version=int(match.group(2)),
        slack_user_id=slack_user_id,
        slack_team_id=team_id,
        channel=channel,
        message_ts=message_ts,
        trigger_id=_text(payload.get("trigger_id"), 200),
        view_id="",
        payload=payload,
    )


def _view_submission(payload: dict[str, Any], slack_user_id: str, team_id: str) -> Interaction:
    view = _dict(payload.get("view"))
    callback_id = view.get("callback_id")
    if callback_id not in MODAL_CALLBACKS:
        raise BadInteraction("unknown_view")
    try:
        meta = json.loads(view.get("private_metadata") or "")
    except ValueError:
        raise BadInteraction("no_metadata") from None
    if not isinstance(meta, dict):
        raise BadInteraction("no_metadata")
    public_id = str(meta.get("refund", ""))
    version = meta.get("version")
    if not PUBLIC_ID.fullmatch(public_id) or not isinstance(version, int) or isinstance(version, bool):
        raise BadInteraction("no_metadata")
    return Interaction(
        kind="view_submission",
        action_id=callback_id,
        refund_public_id=public_id,
        version=version,
        slack_user_id=slack_user_id,
        slack_team_id=team_id,
        channel=_text(meta.get("channel")),
        message_ts=_text(meta.get("ts")),
        trigger_id=_text(payload.get("trigger_id"), 200),
        view_id=_text(view.get("id"), 60),
        payload=payload,
    )


def interaction_record(*, interaction: Interaction, digest: str, timestamp: str) -> SlackInteraction | None:
    """The inbox row of this signed request; None when it was recorded before (a replay: do nothing).

    Call before any work: a replay never does it again. A recorded approval
    whose task was never queued (a broker down) is queued by the sweeper.
    """
    try:
        # A savepoint around the INSERT alone: only "this digest is stored" may be read as a replay.
        with transaction.atomic():
            row = SlackInteraction.objects.create(
                digest=digest,
                request_timestamp=int(timestamp),
                kind=interaction.kind,
                action_id=interaction.action_id,
                refund_public_id=interaction.refund_public_id,
                slack_user_id=interaction.slack_user_id,
                slack_team_id=interaction.slack_team_id,
                payload=interaction.payload,
            )
    except IntegrityError:
        if not SlackInteraction.objects.filter(digest=digest).exists():
            raise
        interaction_rejected("replay", digest=digest[:16])
        return None
    SLACK_INTERACTION_TOTAL.labels(kind=interaction.kind, action=interaction.action_id).inc()
    return row
