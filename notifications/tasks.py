"""Celery tasks delivering customer emails (the chain: notifications/emails.py). Task names are wire contracts.

`notifications.deliver_email` and the sweeper `notifications.sweep_emails` live in
`notifications.outbox`, beside what they run; importing them here registers them
wherever Celery autodiscovers `notifications.tasks`.
"""

from __future__ import annotations

from celery import shared_task

from notifications.outbox import DB_ERRORS, deliver_email, email_adopt, email_enqueue, sweep_emails
from notifications.staff import send_assignment_email

__all__ = ["deliver_email", "send_assignment_email", "send_refund_email", "sweep_emails"]


@shared_task(
    name="refunds.send_refund_email",
    autoretry_for=DB_ERRORS,
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=12,
    acks_late=True,
)
def send_refund_email(*, refund_id: int, message_id: str) -> str:
    """The task emails were queued under before the outbox (by refund and message id), kept for those still queued.

    Nothing queues it any more: it writes (or finds) the email's outbox row and
    queues `notifications.deliver_email` for it — if that cannot be queued, the
    sweeper will. An email the audit trail already shows as sent is not sent again.
    """
    email_id = email_adopt(refund_id=refund_id, message_id=message_id)
    if email_id is None:
        return "duplicate"
    email_enqueue(email_id)
    return "adopted"
