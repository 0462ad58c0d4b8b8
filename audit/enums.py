"""Every action the audit trail records, named once (SPEC §5).

The values are stored in `AuditEvent.action` and shown on timelines, so they
never change. A refund's state events (`refund.approved`, …) are also the
names of its log lines (`MSG.refund.approved`, see `log_message_id`) and what
the customer notifications react to: one event, one name
(docs/architecture.md "Events").
"""

from django.db import models


class AuditAction(models.TextChoices):
    # A refund entering a state (refunds.services.transition); the log line is MSG.<value>.
    REFUND_REQUESTED = "refund.requested"
    REFUND_APPROVED = "refund.approved"
    REFUND_DENIED = "refund.denied"
    REFUND_CANCELED = "refund.canceled"
    REFUND_SUBMITTED = "refund.submitted"
    REFUND_PROVIDER_PENDING = "refund.provider_pending"
    REFUND_COMPLETED = "refund.completed"
    REFUND_FAILED = "refund.failed"
    # Other things that happen to a refund, or say how a state was reached.
    REFUND_APPROVAL_RECORDED = "refund.approval_recorded"
    REFUND_EDITED = "refund.edited"
    REFUND_ASSIGNED = "refund.assigned"
    REFUND_EVIDENCE_ATTACHED = "refund.evidence_attached"
    REFUND_RETRY_SUBMITTED = "refund.retry_submitted"
    REFUND_PAYOUT_PAID = "refund.payout_paid"
    # The provider failed a refund after it had succeeded (`completed → failed`, issue 12).
    REFUND_PROVIDER_REVERSED = "refund.provider_reversed"
    # Staff gave up on a failed refund from Needs action and told the customer (`failed → canceled`).
    REFUND_FAILURE_CANCELED = "refund.failure_canceled"
    # Store credit (issue 15, credits app): spent at checkout, or expired with a balance left.
    STORE_CREDIT_REDEEMED = "store_credit.redeemed"
    STORE_CREDIT_EXPIRED = "store_credit.expired"
    # Kill switches (issue 16, refunds.services.pauses): auto-approval or a provider's submission stopped, resumed.
    OPERATIONS_PAUSED = "operations.paused"
    OPERATIONS_RESUMED = "operations.resumed"
    OUTBOX_DEAD_LETTERED = "outbox.dead_lettered"
    OUTBOX_REPLAYED = "outbox.replayed"
    WEBHOOK_RECEIVED = "webhook.received"
    # Finance looked at a held provider event and took it out of Needs action (issue 12).
    WEBHOOK_REVIEWED = "webhook.reviewed"
    # Merchants' webhook endpoints (issue 14): disabled by us after WEBHOOK_DISABLE_AFTER_SECONDS of failures,
    # and whether its merchant's contact was told (events.delivery, events.notices).
    WEBHOOK_ENDPOINT_DISABLED_FAILING = "webhook_endpoint.disabled_failing"
    WEBHOOK_ENDPOINT_DISABLED_NOTICE = "webhook_endpoint.disabled_notice"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    NOTIFICATION_SKIPPED = "notification.skipped"
    # Orders, policy, credentials.
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    POLICY_CHANGED = "policy.changed"  # before four-eyes governance: a version published directly
    POLICY_DRAFT_CREATED = "policy.draft_created"
    POLICY_APPROVED = "policy.approved"
    POLICY_REJECTED = "policy.rejected"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    MERCHANT_CREATED = "merchant.created"
    # A merchant's webhook endpoints (events.services.endpoints): the URL and subscriptions, never a secret.
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"
    # Someone asked for an event to be sent again (events.services.redeliver).
    EVENT_REDELIVERED = "event.redelivered"
    # The merchant pushed another address for a customer (masked and keyed-hashed, never the address).
    CUSTOMER_EMAIL_CHANGED = "customer.email_changed"
    # Staff changed who is told when the merchant's integration needs a person (console, issue 14).
    MERCHANT_CONTACT_CHANGED = "merchant.contact_changed"
    # Staff sign-in: second-factor devices (console/mfa.py).
    STAFF_MFA_ENROLLED = "staff.mfa_enrolled"
    STAFF_RECOVERY_CODES_REGENERATED = "staff.recovery_codes_regenerated"
    STAFF_MFA_RESET = "staff.mfa_reset"
    # Who may do what (audit.access): users, groups, memberships, permissions.
    USER_CREATED = "user.created"
    USER_CHANGED = "user.changed"
    USER_DELETED = "user.deleted"
    USER_GROUPS_CHANGED = "user.groups_changed"
    USER_PERMISSIONS_CHANGED = "user.permissions_changed"
    GROUP_CREATED = "group.created"
    GROUP_CHANGED = "group.changed"
    GROUP_DELETED = "group.deleted"
    GROUP_PERMISSIONS_CHANGED = "group.permissions_changed"
    # Finance.
    RECONCILIATION_RUN_COMPLETED = "reconciliation.run_completed"
    RECONCILIATION_ITEM_RESOLVED = "reconciliation.item_resolved"
    RECONCILIATION_EXPORTED = "reconciliation.exported"
    # The books: month close, four-eyes reopen, maker-checker correcting entries (docs/ledger.md).
    LEDGER_PERIOD_CLOSED = "ledger.period_closed"
    LEDGER_PERIOD_REOPEN_REQUESTED = "ledger.period_reopen_requested"
    LEDGER_PERIOD_REOPENED = "ledger.period_reopened"
    LEDGER_PERIOD_REOPEN_REJECTED = "ledger.period_reopen_rejected"
    LEDGER_CORRECTION_DRAFTED = "ledger.correction_drafted"
    LEDGER_CORRECTION_POSTED = "ledger.correction_posted"
    LEDGER_CORRECTION_REJECTED = "ledger.correction_rejected"

    @property
    def log_message_id(self) -> str:
        """The message id of the log line for this event (SPEC §10): `MSG.refund.approved`."""
        return f"MSG.{self.value}"
