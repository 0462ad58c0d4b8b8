"""Customer emails on refund transitions (SPEC §8): accepted, approved, declined, completed, failed.

The chain, in order:
1. a refund enters a state (`refunds.services.transition`); once the
   transaction commits — never before, so a rolled-back refund sends nothing —
   the `refund_changed` signal fires;
2. `notifications.receivers` picks the email the event calls for
   (`email_for_event`) and queues the Celery task `refunds.send_refund_email`;
   a broker outage is logged and swallowed, it cannot fail the request that
   changed the refund;
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
from django.template.loader import render_to_string
from django.utils import translation

from audit.enums import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record
from core.actor import Actor
from core.i18n import babel_locale, customer_language, format_amount
from notifications.messages import (
    MSG_APPROVED,
    MSG_CANCELED,
    MSG_COMPLETED,
    MSG_DECLINED,
    MSG_FAILED,
    MSG_FAILED_RETRYING,
    MSG_REQUEST_ACCEPTED,
    RAIL_LABELS,
    message_get,
    rail_duration_text,
)
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, RefundState
from refunds.models import Refund
from refunds.selectors import reply_declines

logger = logging.getLogger("notifications.emails")

NOTIFIER = Actor.system("notifier")

# The refund event -> the email it sends.
EMAIL_FOR_EVENT: dict[str, str] = {
    AuditAction.REFUND_REQUESTED: MSG_REQUEST_ACCEPTED,
    AuditAction.REFUND_APPROVED: MSG_APPROVED,
    AuditAction.REFUND_DENIED: MSG_DECLINED,
    AuditAction.REFUND_COMPLETED: MSG_COMPLETED,
    AuditAction.REFUND_FAILED: MSG_FAILED,
}
EMAIL_MESSAGE_IDS = frozenset({*EMAIL_FOR_EVENT.values(), MSG_FAILED_RETRYING, MSG_CANCELED})


class TransientSendError(Exception):
    """The mail server may accept this later (network error, 4xx): the task retries it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class EmailSendError(Exception):
    """An unexpected failure to send, named by its type only: the original text may hold the address."""


def email_for_event(*, refund: Refund, event: str) -> str | None:
    """Which email (if any) a refund event sends; `refund` is the refund as its transaction left it."""
    message_id = EMAIL_FOR_EVENT.get(event)
    if message_id == MSG_REQUEST_ACCEPTED and refund.state != RefundState.REQUESTED:
        # Approved by policy in the same transaction: the approval email says it all,
        # and two emails in the same second would only arrive in random order.
        return None
    if message_id == MSG_FAILED and refund.failure_retryable:
        return MSG_FAILED_RETRYING
    if event == AuditAction.REFUND_CANCELED and refund.failure_code in PAYMENT_WITHDRAWN_FAILURE_CODES.values():
        # A cancel asked for by the merchant or an agent is theirs to explain; one the system made because
        # the payment was charged back or voided meanwhile is ours to tell (issue 10).
        return MSG_CANCELED
    return message_id


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
            "draft_reply": "" if message_id != MSG_APPROVED or reply_declines(refund) else refund.draft_reply,
            "decline_reason": refund.decline_reason if message_id == MSG_DECLINED else "",
        }
        subject = f"{message.title} · {refund.order.order_id}"
        text = render_to_string("emails/refund.txt", context)
        html = render_to_string("emails/refund.html", context)
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        # The address the refund was requested under, never one pushed since (docs/customer.md).
        to=[refund.customer_email],
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language, "X-Refund-Message": message_id},
    )
    email.attach_alternative(html, "text/html")
    return email


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
    return AuditEvent.objects.filter(
        refund=refund, action=AuditAction.NOTIFICATION_SENT, after__message_id=message_id
    ).exists()


def notification_send(*, refund_id: int, message_id: str) -> str:
    """Send one customer email and record it; returns what happened.

    Outcomes: "sent"; "duplicate" (already sent, e.g. a redelivered task);
    "skipped" (no address on file, audited); "failed" (permanent refusal,
    audited); "missing" (no such refund, logged). Raises TransientSendError
    for the caller to retry; anything unexpected is audited as failed and raised
    again as EmailSendError, which names its type but never repeats its text.
    """
    refund = Refund.objects.select_related("order__customer", "payment").filter(pk=refund_id).first()
    if refund is None:
        logger.warning("refund to notify not found", extra={"message_id": "MSG.notification.missing"})
        return "missing"
    if notification_already_sent(refund=refund, message_id=message_id):
        return "duplicate"
    customer = refund.order.customer
    language = customer_language(requested=None, customer_locale=customer.locale)
    if not refund.customer_email:
        _record(refund, AuditAction.NOTIFICATION_SKIPPED, message_id, language, "no email address")
        return "skipped"
    try:
        notification_build(refund=refund, message_id=message_id, language=language).send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - audited, then raised again (without its text) below
        # Never chain `exc`: its text often names the recipient (SMTPRecipientsRefused, an email
        # service's "address rejected"), and Celery logs the chain of whatever the task raises.
        if is_transient(exc):
            raise TransientSendError(_describe(exc)) from None
        _record(refund, AuditAction.NOTIFICATION_FAILED, message_id, language, _describe(exc))
        logger.warning(
            "customer email refused",
            extra={"message_id": "MSG.notification.failed", "refund_id": refund.public_id, "email": message_id},
        )
        if isinstance(exc, smtplib.SMTPException):
            return "failed"
        raise EmailSendError(_describe(exc)) from None
    _record(refund, AuditAction.NOTIFICATION_SENT, message_id, language)
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
    language = customer_language(requested=None, customer_locale=refund.order.customer.locale)
    _record(refund, AuditAction.NOTIFICATION_FAILED, message_id, language, f"gave up after retries: {detail}")
    logger.error(
        "customer email not sent after retries",
        extra={"message_id": "MSG.notification.failed", "refund_id": refund.public_id, "email": message_id},
    )
