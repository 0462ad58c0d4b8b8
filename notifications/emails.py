"""Customer emails on refund transitions (SPEC §8): accepted, approved, declined, completed, failed.

The chain, in order (issue 11: no fault between the database and the mail
server loses an email):
1. a refund enters a state (`refunds.services.transition`); inside its
   transaction, once the refund row is written, the `refund_changing` signal
   fires;
2. `notifications.receivers` picks the email the event calls for
   (`email_for_event`) and writes it as a `CustomerEmail` row
   (`notifications.outbox.email_write`): it commits or rolls back with the
   move, so a rolled-back refund sends nothing and a committed one cannot lose
   its email;
3. after commit, the Celery task `notifications.deliver_email` is queued —
   best effort: a broker outage is logged and counted
   (`task_enqueue_failed_total`), and the sweeper (`notifications.sweep_emails`,
   beat) queues every pending email whose task never started: lost with the
   broker, or never sent because the process died right after COMMIT;
4. the task claims the row (row lock, SKIP LOCKED, then a lease: two workers
   never send one email both), renders plain text + HTML in the customer's
   language with the status link (`notification_build`), sends through
   Django's email API, and marks the row sent with the audit event
   `notification.sent` in one transaction, so the refund's timeline shows
   what the customer was told. A transient SMTP error backs off and retries
   (EMAIL_MAX_ATTEMPTS, then `failed` + `notification.failed`); a permanent
   refusal is `failed` at once; a database error retries the task, without
   sending again when the send already happened.

Delivery is at least once: only a worker that stalls past its lease mid-send,
or a crash between the mail server's acceptance and the commit that records
it, can send an email twice. The audit trail never holds the address itself,
only message id and language.
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
from core.i18n import babel_locale, format_amount
from notifications.messages import (
    MSG_APPROVED,
    MSG_CANCELED,
    MSG_COMPLETED,
    MSG_DECLINED,
    MSG_FAILED,
    MSG_FAILED_RETRYING,
    MSG_PROCESSING,
    MSG_REQUEST_ACCEPTED,
    MSG_REVERSED,
    RAIL_LABELS,
    VOID_MESSAGE_IDS,
    message_get,
    message_id_for_instrument,
    rail_duration_text,
)
from notifications.replies import reply_render
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.selectors import reply_declines
from refunds.services.proration import proration_text

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
EMAIL_MESSAGE_IDS = frozenset(
    {
        *EMAIL_FOR_EVENT.values(),
        MSG_FAILED_RETRYING,
        MSG_CANCELED,
        MSG_REVERSED,
        MSG_PROCESSING,
        *VOID_MESSAGE_IDS.values(),
    }
)


class EmailSendError(Exception):
    """An unexpected failure to send, named by its type only: the original text may hold the address."""


def email_for_event(*, refund: Refund, event: str) -> str | None:
    """Which email (if any) a refund event sends; `refund` is the refund as its transaction left it.

    A void says the hold is released where a refund says the money is sent (`message_id_for_instrument`).
    """
    message_id = _email_for_event(refund=refund, event=event)
    return message_id_for_instrument(message_id, refund.instrument) if message_id else None


def _email_for_event(*, refund: Refund, event: str) -> str | None:
    message_id = EMAIL_FOR_EVENT.get(event)
    if message_id == MSG_REQUEST_ACCEPTED and refund.state != RefundState.REQUESTED:
        # Approved by policy in the same transaction: the approval email says it all,
        # and two emails in the same second would only arrive in random order.
        return None
    if message_id == MSG_FAILED and refund.reversed_by_provider:
        # Completed, and the customer was told so: now their bank sent it back (issue 12).
        return MSG_REVERSED
    if message_id == MSG_FAILED and refund.failure_retryable:
        return MSG_FAILED_RETRYING
    if event == AuditAction.REFUND_CANCELED and refund.failure_code:
        # A cancel asked for by the merchant or an agent before submission is theirs to explain; one the
        # system made because the payment was charged back or voided meanwhile (issue 10), or staff made
        # of a failed refund from Needs action (issue 12: the customer was told support would be in
        # touch), is ours to tell. Both carry the failure code; a plain cancel has none.
        return MSG_CANCELED
    if event == AuditAction.REFUND_SUBMITTED and refund.submission_count > 1:
        # A retry after a failure the customer was told of: it is on its way again.
        return MSG_PROCESSING
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


def describe_error(exc: BaseException) -> str:
    """The error's type and SMTP code, for the audit trail and logs."""
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
            # A refund for time not used: how its amount was reached, in one line.
            "proration": proration_text(refund.proration, locale=locale) if refund.proration else "",
            "order_id": refund.order.order_id,
            "reference": refund.public_id,
            "rail_label": str(RAIL_LABELS.get(rail, rail)),
            "duration": (
                rail_duration_text(rail, number_format=lambda n: format_decimal(n, locale=locale))
                if message_id in {MSG_APPROVED, MSG_COMPLETED}
                else ""
            ),
            # The approval email carries the reply the agent edited; a decline, the agent's message. Both are
            # templates, rendered now from the refund as it is (an amount edited after drafting included).
            # A decline's internal rationale lives on its Decision and is never part of an email.
            "draft_reply": (
                ""
                if message_id not in (MSG_APPROVED, VOID_MESSAGE_IDS[MSG_APPROVED]) or reply_declines(refund)
                else reply_render(refund.draft_reply, refund=refund, language=language)
            ),
            "decline_reason": (
                reply_render(refund.decline_reason, refund=refund, language=language)
                if message_id == MSG_DECLINED
                else ""
            ),
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


def notification_record(refund: Refund, action: str, message_id: str, language: str, detail: str = "") -> None:
    """The audit event of an email's outcome (sent, failed, skipped): message id and language, never the address."""
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
    """Whether the audit trail says this email was sent: how emails queued before the outbox were deduplicated."""
    return AuditEvent.objects.filter(
        refund=refund, action=AuditAction.NOTIFICATION_SENT, after__message_id=message_id
    ).exists()
