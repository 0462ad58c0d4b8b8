"""The audit trail in the Django admin: read-only for everyone, superusers included (SPEC §5)."""

import json

from django.contrib import admin

from audit.models import AuditEvent
from console.admin.common import ReadOnlyMixin, money_display
from console.presenters.formatting import money
from core.money import is_known_currency


def snapshot_shown(snapshot: object, currency: str) -> str:
    """An event's before/after as JSON, with every `…_minor` amount written as money ("5,000.00 USD")."""
    if not isinstance(snapshot, dict):
        return "—" if snapshot is None else json.dumps(snapshot, ensure_ascii=False)
    shown = {}
    for key, value in snapshot.items():
        if key.endswith("_minor") and isinstance(value, int) and is_known_currency(currency):
            shown[key.removesuffix("_minor")] = money(value, currency)
        else:
            shown[key] = value
    return json.dumps(shown, ensure_ascii=False, indent=1, sort_keys=True, default=str)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The audit trail is evidence: hash-chained, append-only, never edited from here."""

    list_display = [
        "id",
        "occurred_at",
        "action",
        "actor_label",
        "subject",
        "amount",
        "policy_rule",
        "flagged",
        "chain_seq",
    ]
    list_filter = ["action", "flagged", "actor_type"]
    search_fields = ["subject", "refund__public_id", "correlation_id", "actor_label"]
    list_select_related = ["refund", "seal"]
    date_hierarchy = "occurred_at"
    exclude = ["amount_minor", "before", "after"]
    readonly_fields = ["amount", "before_shown", "after_shown"]
    amount = money_display("amount_minor")

    @admin.display(description="before")
    def before_shown(self, event: AuditEvent) -> str:
        return snapshot_shown(event.before, event.currency or (event.refund.currency if event.refund else ""))

    @admin.display(description="after")
    def after_shown(self, event: AuditEvent) -> str:
        return snapshot_shown(event.after, event.currency or (event.refund.currency if event.refund else ""))

    @admin.display(description="chain seq")
    def chain_seq(self, event: AuditEvent) -> str:
        # Sealed into the hash chain a few seconds after commit; until then, pending.
        seal = getattr(event, "seal", None)
        return str(seal.seq) if seal is not None else "pending"
