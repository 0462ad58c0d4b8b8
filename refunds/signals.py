"""Domain signals: what other apps may react to, sent only after the change has committed."""

from django.dispatch import Signal

# A refund entered a state. Sent after commit by refunds.services.transition with
# `refund` (the instance, as the transaction left it), `event` (audit.enums.AuditAction:
# the state's event, e.g. refund.approved) and `state` (the state entered).
# Receivers run in the process that made the change; they must be quick and must not
# fail the caller (customer emails queue a Celery task, see notifications.receivers).
refund_changed = Signal()
