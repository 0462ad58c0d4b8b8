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
    # Store credit (issue 15, docs/instruments.md "Store credit").
    STORE_CREDIT_OUTSTANDING = "store_credit_outstanding", "Store credit outstanding"
    STORE_CREDIT_BONUS = "store_credit_bonus", "Store credit bonus (expense)"
    STORE_CREDIT_REDEEMED = "store_credit_redeemed", "Store credit spent at checkout"
    STORE_CREDIT_BREAKAGE = "store_credit_breakage", "Store credit breakage (expired, unspent)"


class AccountKind(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"


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
    # Store credit (issue 15): issued at completion instead of REFUND_SETTLED (refunds payable and the
    # bonus into outstanding credit), one entry per redemption (the only type posted many times per
    # refund: each redemption row points at its own entry), and breakage of what expired unspent.
    STORE_CREDIT_ISSUED = "STORE_CREDIT_ISSUED"
    STORE_CREDIT_REDEEMED = "STORE_CREDIT_REDEEMED"
    STORE_CREDIT_EXPIRED = "STORE_CREDIT_EXPIRED"


# Entry types a refund may carry more than once; every other type is unique per refund.
REPEATABLE_ENTRY_TYPES = frozenset({EntryType.STORE_CREDIT_REDEEMED})


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
