"""The audit trail in the Django admin: read-only for everyone, superusers included (SPEC §5)."""

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is evidence: hash-chained, append-only, never edited from here."""

    list_display = [
        "seq",
        "occurred_at",
        "action",
        "actor_label",
        "subject",
        "amount_minor",
        "currency",
        "policy_rule",
        "flagged",
    ]
    list_filter = ["action", "flagged", "actor_type"]
    search_fields = ["subject", "refund__public_id", "correlation_id", "actor_label"]
    list_select_related = ["refund"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
