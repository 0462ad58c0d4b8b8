"""States and vocabularies of the refund domain, with the groups code relies on."""

from django.db import models

from audit.enums import AuditAction


class RefundState(models.TextChoices):
    REQUESTED = "requested"
    APPROVED = "approved"
    SUBMITTING = "submitting"
    PROVIDER_PENDING = "provider_pending"
    COMPLETED = "completed"
    FAILED = "failed"
    DENIED = "denied"
    CANCELED = "canceled"


# Refunds in these states hold money against the payment (SPEC §3 "remaining").
ACTIVE_STATES = frozenset(
    {
        RefundState.REQUESTED,
        RefundState.APPROVED,
        RefundState.SUBMITTING,
        RefundState.PROVIDER_PENDING,
        RefundState.COMPLETED,
    }
)
# No move leaves these. `completed` is not among them (issue 12): the provider can still fail a
# refund after it succeeded (a card issuer returns it), which moves it `completed → failed`.
TERMINAL_STATES = frozenset({RefundState.DENIED, RefundState.CANCELED})
# The provider may have been told about these; cancel is refused from here on.
SUBMITTED_STATES = frozenset({RefundState.SUBMITTING, RefundState.PROVIDER_PENDING, RefundState.COMPLETED})


class Reason(models.TextChoices):
    NOT_RECEIVED = "not_received"
    QUALITY = "quality"
    DUPLICATE = "duplicate"
    PRICING_ERROR = "pricing_error"
    GOODWILL = "goodwill"
    OTHER = "other"


class Rail(models.TextChoices):
    CARD = "card"
    PAYNOW = "paynow"
    BANK_TRANSFER = "bank_transfer"


class PaymentStatus(models.TextChoices):
    # Authorized, not captured: the customer's money is held, not taken. A refund of it is a void
    # (RefundInstrument.VOID): the provider releases the hold (issue 15).
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    CAPTURE_PENDING = "capture_pending"
    CAPTURE_FAILED = "capture_failed"
    VOIDED = "voided"
    CHARGED_BACK = "charged_back"


# Where the merchant may move a payment's status (`POST /v1/orders`); pushing the same status is
# always fine. Charged back and voided are final: a payment that came back to `captured` would
# make money refundable again that the customer already has back (issue 10). The database trigger
# of migration refunds/0013 is generated from the same edges.
PAYMENT_STATUS_EDGES: dict[str, frozenset[str]] = {
    PaymentStatus.AUTHORIZED: frozenset(
        {PaymentStatus.CAPTURE_PENDING, PaymentStatus.CAPTURED, PaymentStatus.CAPTURE_FAILED, PaymentStatus.VOIDED}
    ),
    PaymentStatus.CAPTURE_PENDING: frozenset(
        {PaymentStatus.CAPTURED, PaymentStatus.CAPTURE_FAILED, PaymentStatus.VOIDED}
    ),
    PaymentStatus.CAPTURE_FAILED: frozenset(
        {PaymentStatus.CAPTURE_PENDING, PaymentStatus.CAPTURED, PaymentStatus.VOIDED}
    ),
    PaymentStatus.CAPTURED: frozenset({PaymentStatus.CHARGED_BACK, PaymentStatus.VOIDED}),
    PaymentStatus.CHARGED_BACK: frozenset(),
    PaymentStatus.VOIDED: frozenset(),
}
# From these on, what was captured is history: amount, currency, captured_at, provider and
# provider payment id never change again (the refunds taken from it were measured against them).
PAYMENT_FROZEN_STATUSES = frozenset({PaymentStatus.CAPTURED, PaymentStatus.CHARGED_BACK, PaymentStatus.VOIDED})
# The money went back (chargeback) or was never taken (void): no refund of such a payment may go out,
# whenever it is found — at creation, at approval, right before submission.
PAYMENT_WITHDRAWN_STATUSES = frozenset({PaymentStatus.CHARGED_BACK, PaymentStatus.VOIDED})
# The `failure_code` a refund stopped for that reason carries (canceled or failed), for the API,
# the console and the customer's email.
PAYMENT_WITHDRAWN_FAILURE_CODES: dict[str, str] = {
    PaymentStatus.CHARGED_BACK: "payment_charged_back",
    PaymentStatus.VOIDED: "payment_voided",
}


class RefundInstrument(models.TextChoices):
    """How the customer gets the money back (issue 15, docs/instruments.md).

    Stored null on refunds from before (read as ORIGINAL_PAYMENT): a nullable
    column leaves the embedded SQLite table and its guard triggers as they are.
    """

    # A refund to the card or account that paid, through the payment's provider.
    ORIGINAL_PAYMENT = "original_payment"
    # A code for the merchant's checkout instead of money (when the policy allows it): no provider call.
    STORE_CREDIT = "store_credit"
    # The payment was only authorized: the provider releases the hold, nothing was taken.
    VOID = "void"


class PolicyOutcome(models.TextChoices):
    """What the policy decided at creation. Hard refusals (charged back, voided, not captured,
    over remaining) are not outcomes: they are refused before a refund exists (SPEC §9 errors)."""

    AUTO_APPROVE = "auto_approve"
    REVIEW = "review"


class PolicyStatus(models.TextChoices):
    """Where a policy version stands in four-eyes governance: only approved versions ever apply."""

    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"


class Recommendation(models.TextChoices):
    APPROVE = "approve"
    DECLINE = "decline"


class DecisionKind(models.TextChoices):
    APPROVE = "approve"
    DENY = "deny"
    EDIT = "edit"
    CANCEL = "cancel"


class ActorType(models.TextChoices):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"
    # The customer, through the request portal (/request/, issue 15): proved by a one-time code or signed link.
    CUSTOMER = "customer"


class WebhookStatus(models.TextChoices):
    """What the inbox did with a verified provider event."""

    PROCESSED = "processed", "processed"
    IGNORED = "ignored", "ignored (stale or duplicate outcome)"
    UNKNOWN_REFUND = "unknown_refund", "unknown refund"
    # Names one of our refunds but does not add up (provider id, state, amount or currency): finance looks.
    HELD = "held", "held for finance"


class PayoutStatus(models.TextChoices):
    """A manual payout task (providers that settle by hand)."""

    OPEN = "open"
    PAID = "paid"
    CANCELED = "canceled"


class OutboxTopic(models.TextChoices):
    SUBMIT = "refund.submit"


class OutboxStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    CANCELED = "canceled"


class Scope(models.TextChoices):
    ORDERS_WRITE = "orders:write"
    REFUNDS_CREATE = "refunds:create"
    REFUNDS_READ = "refunds:read"
    REFUNDS_DECIDE = "refunds:decide"
    REFUNDS_SUBMIT = "refunds:submit"
    REFUNDS_PAYOUT = "refunds:payout"
    # Merchant events and webhooks (issue 14, docs/webhooks.md).
    EVENTS_READ = "events:read"
    WEBHOOKS_WRITE = "webhooks:write"
    # Store credit at the merchant's checkout (issue 15, docs/instruments.md "Store credit").
    CREDITS_READ = "credits:read"
    CREDITS_REDEEM = "credits:redeem"


class Role(models.TextChoices):
    AGENT = "agent"
    SENIOR_AGENT = "senior_agent"
    FINANCE = "finance"
    RISK = "risk"
    ADMIN = "admin"
    # Users, groups, permissions and API keys: never also a refund decider (refunds.permissions).
    ACCESS_ADMIN = "access_admin", "Access admin"


# The event a refund entering each state is: the audit action of the move (unless the move names a
# more specific one), the log line's message id (`MSG.<event>`), and what notifications react to.
STATE_EVENTS: dict[str, AuditAction] = {
    RefundState.REQUESTED: AuditAction.REFUND_REQUESTED,
    RefundState.APPROVED: AuditAction.REFUND_APPROVED,
    RefundState.DENIED: AuditAction.REFUND_DENIED,
    RefundState.CANCELED: AuditAction.REFUND_CANCELED,
    RefundState.SUBMITTING: AuditAction.REFUND_SUBMITTED,
    RefundState.PROVIDER_PENDING: AuditAction.REFUND_PROVIDER_PENDING,
    RefundState.COMPLETED: AuditAction.REFUND_COMPLETED,
    RefundState.FAILED: AuditAction.REFUND_FAILED,
}


class PauseKind(models.TextChoices):
    """What an operator's kill switch stops (issue 16, docs/runbooks.md "Kill switches").

    `auto_approval`: every new request goes to review, whatever the policy says.
    `submission`: the outbox holds a provider's messages (nothing is lost, they
    are sent in order once resumed).
    """

    AUTO_APPROVAL = "auto_approval", "auto-approval"
    SUBMISSION = "submission", "provider submission"
