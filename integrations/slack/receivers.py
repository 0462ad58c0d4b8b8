"""What the Slack integration does when a refund changes: mark its card, in the change's transaction.

Runs INSIDE the change's transaction (`refunds.signals.refund_changing` for a
move, `refund_revised` for an edit or the first of two approvals), so the mark
commits or rolls back with the change: a change that commits cannot lose its
card update to a broker outage or a crash after COMMIT, and one that rolls
back leaves nothing. One statement, no network: Slack is called after commit,
by a task (integrations.slack.sync). Without SLACK_BOT_TOKEN this does nothing.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from audit.enums import AuditAction
from integrations.slack.client import slack_enabled
from integrations.slack.sync import card_mark, card_wanted
from refunds.models import Refund
from refunds.signals import refund_changing, refund_revised


@receiver(refund_changing, dispatch_uid="integrations.slack.card_on_change")
def card_on_change(sender: type[Refund], *, refund: Refund, event: str, **kwargs: Any) -> None:
    if not slack_enabled():
        return
    # The instance is as the transaction leaves it: a refund the policy approved at creation
    # is already `approved` when its `refund.requested` is sent, and gets no card.
    create = event == AuditAction.REFUND_REQUESTED and card_wanted(refund)
    card_mark(refund=refund, create=create)


@receiver(refund_revised, dispatch_uid="integrations.slack.card_on_revision")
def card_on_revision(sender: type[Refund], *, refund: Refund, **kwargs: Any) -> None:
    if slack_enabled():
        card_mark(refund=refund, create=False)
