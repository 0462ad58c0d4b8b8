"""Domain signals: what other apps may react to — inside the change's transaction, or after it committed."""

from django.dispatch import Signal

# A refund is entering a state. Sent INSIDE the transaction by refunds.services.transition,
# once the refund row of the move is written (the instance is as the transaction leaves it
# for this move), with the same arguments as `refund_changed`. What a receiver writes commits
# or rolls back with the move; an exception rolls the move back (sent with `send`, not
# `send_robust`). So receivers must be tiny: one insert, no network (customer emails write
# their outbox row here, see notifications.receivers). Also `more`: True when another move of
# the same change follows in the same transaction step (a refund the policy approves at its
# creation enters `requested` and `approved` at once), so a receiver may write both together.
# "Written" may mean waiting in a write batch (core.write_batch): any query a receiver makes
# sends the batch first, so it reads the rows as written.
refund_changing = Signal()

# A refund entered a state. Sent after commit by refunds.services.transition with
# `refund` (the instance, as the transaction left it), `event` (audit.enums.AuditAction:
# the state's event, e.g. refund.approved) and `state` (the state entered).
# Receivers run in the process that made the change, and only if it lives past the commit:
# nothing that must happen may depend on this signal (use `refund_changing` and an outbox).
# They must be quick and must not fail the caller (errors are logged, not raised).
refund_changed = Signal()

# A refund was assigned to someone other than the person assigning it (refunds.services.assign).
# Sent after commit with `refund`, `assignee` (a user) and `assigned_by` (a user): the assignee is
# told by email (notifications.staff). Robust, like `refund_changed`: a lost notice loses no work,
# the refund shows in the assignee's "Assigned to me" either way.
refund_assigned = Signal()

# A refund under review changed without moving: an edit (refunds.services.decide.refund_edit) or
# the first of two approvals (`_approval_record`). Sent INSIDE the transaction, once the change is
# written, with `refund` (the locked instance, as the change leaves it) and `event` (the audit
# action: refund.edited, refund.approval_recorded). The same rules as `refund_changing`: what a
# receiver writes commits or rolls back with the change, and an exception rolls it back, so
# receivers are one small write and no network (the Slack card marks its outbox row here,
# integrations.slack.receivers).
refund_revised = Signal()
