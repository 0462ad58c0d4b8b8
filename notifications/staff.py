"""Emails to staff: a refund was assigned to you (refunds.services.assign, issue 12 item 7).

Not the customer outbox: a lost notice loses no work (the refund is in the
assignee's "Assigned to me" either way), so the receiver of
`refunds.signals.refund_assigned` — sent after commit, never inside the
request's transaction — queues one Celery task best effort, and the task
sends one plain email, retried on transient mail errors.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

from core.queueing import enqueue_best_effort
from refunds.models import Refund

logger = logging.getLogger("notifications.staff")


def assignment_notify(*, refund: Refund, assignee: Any, assigned_by: Any) -> bool:
    """Queue the assignment email (after commit: the caller is `refund_assigned`'s receiver)."""
    if not assignee.email:
        return False
    return enqueue_best_effort(
        send_assignment_email,
        kwargs={"refund_id": refund.pk, "assignee_id": assignee.pk, "assigned_by_id": getattr(assigned_by, "pk", None)},
        message_id="MSG.notification.staff_enqueue_failed",
        log={"refund_id": refund.public_id},
    )


@shared_task(
    name="notifications.send_assignment_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def send_assignment_email(*, refund_id: int, assignee_id: int, assigned_by_id: int | None = None) -> str:
    """Tell a staff user a refund is theirs to work; skipped once it is no longer theirs or no longer waits."""
    refund = Refund.objects.select_related("order", "assignee").filter(pk=refund_id).first()
    if refund is None or refund.assignee_id != assignee_id or not refund.assignee.email:
        logger.info("assignment email skipped", extra={"message_id": "MSG.notification.staff_skipped"})
        return "skipped"
    by = get_user_model().objects.filter(pk=assigned_by_id).first() if assigned_by_id else None
    by_name = (by.get_full_name() or by.get_username()) if by else "Someone"
    link = settings.APP_BASE_URL + reverse("console:card", kwargs={"public_id": refund.public_id})
    send_mail(
        subject=f"Refund {refund.public_id} (order {refund.order.order_id}) was assigned to you",
        message=(
            f"{by_name} assigned refund {refund.public_id} of order {refund.order.order_id} to you.\n\n"
            f"Open it in the console: {link}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[refund.assignee.email],
    )
    return "sent"
