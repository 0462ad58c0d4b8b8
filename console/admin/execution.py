"""Finance's view of provider execution (SPEC §6): the outbox with its dead
letters, and manual payouts. Both act only through the execution services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from console.admin.common import ReadOnlyMixin
from core.actor import Actor
from core.errors import DomainError
from refunds.enums import OutboxStatus, PayoutStatus
from refunds.models import OutboxMessage, PayoutTask
from refunds.permissions import Perm, has_perm
from refunds.services.outbox import outbox_replay
from refunds.services.payout import payout_mark_paid


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Read-only; dead-lettered messages can be replayed (same idempotency key, fresh attempts)."""

    list_display = ["id", "refund", "topic", "status", "attempts", "available_at", "dead_at", "last_error"]
    list_filter = ["status", "topic"]
    search_fields = ["refund__public_id", "idempotency_key"]
    list_select_related = ["refund"]
    actions = ["replay_dead_letters"]

    def has_view_permission(self, request, obj=None) -> bool:
        return has_perm(request.user, Perm.VIEW_FINANCE) or super().has_view_permission(request, obj)

    def has_replay_permission(self, request) -> bool:
        return has_perm(request.user, Perm.VIEW_FINANCE)

    @admin.action(description="Replay selected dead-lettered messages", permissions=["replay"])
    def replay_dead_letters(self, request, queryset) -> None:
        replayed = 0
        for message in queryset.filter(status=OutboxStatus.DEAD):
            outbox_replay(message_id=message.pk, actor=Actor.for_user(request.user))
            replayed += 1
        skipped = queryset.count() - replayed
        self.message_user(
            request,
            f"Replayed {replayed} message(s)."
            + (f" {skipped} were not dead-lettered and were left alone." if skipped else ""),
            messages.SUCCESS if replayed else messages.WARNING,
        )


class PayoutForm(forms.ModelForm):
    class Meta:
        model = PayoutTask
        fields = ["reference"]
        help_texts = {"reference": "The bank transfer or cash reference of the payout. Saving marks it paid."}


@admin.register(PayoutTask)
class PayoutTaskAdmin(admin.ModelAdmin):
    """Open payouts (providers settled by hand); entering the reference marks it paid and completes the refund."""

    form = PayoutForm
    list_display = ["refund", "status", "reference", "paid_by", "paid_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["refund__public_id", "reference"]
    list_select_related = ["refund", "paid_by"]
    readonly_fields = ["refund", "status", "paid_by", "paid_at", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return has_perm(request.user, Perm.VIEW_FINANCE) or super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != PayoutStatus.OPEN:
            return False
        return has_perm(request.user, Perm.MARK_PAYOUT_PAID)

    def save_model(self, request, obj, form, change) -> None:
        try:
            payout_mark_paid(refund_id=obj.refund_id, actor=Actor.for_user(request.user), reference=obj.reference)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
