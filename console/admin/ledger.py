"""The ledger in the Django admin: read-only for everyone, superusers included (SPEC §4)."""

from django.contrib import admin

from console.admin.common import ReadOnlyMixin, money_display
from ledger.models import Account, JournalEntry, Posting


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class PostingInline(ReadOnlyMixin, admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    fields = ["account", "amount", "side"]
    readonly_fields = fields
    # Postings are signed (debit > 0, credit < 0); staff read a side and an amount.
    amount = money_display("amount_minor")

    @admin.display(description="side")
    def side(self, posting: Posting) -> str:
        return "debit" if posting.amount_minor > 0 else "credit"


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "entry_type", "refund", "amount", "created_at"]
    list_filter = ["entry_type", "currency"]
    search_fields = ["refund__public_id"]
    exclude = ["amount_minor"]
    readonly_fields = ["amount"]
    amount = money_display("amount_minor")
    inlines = [PostingInline]
    list_select_related = ["refund"]
    date_hierarchy = "created_at"


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind"]
