from django.db import models


class AccountCode(models.TextChoices):
    SALES_RETURNS = "sales_returns", "Sales returns (contra revenue)"
    TAX_PAYABLE = "tax_payable", "Tax payable"
    REFUNDS_PAYABLE = "refunds_payable", "Refunds payable"
    PROVIDER_CLEARING = "provider_clearing", "Provider clearing"
    # --- voids (issue 15) ---
    # Authorizations held: what a released hold is paid out of instead of provider clearing
    # (a void moves no money; docs/instruments.md "Voids").
    AUTHORIZATIONS_HELD = "authorizations_held", "Authorizations held"


class AccountKind(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"


class EntryType(models.TextChoices):
    REFUND_PENDING = "REFUND_PENDING"
    REFUND_SETTLED = "REFUND_SETTLED"
    REFUND_REVERSED = "REFUND_REVERSED"
    # The provider failed a settled refund (`completed → failed`): the mirror of REFUND_SETTLED.
    REFUND_SETTLEMENT_REVERSED = "REFUND_SETTLEMENT_REVERSED"
    # --- voids (issue 15): an authorization released, never money moved; one type per refund as for refunds ---
    VOID_PENDING = "VOID_PENDING"
    VOID_RELEASED = "VOID_RELEASED"
    VOID_REVERSED = "VOID_REVERSED"
    # A finance user's manual correcting entry (maker-checker, ledger.models.CorrectingEntry); no refund.
    CORRECTION = "CORRECTION"


class PeriodState(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


class ReopenState(models.TextChoices):
    """A request to reopen a closed period (four-eyes: a second finance user decides)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CorrectionState(models.TextChoices):
    """A manual correcting entry: drafted by one finance user, posted or rejected by another."""

    DRAFT = "draft"
    POSTED = "posted"
    REJECTED = "rejected"
