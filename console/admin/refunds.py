"""Django admin: read-only views of refunds and their records; the refund policy is edited here by risk.

Refunds change only through the console and API services, the ledger and
audit trail never change at all, so every admin here refuses add, change
and delete, for superusers too. The one editable thing is the policy, and
saving it publishes a new version through `policy_publish`.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from console.admin.common import ReadOnlyMixin, money_display
from console.forms import RefundPolicyForm, reply_field_name
from core.actor import Actor
from refunds.models import (
    ApiKey,
    Customer,
    Decision,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundPolicy,
    WebhookEvent,
)
from refunds.services.api_keys import api_key_revoke
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import policy_publish

# The rules of SPEC §3.2, as RefundPolicy fields (compared between versions).
POLICY_RULE_FIELDS = [
    "window_days",
    "auto_approve_ceilings",
    "evidence_required_reasons",
    "velocity_max_per_24h",
    "dual_control_threshold",
    "cancellation_fee_schedule",
    "fee_schedule_reasons",
    "reply_templates",
]


class GuardedHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin whose "revert" form saves only for users allowed to change the object.

    django-simple-history's history form view asks only for the *view*
    permission and then saves whatever is posted to it, so without this guard
    anyone who may read a refund could rewrite it (amount, draft, state) from
    an old version. Reading the history stays open to every reader.
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD") and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class DecisionInline(ReadOnlyMixin, admin.TabularInline):
    model = Decision
    extra = 0
    fields = ["kind", "actor", "as_senior", "note", "amount_before", "amount_after", "created_at"]
    readonly_fields = fields
    amount_before = money_display("amount_before_minor", currency="refund.currency")
    amount_after = money_display("amount_after_minor", currency="refund.currency")


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, GuardedHistoryAdmin):
    list_display = ["public_id", "order", "amount", "reason", "state", "policy_rule", "created_at"]
    list_filter = ["state", "reason", "policy_outcome", "currency", "override_flagged"]
    search_fields = ["public_id", "order__order_id", "provider_refund_id"]
    list_select_related = ["order"]
    exclude = ["status_token_sealed", "status_token_digest", "amount_minor"]
    readonly_fields = ["console_link", "amount"]
    inlines = [DecisionInline]
    amount = money_display("amount_minor")

    @admin.display(description="Agent console")
    def console_link(self, obj: Refund) -> str:
        url = reverse("console:card", kwargs={"public_id": obj.public_id})
        return format_html('<a href="{}">Open the refund card (approve, edit, decline, timeline)</a>', url)


class OrderLineInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderLine
    extra = 0
    exclude = ["unit_amount_minor", "tax_minor", "discount_minor"]
    readonly_fields = ["unit_amount", "tax", "discount"]
    unit_amount = money_display("unit_amount_minor", currency="order.currency")
    tax = money_display("tax_minor", currency="order.currency")
    discount = money_display("discount_minor", currency="order.currency")


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, GuardedHistoryAdmin):
    list_display = ["order_id", "merchant", "customer", "currency", "created_at"]
    list_filter = ["merchant"]
    search_fields = ["order_id", "customer__external_id", "customer__email"]
    list_select_related = ["customer", "merchant"]
    inlines = [OrderLineInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "provider_payment_id",
        "order",
        "rail",
        "amount",
        "refund_reserved",
        "status",
    ]
    list_filter = ["status", "rail", "currency"]
    search_fields = ["provider_payment_id", "order__order_id"]
    exclude = ["amount_minor", "refund_reserved_minor"]
    readonly_fields = ["amount", "refund_reserved"]
    amount = money_display("amount_minor")
    refund_reserved = money_display("refund_reserved_minor", description="reserved or refunded")


@admin.register(Customer)
class CustomerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["external_id", "merchant", "email", "locale"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["external_id", "email"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """The access admin's view of API keys: read, and revoke through `api_key_revoke` (audited).

    Nothing else changes here, so no change to a key escapes the audit trail.
    """

    list_display = ["prefix", "user", "merchant", "name", "scopes", "created_at", "revoked_at"]
    list_filter = ["merchant"]
    list_select_related = ["user", "merchant"]
    # revoked_at too: clearing it in the form would quietly bring a revoked key back to life.
    # merchant too: moving a key to another merchant would hand it that merchant's data.
    readonly_fields = ["prefix", "key_hash", "user", "merchant", "name", "scopes", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are minted by `manage.py create_api_key`, which shows the secret once

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, never deleted: the audit trail and decisions cite the key

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset) -> None:
        revoked = api_key_revoke(
            key_ids=list(queryset.values_list("pk", flat=True)), actor=Actor.for_user(request.user)
        )
        self.message_user(request, f"Revoked {revoked} key(s); requests with them are refused from now on.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The provider webhook inbox: evidence of what the provider told us, never edited."""

    list_display = ["event_id", "event_type", "provider_refund_id", "refund", "status", "replay_count", "received_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_id", "provider_refund_id", "refund__public_id"]
    list_select_related = ["refund"]
    date_hierarchy = "received_at"


@admin.register(RefundPolicy)
class RefundPolicyAdmin(GuardedHistoryAdmin):
    """Risk edits the policy here. Saving never changes a version: it publishes the next one.

    Every version stays (refunds cite the version that decided them); the
    change list is the policy's history — who published which version, when
    and why — and each version also has its django-simple-history page.
    """

    form = RefundPolicyForm
    list_display = [
        "version",
        "in_force",
        "window_days",
        "velocity_max_per_24h",
        "dual_control_threshold",
        "note",
        "created_by",
        "created_at",
    ]
    list_select_related = ["created_by"]
    readonly_fields = ["pro_rata_split", "version", "created_by", "created_at", "changes_from_previous"]
    fieldsets = [
        (
            "Refund window",
            {"fields": ["window_days"]},
        ),
        (
            "Automatic approval",
            {
                "fields": RefundPolicyForm.ceiling_field_names(),
                "description": "Per reason, the largest refund the policy approves without a person. "
                "Goodwill is never approved automatically.",
            },
        ),
        ("Evidence", {"fields": ["evidence_required_reasons"]}),
        ("Customer velocity", {"fields": ["velocity_max_per_24h"]}),
        ("Goodwill and dual control", {"fields": ["dual_control_threshold"]}),
        (
            "Reservations",
            {
                "fields": ["cancellation_fee_schedule", "fee_schedule_reasons"],
                "description": "For orders with a service start date (bookings), the schedule decides how much "
                "of the price a cancellation gets back; it replaces the refund window for those orders "
                "(rule R-CANCEL-FEE-…).",
            },
        ),
        ("Partial refunds", {"fields": ["pro_rata_split"]}),
        (
            "Customer replies",
            {
                "fields": RefundPolicyForm.reply_field_names(),
                "description": "The reply the policy drafts for each refund, in the customer's language "
                "(their locale; English otherwise). Agents may reword a draft on the refund card. Placeholders "
                "are filled from the refund when the email is sent, so the amount is always the refund's.",
            },
        ),
        ("Publish", {"fields": ["note"]}),
        ("This version", {"fields": ["version", "created_by", "created_at", "changes_from_previous"]}),
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # refunds cite versions; they are kept forever

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: RefundPolicy) -> bool:
        return obj.version == RefundPolicy.objects.order_by("-version").values_list("version", flat=True).first()

    @admin.display(description="Pro-rata split over order lines")
    def pro_rata_split(self, obj: RefundPolicy | None = None) -> str:
        # SPEC §3.2 lists it among the rules; it is arithmetic, not a limit, so it is shown rather than edited.
        return (
            "Fixed rule, the same for every version: a partial refund is spread over the order's lines in "
            "proportion to each line's gross, then each line's share between net and tax, both by the "
            "largest-remainder method, so the parts always add up to the refund exactly and no minor unit "
            "is lost or invented (docs/ledger.md)."
        )

    @admin.display(description="Changes from the previous version")
    def changes_from_previous(self, obj: RefundPolicy) -> str:
        if obj is None or obj.pk is None:
            return "—"
        previous = RefundPolicy.objects.filter(version__lt=obj.version).order_by("-version").first()
        if previous is None:
            return "First version."
        changed = [
            f"{field}: {getattr(previous, field)!r} → {getattr(obj, field)!r}"
            for field in POLICY_RULE_FIELDS
            if getattr(previous, field) != getattr(obj, field)
        ]
        return "; ".join(changed) or "No rule changed."

    def get_changeform_initial_data(self, request) -> dict:
        """A new version starts from the one in force, not from the model's defaults."""
        current = policy_get_active()
        initial = {field: getattr(current, field) for field in POLICY_RULE_FIELDS}
        threshold = current.dual_control_threshold
        # Stored with 3 decimals (KWD); show 200 rather than 200.000 when it is a whole amount.
        initial["dual_control_threshold"] = threshold.quantize(1) if threshold == threshold.to_integral() else threshold
        initial.update({f"ceiling_{reason}": value for reason, value in (current.auto_approve_ceilings or {}).items()})
        initial.update(
            {
                reply_field_name(language, kind): text
                for language, kinds in (current.reply_templates or {}).items()
                for kind, text in kinds.items()
            }
        )
        return {**initial, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj: RefundPolicy, form, change: bool) -> None:
        previous = obj.version
        published = policy_publish(policy=obj, user=request.user)
        detail = f" Version {previous} is kept unchanged." if change and previous else ""
        self.message_user(request, f"Published policy version {published.version}; it applies to new refunds.{detail}")
