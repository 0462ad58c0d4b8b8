"""Decisions taken from Slack: the same services, rules and words as the console, audited with channel "slack".

Who is tapping is the console user `integrations.slack.users` maps them to;
their actor is `Actor.for_slack_user(user, slack_user_id)`, so every audit
event the services write records the channel "slack" and the label
"alice (Slack U0ALICE)": who in the console, and which Slack account.
Nothing here decides who may do what: `refunds.services.decide` refuses
(maker-checker, roles, dual control, a changed refund) exactly as for the
console and the API, and the checks made before a modal opens are the
functions the console's card asks (`refunds.permissions`).

* Approve — `approve_tap` (in the request): a high-value refund the person
  could approve opens the confirmation modal (the console's high-value tick);
  anything else goes to `process_interaction` (Celery): map the user afresh
  (users.info, never the cache), refuse a tap older than APPROVAL_MAX_AGE
  and a high-value approval (only the modal approves those), approve the
  version the card showed, mark the inbox row, tell the person (ephemeral).
  The inbox row is locked and marked in the decision's transaction, so a
  redelivered task never approves twice.
* Edit, Decline — `modal_open` (in the request: the trigger id lives 3 s):
  map the user, check they may, open the modal.
* A modal's submission — `submission_decide` (in the request: its errors
  go back into the modal): edit then approve in one transaction, decline,
  or approve the high-value refund the confirmation showed.

In the request every Slack call shares one `Deadline` (2.5 s in all), so the
answer reaches Slack within its 3 seconds however slow Slack is.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from slack_sdk.errors import SlackApiError

from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_EXCEEDS_REMAINING,
    ERR_REPLY_AMOUNT_MISMATCH,
    ERR_REPLY_PLACEHOLDER,
    DomainError,
    InvalidTransition,
)
from core.money import AmountInputError, parse_major_amount
from core.queueing import backoff_with_jitter, enqueue_best_effort
from integrations.models import InteractionStatus, SlackInteraction
from integrations.slack.client import Deadline, slack_client, slack_enabled
from integrations.slack.ephemeral import ephemeral_queue
from integrations.slack.interactions import APPROVE_CONFIRM_CALLBACK, CARD_BLOCK, EDIT_CALLBACK, Interaction
from integrations.slack.modals import (
    INPUT_MAX,
    approve_confirm_modal,
    decline_modal,
    edit_modal,
    submitted_confirmed,
    submitted_text,
)
from integrations.slack.text import (
    DECLINE_DRAFT,
    HIGH_VALUE_CONFIRM_IN_DIALOG,
    HIGH_VALUE_UNCONFIRMED,
    MODAL_NOT_OPENED,
    NO_SUCH_REFUND,
    NOT_PROCESSED,
    REPLY_TOO_LONG,
    SLACK_SLOW,
    STALE_CARD,
    TAP_TOO_OLD,
    approved_words,
    declined_words,
    refusal_words,
)
from integrations.slack.users import NETWORK_ERRORS, SlackPerson, SlackUnavailable, slack_console_user
from refunds.enums import DecisionKind, RefundState
from refunds.models import Refund
from refunds.permissions import approval_refusal, decide_refusal, edit_refusal
from refunds.selectors import reply_declines
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from refunds.services.policy import high_value_threshold_minor, is_high_value

logger = logging.getLogger("integrations.slack.decisions")

PROCESS_MAX_RETRIES = 5
# An approval is decided within this long of the tap or not at all: the person may have moved on (or
# decided in the console). The task itself refuses an older tap (a retry after a long Retry-After, a
# queue that was down), so this holds without beat; the sweeper gives up on the rows it finds older.
APPROVAL_MAX_AGE = timedelta(minutes=10)
# An approval whose task never ran (broker down, worker died): queued again by the sweeper for this
# long after the tap, until APPROVAL_MAX_AGE.
SWEEP_AFTER = timedelta(seconds=60)
SWEEP_GIVE_UP_AFTER = APPROVAL_MAX_AGE
DB_ERRORS = (OperationalError, InterfaceError)


def _finish(row: SlackInteraction, status: str, outcome: str) -> None:
    row.status = status
    row.outcome = outcome[:2000]
    row.processed_at = timezone.now()
    row.save(update_fields=["status", "outcome", "processed_at"])


def _card_version(payload: dict[str, Any]) -> int | None:
    for action in payload.get("actions") or []:
        match = CARD_BLOCK.fullmatch(str((action or {}).get("block_id", "")))
        if match:
            return int(match.group(2))
    return None


def _card_place(row: SlackInteraction) -> tuple[str, str]:
    """The channel and the Slack user of a card tap, for the ephemeral answer."""
    payload = row.payload or {}
    channel = (payload.get("channel") or {}).get("id") or (payload.get("container") or {}).get("channel_id") or ""
    return str(channel), row.slack_user_id


def _refund(public_id: str) -> Refund | None:
    return (
        Refund.objects.select_related("payment", "order", "order__customer", "policy_version")
        .filter(public_id=public_id)
        .first()
    )


def _approver_ids(refund: Refund) -> list[int | None]:
    return list(refund.decisions.filter(kind=DecisionKind.APPROVE).values_list("actor_id", flat=True))


# --- Approve: in Celery ---------------------------------------------------------------


def interaction_enqueue(interaction_id: int) -> bool:
    """Queue the approval's task, best effort: the inbox row is durable, the sweeper queues what this missed."""
    return enqueue_best_effort(
        process_interaction,
        kwargs={"interaction_id": interaction_id},
        message_id="MSG.slack.interaction_enqueue_failed",
        log={"interaction_id": interaction_id},
    )


@shared_task(
    name="integrations.slack.process_interaction",
    bind=True,
    autoretry_for=DB_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=PROCESS_MAX_RETRIES,
    acks_late=True,
)
def process_interaction(self, *, interaction_id: int) -> str:
    """Decide a card's Approve tap (the inbox row `interaction_id`), once, and tell the person.

    Side effects, in order: a tap older than APPROVAL_MAX_AGE is refused
    (however late this task runs, nothing is decided on an old tap);
    `users.info` of the tapping person, always (Slack's side of them as it
    is now: a guest, a deactivated or moved account, another email no longer
    approves; Slack slow: retried, then given up with an ephemeral); a
    high-value refund the person could approve is refused (only the
    confirmation modal approves those, as the console asks its tick); then
    in one transaction, under the inbox row's lock (a second delivery of
    this task waits, then finds it done): `refund_approve` of the version the
    card showed, as `Actor.for_slack_user` (its Decision and audit events,
    channel "slack"), and the row marked done or refused with the outcome;
    after commit the ephemeral answer (`integrations.slack.post_ephemeral`).
    """
    row = SlackInteraction.objects.filter(pk=interaction_id).first()
    if row is None or row.status != InteractionStatus.RECEIVED:
        return "already processed"
    channel, slack_user = _card_place(row)
    if _too_old(row):
        return _settle(row.pk, InteractionStatus.FAILED, _too_old_words(row), channel=channel, slack_user=slack_user)
    try:
        person = slack_console_user(row.slack_user_id, fresh=True)
    except SlackUnavailable as error:
        if self.request.retries >= PROCESS_MAX_RETRIES:
            return _settle(row.pk, InteractionStatus.FAILED, SLACK_SLOW, channel=channel, slack_user=slack_user)
        countdown = error.retry_after or backoff_with_jitter(self.request.retries + 1, base=2.0, cap=30.0)
        raise self.retry(countdown=countdown, exc=error) from None
    refund, refusal = _approve_refusal(row, person)
    if refusal:
        return _settle(row.pk, InteractionStatus.REFUSED, refusal, channel=channel, slack_user=slack_user)
    already = refund.state != RefundState.REQUESTED
    with transaction.atomic():
        locked = SlackInteraction.objects.select_for_update().get(pk=row.pk)
        if locked.status != InteractionStatus.RECEIVED:
            return "already processed"
        if _too_old(locked):  # users.info may have taken a while
            words, status = _too_old_words(locked), InteractionStatus.FAILED
            _finish(locked, status, words)
            ephemeral_queue(channel=channel, user=slack_user, text=words)
            return status
        try:
            # No savepoint of ours: a refusal raised after the service committed its own part (a payment
            # charged back since: the refund is canceled, then the approver told) keeps that part.
            refund = refund_approve(
                refund_id=refund.pk,
                actor=Actor.for_slack_user(person.user, row.slack_user_id),
                expected_version=_card_version(row.payload),
            )
        except DomainError as error:
            words, status = refusal_words(error), InteractionStatus.REFUSED
        else:
            words, status = approved_words(refund, already=already), InteractionStatus.DONE
        _finish(locked, status, words)
        ephemeral_queue(channel=channel, user=slack_user, text=words)
    return status


def _too_old(row: SlackInteraction) -> bool:
    return row.received_at < timezone.now() - APPROVAL_MAX_AGE


def _too_old_words(row: SlackInteraction) -> str:
    return TAP_TOO_OLD.format(refund=row.refund_public_id, minutes=int(APPROVAL_MAX_AGE.total_seconds() // 60))


def _could_approve(refund: Refund, user: Any) -> bool:
    """The console's `card.can_approve`: the refund waits and this person's approval would be taken."""
    return (
        refund.state == RefundState.REQUESTED
        and approval_refusal(refund, user, approver_ids=_approver_ids(refund)) is None
    )


def _approve_refusal(row: SlackInteraction, person: SlackPerson) -> tuple[Refund | None, str]:
    """The refund, and why nothing is tried at all: nobody we know, no such refund, the console's approve guards.

    The console refuses approving while the draft still declines, and above
    the high-value threshold without its tick (console.views.card.approve),
    but only for someone who could approve: anyone else gets the service's
    own refusal. A plain tap carries no tick: high value is approved only
    through the confirmation modal (`approve_tap`, `_submit_approve`).
    """
    if person.user is None:
        return None, person.why
    refund = _refund(row.refund_public_id)
    if refund is None:
        return None, NO_SUCH_REFUND
    if _could_approve(refund, person.user):
        if reply_declines(refund):
            return refund, DECLINE_DRAFT
        if is_high_value(refund.policy_version, refund.currency, refund.amount_minor):
            return refund, HIGH_VALUE_CONFIRM_IN_DIALOG
    return refund, ""


def _settle(row_id: int, status: str, words: str, *, channel: str, slack_user: str) -> str:
    """Mark the row (if still unprocessed) and tell the person why."""
    with transaction.atomic():
        row = SlackInteraction.objects.select_for_update().get(pk=row_id)
        if row.status != InteractionStatus.RECEIVED:
            return "already processed"
        _finish(row, status, words)
        ephemeral_queue(channel=channel, user=slack_user, text=words)
    return status


@shared_task(name="integrations.slack.sweep_interactions", acks_late=True)
def sweep_interactions() -> int:
    """Beat: queue again the approvals whose task was lost; give up those too old to decide now.

    An approval tapped more than SWEEP_GIVE_UP_AFTER ago is not decided:
    the person may have moved on (or approved in the console); they are told
    to tap again. A modal's row left unprocessed (its web process died) is
    marked failed: its modal never opened, or its submission got no answer.
    """
    if not slack_enabled():
        return 0
    now = timezone.now()
    pending = SlackInteraction.objects.filter(status=InteractionStatus.RECEIVED, received_at__lt=now - SWEEP_AFTER)
    queued = 0
    for row in pending.order_by("id")[:500]:
        if row.kind == "block_actions" and row.action_id == "approve" and row.received_at > now - SWEEP_GIVE_UP_AFTER:
            queued += interaction_enqueue(row.pk)
            continue
        if row.received_at > now - SWEEP_GIVE_UP_AFTER:
            continue
        channel, slack_user = _card_place(row)
        words = NOT_PROCESSED.format(refund=row.refund_public_id)
        if row.kind != "block_actions" or row.action_id != "approve":
            channel = ""  # a modal's answer was the modal; nothing to add
        _settle(row.pk, InteractionStatus.FAILED, words, channel=channel, slack_user=slack_user)
    return queued


# --- Edit and Decline: the modal opens in the request ---------------------------------


def tap_refusal(refund: Refund, user: Any, *, action: str, version: int | None) -> str:
    """Why `user` may not start `action` ("edit" or "decline") on `refund` as the card showed it, or "".

    Edit is "save and approve": refused to who may not edit (`edit_refusal`:
    role, maker-checker, a state or an approval that no longer allows it)
    and to who could not give the approval that follows (`approval_refusal`:
    dual control's senior). Decline: `decide_refusal` and the state. Then a
    card drawn before the refund's last change is stale.
    """
    approvers = _approver_ids(refund)
    if action == "edit":
        error = edit_refusal(refund, user, approvals_given=len(approvers))
        if error is not None:
            return error.message
        approval = approval_refusal(refund, user, approver_ids=approvers)
        if approval is not None:
            return approval.error().message
    else:
        error = decide_refusal(user)
        if error is not None:
            return error.message
        if refund.state != RefundState.REQUESTED:
            return InvalidTransition(refund.state, RefundState.DENIED).message
    if version != refund.version:
        return STALE_CARD
    return ""


def _views_open(interaction: Interaction, view: dict[str, Any], deadline: Deadline) -> bool:
    """`views.open` within what is left of the request's budget; False (logged) when Slack did not take it."""
    if deadline.expired():
        logger.warning("slack modal not opened", extra={"message_id": "MSG.slack.modal_failed", "error": "deadline"})
        return False
    try:
        slack_client(deadline=deadline).views_open(trigger_id=interaction.trigger_id, view=view)
    except (SlackApiError, *NETWORK_ERRORS) as error:
        logger.warning(
            "slack modal not opened",
            extra={"message_id": "MSG.slack.modal_failed", "error": f"{error.__class__.__name__}"},
        )
        return False
    return True


def approve_tap(row: SlackInteraction, interaction: Interaction, deadline: Deadline) -> bool:
    """An Approve tap, in the request: True when it is for the Celery task (`process_interaction`) to decide.

    A high-value refund (above the policy's high-value threshold, the one the
    console's card asks its tick for) that the tapping person could approve
    opens the confirmation modal (`approve_confirm_modal`) instead: its
    trigger id lives 3 seconds, so this is done before answering Slack, the
    Slack calls within `deadline`. Its submission approves
    (`submission_decide`). Anything else (not high value, a person who could
    not approve: the service gives its refusal) goes to the task, as before.
    The inbox row records what happened here.
    """
    refund = _refund(interaction.refund_public_id)
    if refund is None or refund.state != RefundState.REQUESTED:
        return True
    threshold = high_value_threshold_minor(refund.policy_version, refund.currency)
    if threshold is None or refund.amount_minor <= threshold:
        return True
    channel, slack_user = interaction.channel, interaction.slack_user_id

    def refused(words: str, status: str = InteractionStatus.REFUSED) -> bool:
        _finish(row, status, words)
        ephemeral_queue(channel=channel, user=slack_user, text=words)
        return False

    try:
        person = slack_console_user(slack_user, deadline=deadline)
    except SlackUnavailable:
        return refused(SLACK_SLOW, InteractionStatus.FAILED)
    if person.user is None:
        return refused(person.why)
    if not _could_approve(refund, person.user):
        return True
    if interaction.version != refund.version:
        return refused(STALE_CARD)
    if reply_declines(refund):
        return refused(DECLINE_DRAFT)
    view = approve_confirm_modal(refund, threshold_minor=threshold, channel=channel, ts=interaction.message_ts)
    if not _views_open(interaction, view, deadline):
        return refused(MODAL_NOT_OPENED, InteractionStatus.FAILED)
    _finish(row, InteractionStatus.DONE, f"approve confirmation opened for {person.user.get_username()}")
    return False


def modal_open(row: SlackInteraction, interaction: Interaction, deadline: Deadline) -> None:
    """Open the Edit or Decline modal for who tapped, if they may; else tell them why (ephemeral).

    Runs in the request, outside any transaction: `auth.test` and
    `users.info` (when not cached) and `views.open` share `deadline`, so the
    answer reaches Slack within its 3 seconds. The inbox row records what happened.
    """
    channel, slack_user = interaction.channel, interaction.slack_user_id

    def refused(words: str, status: str = InteractionStatus.REFUSED) -> None:
        _finish(row, status, words)
        ephemeral_queue(channel=channel, user=slack_user, text=words)

    try:
        person = slack_console_user(slack_user, deadline=deadline)
    except SlackUnavailable:
        return refused(SLACK_SLOW, InteractionStatus.FAILED)
    if person.user is None:
        return refused(person.why)
    refund = _refund(interaction.refund_public_id)
    if refund is None:
        return refused(NO_SUCH_REFUND)
    why = tap_refusal(refund, person.user, action=interaction.action_id, version=interaction.version)
    if why:
        return refused(why)
    if interaction.action_id == "edit":
        if len(refund.draft_reply) > INPUT_MAX:
            return refused(REPLY_TOO_LONG)
        available = refund.payment.remaining_refundable_minor + refund.amount_minor
        view = edit_modal(refund, available_minor=available, channel=channel, ts=interaction.message_ts)
    else:
        view = decline_modal(refund, channel=channel, ts=interaction.message_ts)
    if not _views_open(interaction, view, deadline):
        return refused(MODAL_NOT_OPENED, InteractionStatus.FAILED)
    _finish(row, InteractionStatus.DONE, f"{interaction.action_id} modal opened for {person.user.get_username()}")
    return None


# --- A modal's submission: decided in the request -------------------------------------


def _errors(row: SlackInteraction, errors: dict[str, str], status: str = InteractionStatus.REFUSED) -> dict:
    _finish(row, status, " ".join(errors.values()))
    return {"response_action": "errors", "errors": errors}


def submission_decide(row: SlackInteraction, interaction: Interaction, deadline: Deadline) -> dict[str, Any]:
    """Decide a modal's submission; the answer is Slack's `response_action` (errors, or clear).

    Who is tapping comes from the mapping cached when the modal opened, if
    younger than SLACK_USER_CACHE_SECONDS (else a `users.info` within
    `deadline`); the console user's active flag and permissions are asked
    again, by the services.
    """
    first = {EDIT_CALLBACK: "amount", APPROVE_CONFIRM_CALLBACK: "confirm"}.get(interaction.action_id, "reason")
    try:
        person = slack_console_user(interaction.slack_user_id, deadline=deadline)
    except SlackUnavailable:
        return _errors(row, {first: SLACK_SLOW}, InteractionStatus.FAILED)
    if person.user is None:
        return _errors(row, {first: person.why})
    refund = _refund(interaction.refund_public_id)
    if refund is None:
        return _errors(row, {first: NO_SUCH_REFUND})
    actor = Actor.for_slack_user(person.user, interaction.slack_user_id)
    if interaction.action_id == EDIT_CALLBACK:
        return _submit_edit(row, interaction, refund, actor)
    if interaction.action_id == APPROVE_CONFIRM_CALLBACK:
        return _submit_approve(row, interaction, refund, actor)
    return _submit_decline(row, interaction, refund, actor)


def _submit_approve(row: SlackInteraction, interaction: Interaction, refund: Refund, actor: Actor) -> dict[str, Any]:
    """Approve the high-value refund the confirmation modal showed (its version), once the box is ticked.

    The same refusals as the Approve task, answered on the box: the
    console's guards (the tick, a reply still declining) for someone who
    could approve, then the service's (maker-checker, dual control, a refund
    changed since the modal opened: `expected_version`).
    """
    if _could_approve(refund, actor.user):
        if not submitted_confirmed(interaction.payload):
            return _errors(row, {"confirm": HIGH_VALUE_UNCONFIRMED})
        if reply_declines(refund):
            return _errors(row, {"confirm": DECLINE_DRAFT})
    already = refund.state != RefundState.REQUESTED
    try:
        with transaction.atomic():
            approved = refund_approve(refund_id=refund.pk, actor=actor, expected_version=interaction.version)
            words = approved_words(approved, already=already)
            _finish(row, InteractionStatus.DONE, words)
    except DomainError as error:
        return _errors(row, {"confirm": refusal_words(error)})
    ephemeral_queue(channel=interaction.channel, user=interaction.slack_user_id, text=words)
    return {"response_action": "clear"}


# Which modal field a service's refusal belongs to; any other refusal (who may, a changed refund) goes on the first.
_EDIT_FIELD = {
    ERR_EXCEEDS_REMAINING: "amount",
    ERR_AMOUNT_RANGE: "amount",
    ERR_REPLY_AMOUNT_MISMATCH: "reply",
    ERR_REPLY_PLACEHOLDER: "reply",
}


def _submit_edit(row: SlackInteraction, interaction: Interaction, refund: Refund, actor: Actor) -> dict[str, Any]:
    """Edit (amount and/or reply) and approve the version the edit leaves, in one transaction.

    An approval refused (maker-checker, dual control, the refund changed
    since the modal opened) rolls the edit back with it, as the console's
    "Save and approve" does. Before the services, the console's own guards:
    the amount as typed, a reply left empty or still declining, the
    high-value confirmation.
    """
    payload = interaction.payload
    reply = submitted_text(payload, "reply")
    note = submitted_text(payload, "note").strip()
    errors: dict[str, str] = {}
    amount_minor = None
    try:
        amount_minor = parse_major_amount(submitted_text(payload, "amount"), refund.currency)
    except AmountInputError as error:
        errors["amount"] = error.message
    if not reply.strip():
        errors["reply"] = "The reply cannot be empty."
    could_approve = (
        refund.state == RefundState.REQUESTED
        and approval_refusal(refund, actor.user, approver_ids=_approver_ids(refund)) is None
    )
    if could_approve and "reply" not in errors and reply_declines(refund, reply):
        errors["reply"] = DECLINE_DRAFT
    threshold = high_value_threshold_minor(refund.policy_version, refund.currency)
    if (
        could_approve
        and amount_minor is not None
        and threshold is not None
        and amount_minor > threshold
        and not submitted_confirmed(payload)
    ):
        errors["confirm"] = HIGH_VALUE_UNCONFIRMED
    if errors:
        return _errors(row, errors)
    try:
        with transaction.atomic():
            edited = refund_edit(
                refund_id=refund.pk,
                actor=actor,
                amount_minor=amount_minor,
                reply=reply,
                note=note,
                expected_version=interaction.version,
            )
            # The terms just saved are the ones this person sees: approve exactly that version.
            approved = refund_approve(refund_id=refund.pk, actor=actor, note=note, expected_version=edited.version)
            words = approved_words(approved, already=False)
            _finish(row, InteractionStatus.DONE, words)
    except DomainError as error:
        return _errors(row, {_EDIT_FIELD.get(error.code, "amount"): refusal_words(error)})
    ephemeral_queue(channel=interaction.channel, user=interaction.slack_user_id, text=words)
    return {"response_action": "clear"}


def _submit_decline(row: SlackInteraction, interaction: Interaction, refund: Refund, actor: Actor) -> dict[str, Any]:
    """Decline with the customer's message and the internal rationale (never sent), as the console does."""
    payload = interaction.payload
    reason = submitted_text(payload, "reason").strip()
    rationale = submitted_text(payload, "rationale").strip()
    if not reason:
        return _errors(row, {"reason": "Declining a refund needs a message to the customer."})
    already = refund.state == RefundState.DENIED
    try:
        with transaction.atomic():
            declined = refund_deny(
                refund_id=refund.pk,
                actor=actor,
                note=reason,
                rationale=rationale,
                expected_version=interaction.version,
            )
            words = declined_words(declined, already=already)
            _finish(row, InteractionStatus.DONE, words)
    except DomainError as error:
        return _errors(row, {"reason": refusal_words(error)})
    ephemeral_queue(channel=interaction.channel, user=interaction.slack_user_id, text=words)
    return {"response_action": "clear"}
