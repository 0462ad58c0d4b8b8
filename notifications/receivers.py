"""What the notifications app does when a refund changes: write the customer's email into the outbox.

Runs INSIDE the change's transaction (see `refunds.signals.refund_changing`),
so the email commits or rolls back with the change: a refund that commits
cannot lose its email to a broker outage or to a process killed right after
COMMIT, and one that rolls back sends nothing. An exception here rolls the
change back, so this stays one decision and one INSERT; the sending happens
after commit, in a task (notifications.outbox).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from notifications.emails import email_for_event
from notifications.outbox import email_write
from notifications.staff import assignment_notify
from refunds.models import Refund
from refunds.signals import refund_assigned, refund_changing


@receiver(refund_changing, dispatch_uid="notifications.write_customer_email")
def write_customer_email(sender: type[Refund], *, refund: Refund, event: str, **kwargs: Any) -> None:
    message_id = email_for_event(refund=refund, event=event)
    if message_id is not None:
        email_write(refund=refund, message_id=message_id, event=event)


@receiver(refund_assigned, dispatch_uid="notifications.notify_assignee")
def notify_assignee(sender: type[Refund], *, refund: Refund, assignee: Any, assigned_by: Any, **kwargs: Any) -> None:
    """After commit: queue the email telling the assignee (notifications.staff)."""
    assignment_notify(refund=refund, assignee=assignee, assigned_by=assigned_by)
