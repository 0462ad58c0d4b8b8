"""Customer emails on refund transitions (SPEC §8): accepted, approved, declined, completed, failed.

The chain, in order:
1. a service changes a refund's state and calls `after_commit_state`, which
   calls `notification_enqueue_on_commit` (still inside the transaction);
2. after commit — never before, so a rolled-back refund sends nothing — the
   Celery task `refunds.send_refund_email` is queued; a broker outage is
   logged and swallowed, it cannot fail the request that changed the refund;
3. the task calls `notification_send`: renders plain text + HTML in the
   customer's language with the status link, sends through Django's email
   API, and writes the audit event `notification.sent` (or `.failed`) so the
   refund's timeline shows what the customer was told.

Delivery is at least once: transient SMTP/network errors are retried with
backoff by the task; a message id already recorded as sent for a refund is
not sent again, which absorbs redeliveries. The audit trail never holds the
address itself, only message id and language.
"""

from __future__ import annotations

import logging
import smtplib

from babel.numbers import format_decimal
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from audit.models import AuditEvent
from audit.services import audit_record
from core.actor import Actor
from notifications.messages import (
    MSG_APPROVED,
    MSG_COMPLETED,
    MSG_DECLINED,
    MSG_FAILED,
    MSG_FAILED_RETRYING,
    MSG_REQUEST_ACCEPTED,
    RAIL_LABELS,
    message_get,
    rail_duration_text,
)
from refunds.enums import DecisionKind, Recommendation, RefundState
from refunds.models import Refund
from status_page.presenters import babel_locale, format_amount, status_language

logger = logging.getLogger("notifications.emails")

ACTION_SENT = "notification.sent"
ACTION_FAILED = "notification.failed"
ACTION_SKIPPED = "notification.skipped"
NOTIFIER = Actor.system("notifier")

# The log message id a service passes to `after_commit_state` -> the email it means.
EMAIL_FOR_STATE_MESSAGE: dict[str, str] = {
    "MSG.refund.requested": MSG_REQUEST_ACCEPTED,
    "MSG.refund.approved": MSG_APPROVED,
    "MSG.refund.denied": MSG_DECLINED,
    "MSG.refund.completed": MSG_COMPLETED,
    "MSG.refund.failed": MSG_FAILED,
}
EMAIL_MESSAGE_IDS = frozenset({*EMAIL_FOR_STATE_MESSAGE.values(), MSG_FAILED_RETRYING})


class TransientSendError(Exception):
    """The mail server may accept this later (network error, 4xx): the task retries it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def email_message_id(*, refund: Refund, state_message_id: str) -> str | None:
    """Which email (if any) a state change sends, decided inside the changing transaction."""
    message_id = EMAIL_FOR_STATE_MESSAGE.get(state_message_id)
    if message_id == MSG_REQUEST_ACCEPTED and refund.state != RefundState.REQUESTED:
        # Approved by policy in the same transaction: the approval email says it all,
        # and two emails in the same second would only arrive in random order.
        return None
    if message_id == MSG_FAILED and refund.failure_retryable:
        return MSG_FAILED_RETRYING
    return message_id


def notification_enqueue_on_commit(*, refund: Refund, state_message_id: str) -> None:
    """Queue the email for this state change once (and only if) the transaction commits."""
    message_id = email_message_id(refund=refund, state_message_id=state_message_id)
    if message_id is None:
        return
    refund_pk, public_id = refund.pk, refund.public_id

    def _enqueue() -> None:
        from notifications.tasks import send_refund_email

        try:
            send_refund_email.apply_async(
                kwargs={"refund_id": refund_pk, "message_id": message_id},
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
            )
        except Exception:  # the refund is committed: a lost email must not turn into a 500
            logger.exception(
                "could not queue the customer email",
                extra={"message_id": "MSG.notification.enqueue_failed", "refund_id": public_id, "email": message_id},
            )

    transaction.on_commit(_enqueue)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: connection trouble or a 4xx answer. A 5xx (bad address, refused) is final."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):
        return False
    return isinstance(exc, OSError)  # refused, reset, timed out, DNS


def _describe(exc: BaseException) -> str:
    # Never str(exc): SMTPRecipientsRefused's text holds the address.
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


def notification_build(*, refund: Refund, message_id: str, language: str) -> EmailMultiAlternatives:
    """The email for `message_id`, plain text and HTML, in `language`, with the status link."""
    customer = refund.order.customer
    locale = babel_locale(language, customer.locale or "")
    with translation.override(language):
        message = message_get(message_id)
        rail = refund.payment.rail
        context = {
            "message": message,
            "brand": getattr(settings, "STATUS_PAGE_BRAND", "Refund desk"),
            "status_url": refund.status_url,
            "amount": format_amount(refund.amount_minor, refund.currency, locale),
            "order_id": refund.order.order_id,
            "reference": refund.public_id,
            "rail_label": str(RAIL_LABELS.get(rail, rail)),
            "duration": (
                rail_duration_text(rail, number_format=lambda n: format_decimal(n, locale=locale))
                if message_id in {MSG_APPROVED, MSG_COMPLETED}
                else ""
            ),
            # The approval email carries the reply the agent edited; a decline, the agent's reason.
            "draft_reply": approval_reply(refund) if message_id == MSG_APPROVED else "",
            "decline_reason": refund.decline_reason if message_id == MSG_DECLINED else "",
        }
        subject = f"{message.title} · {refund.order.order_id}"
        text = render_to_string("emails/refund.txt", context)
        html = render_to_string("emails/refund.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[customer.email],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language, "X-Refund-Message": message_id},
    )
    email.attach_alternative(html, "text/html")
    return email


def approval_reply(refund: Refund) -> str:
    """The drafted reply an approval email may carry.

    When the policy recommended declining, its draft says so ("… cannot
    approve it"); approved through the API with that draft untouched, the
    email would say "approved" and "cannot approve" at once. Then the email
    goes without the draft. The console makes the agent rewrite it first.
    """
    if refund.recommendation != Recommendation.DECLINE:
        return refund.draft_reply
    first_edit = refund.decisions.filter(kind=DecisionKind.EDIT).order_by("created_at", "id").first()
    policy_draft = first_edit.reply_before if first_edit is not None else refund.draft_reply
    return "" if refund.draft_reply.strip() == policy_draft.strip() else refund.draft_reply


def _record(refund: Refund, action: str, message_id: str, language: str, detail: str = "") -> None:
    note = f"{message_id} ({language})" + (f": {detail}" if detail else "")
    audit_record(
        actor=NOTIFIER,
        action=action,
        refund=refund,
        note=note,
        after={
            "channel": "email",
            "message_id": message_id,
            "language": language,
            **({"error": detail} if detail else {}),
        },
    )


def notification_already_sent(*, refund: Refund, message_id: str) -> bool:
    return AuditEvent.objects.filter(refund=refund, action=ACTION_SENT, after__message_id=message_id).exists()


def notification_send(*, refund_id: int, message_id: str) -> str:
    """Send one customer email and record it; returns what happened.

    Outcomes: "sent"; "duplicate" (already sent, e.g. a redelivered task);
    "skipped" (no address on file, audited); "failed" (permanent refusal,
    audited); "missing" (no such refund, logged). Raises TransientSendError
    for the caller to retry; anything unexpected is audited as failed and re-raised.
    """
    refund = Refund.objects.select_related("order__customer", "payment").filter(pk=refund_id).first()
    if refund is None:
        logger.warning("refund to notify not found", extra={"message_id": "MSG.notification.missing"})
        return "missing"
    if notification_already_sent(refund=refund, message_id=message_id):
        return "duplicate"
    customer = refund.order.customer
    language = status_language(requested=None, customer_locale=customer.locale)
    if not customer.email:
        _record(refund, ACTION_SKIPPED, message_id, language, "no email address")
        return "skipped"
    try:
        notification_build(refund=refund, message_id=message_id, language=language).send(fail_silently=False)
    except Exception as exc:
        if is_transient(exc):
            raise TransientSendError(_describe(exc)) from exc
        _record(refund, ACTION_FAILED, message_id, language, _describe(exc))
        logger.warning(
            "customer email refused",
            extra={"message_id": "MSG.notification.failed", "refund_id": refund.public_id, "email": message_id},
        )
        if isinstance(exc, smtplib.SMTPException):
            return "failed"
        raise
    _record(refund, ACTION_SENT, message_id, language)
    logger.info(
        "customer email sent",
        extra={"message_id": "MSG.notification.sent", "refund_id": refund.public_id, "email": message_id},
    )
    return "sent"


def notification_record_gave_up(*, refund_id: int, message_id: str, detail: str) -> None:
    """The last retry failed too: put it on the refund's timeline."""
    refund = Refund.objects.select_related("order__customer").filter(pk=refund_id).first()
    if refund is None:
        return
    language = status_language(requested=None, customer_locale=refund.order.customer.locale)
    _record(refund, ACTION_FAILED, message_id, language, f"gave up after retries: {detail}")
    logger.error(
        "customer email not sent after retries",
        extra={"message_id": "MSG.notification.failed", "refund_id": refund.public_id, "email": message_id},
    )
