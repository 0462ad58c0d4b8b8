"""The ledger in the Django admin: read-only for everyone, superusers included (SPEC §4)."""

from django.contrib import admin

from console.admin.common import ReadOnlyMixin
from ledger.models import Account, JournalEntry, Posting


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class PostingInline(ReadOnlyMixin, admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    fields = ["account", "currency", "amount_minor"]
    readonly_fields = fields


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "entry_type", "refund", "amount_minor", "currency", "created_at"]
    list_filter = ["entry_type", "currency"]
    search_fields = ["refund__public_id"]
    inlines = [PostingInline]
    list_select_related = ["refund"]
    date_hierarchy = "created_at"


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind"]
