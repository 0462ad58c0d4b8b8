"""What the notifications app does when a refund changes: queue the customer's email.

Runs after the change committed (see `refunds.signals.refund_changed`), in the
process that made it. Queueing is best effort: the refund is committed, so a
broker outage is logged (and the email is lost to this change) rather than
turned into an error for the agent or the merchant.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from notifications.emails import email_for_event
from notifications.tasks import send_refund_email
from refunds.models import Refund
from refunds.signals import refund_changed

logger = logging.getLogger("notifications")


@receiver(refund_changed, dispatch_uid="notifications.queue_customer_email")
def queue_customer_email(sender: type[Refund], *, refund: Refund, event: str, **kwargs: Any) -> None:
    message_id = email_for_event(refund=refund, event=event)
    if message_id is None:
        return
    try:
        send_refund_email.apply_async(
            kwargs={"refund_id": refund.pk, "message_id": message_id},
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        )
    except Exception:
        logger.exception(
            "could not queue the customer email",
            extra={"message_id": "MSG.notification.enqueue_failed", "refund_id": refund.public_id, "email": message_id},
        )
