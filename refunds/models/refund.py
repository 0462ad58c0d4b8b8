import hashlib
import secrets

from cryptography.fernet import MultiFernet
from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from core.crypto import fernet_for
from refunds.enums import ActorType, PolicyOutcome, Reason, Recommendation, RefundState

S = RefundState
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_public_id() -> str:
    return "rf_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def new_status_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_fernet() -> MultiFernet:
    return fernet_for(configured=settings.STATUS_TOKEN_ENCRYPTION_KEY, purpose=b"refund-desk status token v1")


def seal_status_token(token: str) -> str:
    return _token_fernet().encrypt(token.encode()).decode()


class Refund(models.Model):
    """A refund of (part of) a captured payment, moving through SPEC §3.1.

    State only changes through the transitions below, called by the services
    in `refunds.services`, which lock the row, write the audit event and ledger
    entry in the same transaction. PostgreSQL additionally refuses any state
    change that is not an edge of the machine (trigger in migration 0002).
    """

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    order = models.ForeignKey("refunds.Order", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey("refunds.Payment", on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    customer_note = models.TextField(blank=True)
    evidence = models.JSONField(default=list, blank=True)
    state = FSMField(default=S.REQUESTED, choices=S.choices, db_index=True)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="refunds_requested"
    )
    requested_via = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.USER)
    correlation_id = models.CharField(max_length=64, blank=True)
    # The customer's address when the refund was requested: its emails go there and its status
    # page shows it (masked). A later change of the customer's address applies to later refunds
    # only, so a re-pointed address never receives an older refund's link (docs/customer.md).
    customer_email = models.EmailField(blank=True, editable=False)
    # The one-time token of the console form that asked for this refund: unique per requester, so a
    # form sent twice (double click, resend, two tabs) creates one refund whatever process serves it.
    request_token = models.CharField(max_length=64, null=True, blank=True, editable=False)

    policy_version = models.ForeignKey("refunds.RefundPolicy", on_delete=models.PROTECT, related_name="+")
    policy_outcome = models.CharField(max_length=20, choices=PolicyOutcome.choices)
    policy_rule = models.CharField(max_length=40)
    policy_rule_text = models.CharField(max_length=300)
    recommendation = models.CharField(max_length=10, choices=Recommendation.choices)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    draft_reply = models.TextField(blank=True)
    decline_reason = models.TextField(blank=True)
    # An agent went against an in-policy recommendation: shown loudly in the queue.
    override_flagged = models.BooleanField(default=False)
    # Who works it next (refunds.services.assign, audited). Not part of the terms: assigning
    # leaves the version alone, so a card opened before still approves what it showed.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds_assigned"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    # Bumped by every edit and every move (refund_edit, refund_transition), under the row lock: an
    # approval names the version its approver saw, so a refund changed since is never approved blind.
    # A database trigger refuses a change of state, amount or reply that does not bump it.
    version = models.PositiveIntegerField(default=1, editable=False)

    provider_refund_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_retryable = models.BooleanField(default=False)
    submission_count = models.PositiveIntegerField(default=0)
    provider_status = models.CharField(max_length=30, blank=True, help_text="Last raw status the provider reported.")

    # The customer's link is a bearer secret: looked up by its SHA-256 digest, and kept only
    # encrypted (Fernet, STATUS_TOKEN_ENCRYPTION_KEY) so the API and emails can show it again
    # while a copy of the database alone opens no status page.
    status_token_sealed = models.TextField(editable=False)
    status_token_digest = models.CharField(max_length=64, unique=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["status_token_sealed", "status_token_digest"])

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("decide_refund", "Can approve, edit or decline refunds"),
            ("approve_senior", "Can give a senior approval (dual control)"),
            ("request_refund", "Can create refunds on a customer's behalf"),
            ("mark_payout_paid", "Can mark manual payouts paid"),
            ("view_finance", "Can run and read reconciliation"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=models.Q(state__in=S.values), name="refund_state_known"),
            models.CheckConstraint(
                condition=models.Q(approvals_required__in=[1, 2]), name="refund_approvals_required_1_or_2"
            ),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="refund_version_positive"),
            models.UniqueConstraint(
                fields=["requested_by", "request_token"],
                condition=models.Q(request_token__isnull=False),
                name="refund_request_token_once_per_requester",
            ),
        ]
        indexes = [models.Index(fields=["payment", "state"], name="refund_payment_state_idx")]

    def __str__(self) -> str:
        return self.public_id

    def save(self, *args, **kwargs) -> None:
        if not self.status_token_digest:
            token = new_status_token()
            self.__dict__["_status_token"] = token
            self.status_token_digest = token_digest(token)
            self.status_token_sealed = seal_status_token(token)
        super().save(*args, **kwargs)

    @property
    def status_token(self) -> str:
        """The plain token of the customer's status link (decrypted once per instance)."""
        token = self.__dict__.get("_status_token")
        if token is None:
            token = _token_fernet().decrypt(self.status_token_sealed.encode()).decode()
            self.__dict__["_status_token"] = token
        return token

    @property
    def status_url(self) -> str:
        return f"{settings.APP_BASE_URL}/r/{self.status_token}/"

    # --- transitions (SPEC §3.1); side effects live in the services ---------

    @transition(field=state, source=S.REQUESTED, target=S.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=state, source=S.REQUESTED, target=S.DENIED)
    def deny(self) -> None:
        pass

    @transition(field=state, source=[S.REQUESTED, S.APPROVED], target=S.CANCELED)
    def cancel(self) -> None:
        pass

    def _retryable_if_failed(self) -> bool:
        return self.state != S.FAILED or self.failure_retryable

    @transition(field=state, source=[S.APPROVED, S.FAILED], target=S.SUBMITTING, conditions=[_retryable_if_failed])
    def submit(self) -> None:
        pass

    @transition(field=state, source=S.SUBMITTING, target=S.PROVIDER_PENDING)
    def mark_provider_pending(self) -> None:
        pass

    @transition(field=state, source=[S.SUBMITTING, S.PROVIDER_PENDING], target=S.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=state, source=[S.SUBMITTING, S.PROVIDER_PENDING], target=S.FAILED)
    def fail(self) -> None:
        pass


# Every edge of the machine, for the database trigger and the pipeline tests.
ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (S.REQUESTED, S.APPROVED),
        (S.REQUESTED, S.DENIED),
        (S.REQUESTED, S.CANCELED),
        (S.APPROVED, S.CANCELED),
        (S.APPROVED, S.SUBMITTING),
        (S.FAILED, S.SUBMITTING),
        (S.SUBMITTING, S.PROVIDER_PENDING),
        (S.SUBMITTING, S.COMPLETED),
        (S.SUBMITTING, S.FAILED),
        (S.PROVIDER_PENDING, S.COMPLETED),
        (S.PROVIDER_PENDING, S.FAILED),
    }
)

# The FSM method above that moves a refund into each state (the services call it through
# refunds.services.transition, never directly).
TRANSITION_METHODS: dict[str, str] = {
    S.APPROVED: "approve",
    S.DENIED: "deny",
    S.CANCELED: "cancel",
    S.SUBMITTING: "submit",
    S.PROVIDER_PENDING: "mark_provider_pending",
    S.COMPLETED: "complete",
    S.FAILED: "fail",
}
