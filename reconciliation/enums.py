"""Vocabularies of reconciliation; the values are stored and exported, so they never change.

Providers are not among them: a run's provider is a name of `providers.registry.PROVIDERS`
(choices from `providers.registry.provider_choices`).
"""

from django.db import models


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RunSource(models.TextChoices):
    API = "api", "Provider list API"
    FILE = "file", "Provider report CSV"


class ItemKind(models.TextChoices):
    """How one refund of the day compares (docs/reconciliation.md "Classification")."""

    MATCHED = "matched", "Matched"
    MISSING_IN_LEDGER = "missing_in_ledger", "Missing in ledger"
    MISSING_AT_PROVIDER = "missing_at_provider", "Missing at provider"
    AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
    STATE_MISMATCH = "state_mismatch", "State mismatch"
    CURRENCY_MISMATCH = "currency_mismatch", "Currency mismatch"
    # A signed webhook told us about a refund we do not know, and the provider
    # side of the run does not list it (otherwise it is missing_in_ledger).
    UNKNOWN_REFUND_EVENT = "unknown_refund_event", "Unknown refund (webhook)"


class ResolutionKind(models.TextChoices):
    """How an exception was settled, chosen with the note (one for a whole bulk resolve)."""

    TIMING = "timing", "Timing: settles on another day"
    PROVIDER_CORRECTED = "provider_corrected", "Corrected at the provider"
    LEDGER_CORRECTED = "ledger_corrected", "Corrected in the ledger (correcting entry)"
    WRITTEN_OFF = "written_off", "Written off"
    OTHER = "other", "Other (see the note)"


EXCEPTION_KINDS: tuple[str, ...] = tuple(kind for kind in ItemKind.values if kind != ItemKind.MATCHED)
