"""Celery task delivering customer emails (see notifications/emails.py for the chain). Its name is a wire contract."""

from __future__ import annotations

from celery import shared_task

from notifications.emails import TransientSendError, notification_record_gave_up, notification_send

# 30 s, 1, 2, 4, 8 min, then every 10 min (with jitter): about 45 minutes of a
# mail server outage is ridden out before the timeline says the email failed.
MAX_RETRIES = 8


@shared_task(
    name="refunds.send_refund_email",
    bind=True,
    autoretry_for=(TransientSendError,),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    acks_late=True,
)
def send_refund_email(self, *, refund_id: int, message_id: str) -> str:
    """Send the customer email `message_id` for a refund; transient failures retry with backoff.

    On the last attempt a transient failure is recorded as `notification.failed`
    instead of raised, so the agent sees it on the refund's timeline.
    """
    try:
        return notification_send(refund_id=refund_id, message_id=message_id)
    except TransientSendError as exc:
        if self.request.retries >= (self.max_retries or 0):
            notification_record_gave_up(refund_id=refund_id, message_id=message_id, detail=exc.detail)
            return "failed"
        raise
