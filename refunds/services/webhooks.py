"""The provider webhook inbox (SPEC §6): verified, deduplicated, applied once.

Provider-neutral: the named provider verifies the request and reads the event
(`Provider.verify_webhook`); the inbox only stores, deduplicates and applies
the normalised `ProviderEvent`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from core.money import format_plain, is_known_currency
from core.telemetry import link_stored_trace
from providers.base import (
    EVENT_ID_MAX_LENGTH,
    EVENT_TYPE_MAX_LENGTH,
    PROVIDER_REFUND_ID_MAX_LENGTH,
    ProviderEvent,
    ProviderOutcome,
    WebhookRejected,
    WebhookSignatureInvalid,
)
from providers.registry import UnknownProvider, get_provider
from refunds.enums import PaymentStatus, RefundInstrument, RefundState, WebhookStatus
from refunds.metrics import WEBHOOK_REPLAY_DEDUP_TOTAL, webhook_applied
from refunds.models import Payment, Refund, WebhookEvent
from refunds.permissions import Perm, require_perm
from refunds.services.outbox import submission_trace_context
from refunds.services.outcome import refund_apply_outcome
from refunds.services.transition import refund_lock

__all__ = ["WebhookRejected", "WebhookResult", "webhook_receive", "webhook_review"]

logger = logging.getLogger("refunds.webhooks")


@dataclass(frozen=True)
class WebhookResult:
    status: str  # processed | ignored | unknown_refund | held | duplicate
    event_id: str


# The metadata names our refund; it is trusted only for a refund that is out at
# the provider and whose provider id we have not learnt yet (a timeout hid it).
METADATA_MATCH_STATES = frozenset({RefundState.SUBMITTING, RefundState.PROVIDER_PENDING})


def webhook_receive(*, provider: str, payload: bytes, headers: Mapping[str, str]) -> WebhookResult:
    """Verify, store and apply one event of `provider` (a name of `providers.registry.PROVIDERS`).

    Raises `WebhookRejected` - answered 400, nothing stored - when the
    provider is unknown or sends no webhooks, the signature does not verify
    (logged as MSG.webhook.rejected with its reason), or the payload is not an
    event (or does not fit the inbox). Otherwise, side effects in one
    transaction: the inbox row (unique per provider and event id) naming the
    provider, and for refund events the outcome applied to the refund (see
    `refund_apply_outcome`, which never moves a refund backwards; a `failed`
    event for a completed refund is a provider reversal, unless stale: see
    `_is_stale_reversal`) with the audit event `webhook.received`. An event that names one of our refunds but
    does not add up (see `_hold_reason`) is stored as `held` for finance and
    changes nothing. After commit, the lag of an event that reached its
    refund (applied, or already known) is observed in `provider_webhook_lag_seconds`. A replayed event id
    only increments its `replay_count` and the dedup metric. An event for a refund we do not know is kept as
    `unknown_refund` for reconciliation. If applying fails, the error
    propagates (a 500: the provider retries) and nothing is stored.
    """
    try:
        receiver = get_provider(provider)
    except UnknownProvider:
        raise WebhookRejected(f"no provider named {provider!r}", reason="unknown_provider") from None
    try:
        event = receiver.verify_webhook(payload=payload, headers=headers)
    except WebhookSignatureInvalid as error:
        logger.warning(
            "webhook signature rejected",
            extra={"message_id": "MSG.webhook.rejected", "reason": error.reason, "provider": provider},
        )
        raise
    _check_fits_inbox(event)

    with transaction.atomic():
        try:
            # A savepoint around the insert alone: only "this event id is stored
            # already" may be answered as a replay. An IntegrityError raised while
            # applying is a failure, which must reach the provider as a 500 (it
            # retries) and roll back the inbox row with everything else.
            with transaction.atomic():
                inbox = WebhookEvent.objects.create(
                    provider=provider,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    provider_refund_id=event.provider_refund_id or "",
                    payload=event.payload,
                    status=WebhookStatus.IGNORED,
                    provider_created_at=event.created_at,
                )
        except IntegrityError:
            replayed = WebhookEvent.objects.filter(provider=provider, event_id=event.event_id).update(
                replay_count=F("replay_count") + 1, last_replayed_at=timezone.now()
            )
            if not replayed:
                raise  # not the unique event id: a real failure
            WEBHOOK_REPLAY_DEDUP_TOTAL.inc()
            logger.info(
                "webhook replay ignored", extra={"message_id": "MSG.webhook.replayed", "event_id": event.event_id}
            )
            return WebhookResult("duplicate", event.event_id)
        _apply(inbox, event)
        if inbox.refund_id is not None and inbox.status in (WebhookStatus.PROCESSED, WebhookStatus.IGNORED):
            # The lag from the provider's event to its refund here, counted once it is committed. An event
            # that changed nothing (the API's answer told us first) counts too: the lag is the webhook path's.
            transaction.on_commit(partial(webhook_applied, provider=provider, created_at=event.created_at))
    return WebhookResult(inbox.status, event.event_id)


def _check_fits_inbox(event: ProviderEvent) -> None:
    """Refuse (400) an event whose fields do not fit the inbox columns, whatever provider parsed it.

    The provider's parser checks its own envelope; this is the inbox's own
    guard, so a too-long id is a refusal rather than a database error (a 500).
    A refund id in the metadata is only looked up, never stored: any string will do.
    """
    fields = {
        "event id": (event.event_id, EVENT_ID_MAX_LENGTH),
        "event type": (event.event_type, EVENT_TYPE_MAX_LENGTH),
        "provider refund id": (event.provider_refund_id or "", PROVIDER_REFUND_ID_MAX_LENGTH),
    }
    for label, (value, max_length) in fields.items():
        if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
            raise WebhookRejected(f"the {label} does not fit the inbox", reason="malformed")
    if not event.event_id:
        raise WebhookRejected("the event has no id", reason="malformed")


def _apply(inbox: WebhookEvent, event: ProviderEvent) -> None:
    """Apply a refund event's outcome to its refund and record what happened on the inbox row."""
    if event.voided_payment_id:
        _apply_payment_voided(inbox, event)
        return
    if event.outcome is None:
        inbox.note = "not a refund event"
        inbox.save(update_fields=["note"])
        return
    candidate = _find_refund(provider=inbox.provider, event=event)
    if candidate is None:
        inbox.status = WebhookStatus.UNKNOWN_REFUND
        inbox.note = "no refund with this provider id or metadata refund_id"
        inbox.save(update_fields=["status", "note"])
        logger.warning(
            "webhook for unknown refund",
            extra={"message_id": "MSG.webhook.unknown_refund", "provider_refund_id": inbox.provider_refund_id},
        )
        return
    # This request is the provider's, a trace of its own: linked to the refund's (its submission's context).
    link_stored_trace(lambda: submission_trace_context(refund_id=candidate.pk))
    # Judged under the refund's lock (payment, then refund: the one lock order),
    # so its provider id and state cannot change between the check and the apply.
    refund, _payment = refund_lock(refund_id=candidate.pk)
    if event.provider_refund_id and event.provider_refund_id in (refund.earlier_provider_refund_ids or []):
        # Our own earlier round's provider refund (failed, then retried as a new one): history, not news.
        inbox.refund = refund
        inbox.status = WebhookStatus.IGNORED
        inbox.note = f"provider refund {event.provider_refund_id} is an earlier round of refund {refund.public_id}"
        inbox.save(update_fields=["refund", "status", "note"])
        return
    held = _hold_reason(refund, event)
    if held:
        _hold(inbox, refund=refund, reason=held)
        return
    outcome = event.outcome
    if _is_stale_reversal(inbox, refund=refund, event=event):
        applied = False
    else:
        refund, applied = refund_apply_outcome(
            refund_id=refund.pk, outcome=outcome, source="webhook", occurred_at=event.created_at
        )
    inbox.refund = refund
    inbox.status = WebhookStatus.PROCESSED if applied else WebhookStatus.IGNORED
    inbox.note = f"{outcome.status} -> refund {refund.state}" + ("" if applied else " (no change: late or repeated)")
    inbox.save(update_fields=["refund", "status", "note"])
    audit_record(
        actor=Actor.system("webhook"),
        action=AuditAction.WEBHOOK_RECEIVED,
        refund=refund,
        note=f"{inbox.event_type} {inbox.event_id}: {inbox.note}",
    )


# Payment statuses an authorization's cancel at the provider may move to `voided`: nothing captured.
_UNCAPTURED = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURE_PENDING, PaymentStatus.CAPTURE_FAILED})


def _apply_payment_voided(inbox: WebhookEvent, event: ProviderEvent) -> None:
    """The provider released a payment's authorization (issue 15, docs/instruments.md "Voids").

    Under the payment's lock (the first lock of the one order, payment then refund):
    * a void of ours out at the provider (`submitting`, `provider_pending`)
      completes, as the delivery's own answer would (`refund_apply_outcome`:
      whichever comes second changes nothing) — the payment becomes voided with it;
    * otherwise an uncaptured payment becomes `voided` (someone canceled it at
      the provider: the merchant, or the authorization expired), audited as an
      order update; a void of ours still waiting (`requested`, `approved`) then
      completes when it is sent, the provider answering that the hold is gone;
    * a payment voided already, captured here, or unknown is left as it is
      (ignored, with a note; a captured one is logged: the merchant's data and
      the provider disagree).
    """
    payment = (
        Payment.objects.select_for_update()
        .select_related("order")
        .filter(provider=inbox.provider, provider_payment_id=event.voided_payment_id)
        .first()
    )
    if payment is None:
        inbox.note = f"payment {event.voided_payment_id} canceled at the provider: not a payment of ours"
        inbox.save(update_fields=["note"])
        return
    void = (
        Refund.objects.filter(
            payment=payment,
            instrument=RefundInstrument.VOID,
            state__in=(RefundState.SUBMITTING, RefundState.PROVIDER_PENDING),
        )
        .values_list("pk", flat=True)
        .first()
    )
    if void is not None:
        outcome = ProviderOutcome(
            status="succeeded", provider_refund_id=event.voided_payment_id, raw={"status": event.provider_status}
        )
        refund, applied = refund_apply_outcome(
            refund_id=void, outcome=outcome, source="webhook", occurred_at=event.created_at
        )
        inbox.refund = refund
        inbox.status = WebhookStatus.PROCESSED if applied else WebhookStatus.IGNORED
        inbox.note = f"hold released -> void {refund.state}" + ("" if applied else " (no change)")
        inbox.save(update_fields=["refund", "status", "note"])
        audit_record(
            actor=Actor.system("webhook"),
            action=AuditAction.WEBHOOK_RECEIVED,
            refund=refund,
            note=f"{inbox.event_type} {inbox.event_id}: {inbox.note}",
        )
        return
    if payment.status not in _UNCAPTURED:
        inbox.note = f"payment {payment.provider_payment_id} canceled at the provider, {payment.status} here: no change"
        inbox.save(update_fields=["note"])
        if payment.status != PaymentStatus.VOIDED:
            logger.warning(
                "provider canceled a payment we hold as captured",
                extra={"message_id": "MSG.webhook.void_of_captured", "event_id": inbox.event_id},
            )
        return
    before = payment.status
    payment.status = PaymentStatus.VOIDED
    payment.save(update_fields=["status", "updated_at"])
    inbox.status = WebhookStatus.PROCESSED
    inbox.note = f"payment {payment.provider_payment_id} canceled at the provider: {before} -> voided"
    inbox.save(update_fields=["status", "note"])
    audit_record(
        actor=Actor.system("webhook"),
        action=AuditAction.ORDER_UPDATED,
        subject=payment.order.order_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        note=f"{inbox.event_type} {inbox.event_id}: the authorization was released at the provider",
        before={"payment_status": before},
        after={"payment_status": PaymentStatus.VOIDED},
    )


def _is_stale_reversal(inbox: WebhookEvent, *, refund: Refund, event: ProviderEvent) -> bool:
    """A `failed` event for a completed refund that is older than news already applied to it.

    `failed` of a completed refund is a provider reversal and moves it (issue
    12) — unless the provider said it before an event we applied since (say
    the success that completed it): that failure is stale, and stays ignored.
    Repeats of one failure (refund.updated, refund.failed and
    charge.refund.updated all tell it) find the refund failed already and are
    ignored by `refund_apply_outcome`. Compared on the provider's own clock.
    """
    if refund.state != RefundState.COMPLETED or event.outcome is None or event.outcome.status != "failed":
        return False
    if event.created_at is None:
        return False
    return (
        WebhookEvent.objects.filter(
            provider=inbox.provider,
            refund=refund,
            status=WebhookStatus.PROCESSED,
            provider_created_at__gt=event.created_at,
        )
        .exclude(pk=inbox.pk)
        .exists()
    )


def _find_refund(*, provider: str, event: ProviderEvent) -> Refund | None:
    """The refund the event names, among the refunds of payments held by `provider`: by provider id, else metadata."""
    refunds = Refund.objects.filter(payment__provider=provider)
    if event.provider_refund_id:
        refund = refunds.filter(provider_refund_id=event.provider_refund_id).first()
        if refund is not None:
            return refund
    if event.refund_public_id:
        return refunds.filter(public_id=event.refund_public_id).first()
    return None


def _hold_reason(refund: Refund, event: ProviderEvent) -> str:
    """Why the event must not touch `refund` (locked), or "" when it may.

    The provider refund id decides. The metadata (which the merchant's own
    provider account can set on any refund) is trusted only while we have not
    learnt the provider id of our refund and it is out at the provider; even
    then amount and currency must be ours. Anything else would let one
    provider refund fail, complete or reverse another.
    """
    theirs = event.provider_refund_id or "-"
    if refund.provider_refund_id and refund.provider_refund_id != event.provider_refund_id:
        return (
            f"provider refund {theirs} names refund {refund.public_id} in its metadata, "
            f"which is provider refund {refund.provider_refund_id}"
        )
    if not refund.provider_refund_id and refund.state not in METADATA_MATCH_STATES:
        return (
            f"provider refund {theirs} names refund {refund.public_id} in its metadata, "
            f"which is {refund.state}, not out at the provider"
        )
    if event.currency != refund.currency:
        return (
            f"currency {event.currency or 'missing'} of provider refund {theirs} "
            f"is not {refund.currency} of refund {refund.public_id}"
        )
    if event.amount_minor != refund.amount_minor:
        theirs_amount = (
            format_plain(event.amount_minor, event.currency)
            if event.amount_minor is not None and is_known_currency(event.currency or "")
            else "missing"
        )
        return (
            f"amount {theirs_amount} of provider refund {theirs} is not "
            f"{format_plain(refund.amount_minor, refund.currency)} of refund {refund.public_id}"
        )
    return ""


def _hold(inbox: WebhookEvent, *, refund: Refund, reason: str) -> None:
    """Keep the event for finance (status `held`), touching nothing of the refund it names.

    The refund is named in the note, not linked: the event is not about it
    until finance says so, so it must not appear on that refund's timeline.
    """
    inbox.status = WebhookStatus.HELD
    inbox.note = f"held: {reason}"[: WebhookEvent._meta.get_field("note").max_length]
    inbox.save(update_fields=["status", "note"])
    logger.warning(
        "webhook held",
        extra={
            "message_id": "MSG.webhook.held",
            "event_id": inbox.event_id,
            "provider_refund_id": inbox.provider_refund_id,
            "refund_id": refund.public_id,
        },
    )


def webhook_review(*, event_pk: int, actor: Actor, note: str) -> WebhookEvent:
    """Finance reviewed a held event: it leaves Needs action, and stays `held` in the inbox.

    Side effects, in one transaction: the event's reviewed_at/by and note, and
    the audit event `webhook.reviewed` (naming the event, never applying it:
    a held event never touches a refund). Reviewing it again changes nothing.
    """
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_VALIDATION, "Say what you found (a note is required).")
    require_perm(actor.user, Perm.VIEW_FINANCE)
    with transaction.atomic():
        inbox = WebhookEvent.objects.select_for_update().get(pk=event_pk)
        if inbox.status != WebhookStatus.HELD:
            raise DomainError(ERR_CONFLICT_STATE, f"Only held events are reviewed (this one is {inbox.status}).")
        if inbox.reviewed_at is not None:
            return inbox
        inbox.reviewed_at, inbox.reviewed_by = timezone.now(), actor.user
        inbox.review_note = note[: WebhookEvent._meta.get_field("review_note").max_length]
        inbox.save(update_fields=["reviewed_at", "reviewed_by", "review_note"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_REVIEWED,
            subject=f"webhook {inbox.provider} {inbox.event_id}",
            note=inbox.review_note,
        )
    return inbox
