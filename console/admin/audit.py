"""The audit trail in the Django admin: read-only for everyone, superusers included (SPEC §5)."""

from django.contrib import admin

from audit.models import AuditEvent
from console.admin.common import ReadOnlyMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The audit trail is evidence: hash-chained, append-only, never edited from here."""

    list_display = [
        "id",
        "occurred_at",
        "action",
        "actor_label",
        "subject",
        "amount_minor",
        "currency",
        "policy_rule",
        "flagged",
        "chain_seq",
    ]
    list_filter = ["action", "flagged", "actor_type"]
    search_fields = ["subject", "refund__public_id", "correlation_id", "actor_label"]
    list_select_related = ["refund", "seal"]
    date_hierarchy = "occurred_at"

    @admin.display(description="chain seq")
    def chain_seq(self, event: AuditEvent) -> str:
        # Sealed into the hash chain a few seconds after commit; until then, pending.
        seal = getattr(event, "seal", None)
        return str(seal.seq) if seal is not None else "pending"
