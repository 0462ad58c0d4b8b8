"""Django admin: read-only views of refunds and their records; the refund policy is edited here by risk.

Refunds change only through the console and API services, the ledger and
audit trail never change at all, so every admin here refuses add, change
and delete, for superusers too. The one editable thing is the policy:
saving it writes a draft version (`policy_draft_create`) that a second risk
user approves on its review page, after a backtest.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from console.admin.common import ReadOnlyMixin, money_display
from console.forms import PolicyReviewForm, RefundPolicyForm, reply_field_name
from console.limits_grid import limit_column_label
from console.presenters.formatting import money
from console.presenters.policy import backtest_view
from core.actor import Actor
from core.errors import DomainError
from refunds.enums import PolicyStatus
from refunds.limits import LIMIT_COLUMNS
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
from refunds.permissions import Perm, has_perm
from refunds.services.api_keys import api_key_revoke
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import (
    POLICY_RULE_FIELDS,
    policy_draft_approve,
    policy_draft_create,
    policy_draft_reject,
    policy_review_refusal,
)
from refunds.services.policy_backtest import policy_backtest


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
    """Risk edits the policy here. Saving never changes a version: it writes the next one as a draft.

    A draft applies only once a second risk user approved it on its review
    page, after a backtest over the last 30 days (four-eyes, see
    refunds.services.policy_admin). Every version stays (refunds cite the
    version that decided them); the change list is the policy's history —
    who wrote and who approved which version, when it applies and why.
    """

    form = RefundPolicyForm
    list_display = [
        "version",
        "status",
        "in_force",
        "activates_at",
        "window_days",
        "velocity_max_per_24h",
        "note",
        "created_by",
        "reviewed_by",
        "review_link",
    ]
    list_filter = ["status"]
    list_select_related = ["created_by", "reviewed_by"]
    readonly_fields = [
        "pro_rata_split",
        "version",
        "status",
        "created_by",
        "created_at",
        "reviewed_by",
        "reviewed_at",
        "review_note",
        "changes_from_active",
        "review_link",
    ]
    fieldsets = [
        (
            "Refund window",
            {"fields": ["window_days"]},
        ),
        (
            "Limits per currency",
            {
                "fields": ["limits"],
                "description": "Every money limit of the policy, per currency. Goodwill is never approved "
                "automatically, so it has no ceiling column.",
            },
        ),
        ("Evidence", {"fields": ["evidence_required_reasons"]}),
        ("Customer velocity", {"fields": ["velocity_max_per_24h"]}),
        (
            "Reservations",
            {
                "fields": ["cancellation_fee_schedule", "fee_schedule_reasons"],
                "description": "For orders with a service start date (bookings), the schedule decides how much "
                "of the price a cancellation gets back; it replaces the refund window for those orders "
                "(rule R-CANCEL-FEE-…).",
            },
        ),
        ("Partial refunds", {"fields": ["pro_rata_split", "proration_enabled"]}),
        (
            "Store credit",
            {
                "fields": ["store_credit_enabled", "store_credit_bonus_percent", "store_credit_expiry_days"],
                "description": "A refund paid as a code for the merchant's checkout (docs/instruments.md). "
                "The bonus and the validity of the version that decided a refund apply to its credit.",
            },
        ),
        (
            "Customer replies",
            {
                "fields": RefundPolicyForm.reply_field_names(),
                "description": "The reply the policy drafts for each refund, in the customer's language "
                "(their locale; English otherwise). Agents may reword a draft on the refund card. Placeholders "
                "are filled from the refund when the email is sent, so the amount is always the refund's.",
            },
        ),
        (
            "Save as a draft",
            {
                "fields": ["activates_at", "note"],
                "description": "Saving writes a draft. It applies only after another risk user approves it "
                "on its review page, which backtests it over the last 30 days.",
            },
        ),
        (
            "This version",
            {
                "fields": [
                    "version",
                    "status",
                    "created_by",
                    "created_at",
                    "reviewed_by",
                    "reviewed_at",
                    "review_note",
                    "changes_from_active",
                    "review_link",
                ]
            },
        ),
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # refunds cite versions; they are kept forever

    def has_change_permission(self, request, obj=None) -> bool:
        # Saving writes a draft (`policy_draft_create`): only those who may draft get an editable form.
        return has_perm(request.user, Perm.DRAFT_POLICY)

    def has_add_permission(self, request) -> bool:
        return has_perm(request.user, Perm.DRAFT_POLICY)

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: RefundPolicy) -> bool:
        return obj.pk == policy_get_active().pk

    @admin.display(description="Review")
    def review_link(self, obj: RefundPolicy) -> str:
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:refunds_refundpolicy_review", args=[obj.pk])
        label = "Backtest and approve or reject" if obj.status == PolicyStatus.DRAFT else "Backtest"
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="Pro-rata split over order lines")
    def pro_rata_split(self, obj: RefundPolicy | None = None) -> str:
        # SPEC §3.2 lists it among the rules; it is arithmetic, not a limit, so it is shown rather than edited.
        return (
            "Fixed rule, the same for every version: a partial refund is spread over the order's lines in "
            "proportion to each line's gross, then each line's share between net and tax, both by the "
            "largest-remainder method, so the parts always add up to the refund exactly and no minor unit "
            "is lost or invented (docs/ledger.md)."
        )

    @admin.display(description="Changes from the version in force")
    def changes_from_active(self, obj: RefundPolicy) -> str:
        if obj is None or obj.pk is None:
            return "—"
        active = policy_get_active()
        if active.pk == obj.pk:
            return "This is the version in force."
        return "; ".join(policy_changes(active, obj)) or f"No rule differs from version {active.version}."

    def get_changeform_initial_data(self, request) -> dict:
        """A new version starts from the one in force, not from the model's defaults."""
        current = policy_get_active()
        initial = {field: getattr(current, field) for field in POLICY_RULE_FIELDS}
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
        draft = policy_draft_create(policy=obj, user=request.user, activates_at=form.cleaned_data.get("activates_at"))
        detail = f" Version {previous} is kept unchanged." if change and previous else ""
        self.message_user(
            request,
            f"Saved draft version {draft.version}. It applies only after another risk user approves it; "
            f"its backtest is below.{detail}",
        )

    def response_add(self, request, obj, post_url_continue=None):
        return redirect("admin:refunds_refundpolicy_review", obj.pk)

    def response_change(self, request, obj):
        return redirect("admin:refunds_refundpolicy_review", obj.pk)

    def get_urls(self):
        review = path(
            "<int:object_id>/review/",
            self.admin_site.admin_view(self.review_view),
            name="refunds_refundpolicy_review",
        )
        return [review, *super().get_urls()]

    def review_view(self, request, object_id: int):
        """The draft's backtest against the version in force, and (for a second risk user) approve / reject."""
        policy = RefundPolicy.objects.select_related("created_by", "reviewed_by").filter(pk=object_id).first()
        if policy is None or not self.has_view_permission(request, policy):
            raise Http404("No such policy version")
        form = PolicyReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            action = request.POST.get("action")
            note = form.cleaned_data["note"]
            try:
                if action == "approve":
                    policy = policy_draft_approve(policy_id=policy.pk, user=request.user, note=note)
                    when = date_format(timezone.localtime(policy.activates_at), "DATETIME_FORMAT")
                    self.message_user(request, f"Approved version {policy.version}; it applies from {when}.")
                elif action == "reject":
                    policy = policy_draft_reject(policy_id=policy.pk, user=request.user, note=note)
                    self.message_user(request, f"Rejected version {policy.version}; it will never apply.")
                else:
                    raise Http404("Unknown action")
            except DomainError as error:
                self.message_user(request, error.message, level=messages.ERROR)
            return redirect("admin:refunds_refundpolicy_review", policy.pk)
        active = policy_get_active()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Policy version {policy.version}: backtest and review",
            "policy": policy,
            "active": active,
            "changes": policy_changes(active, policy) if active.pk != policy.pk else [],
            "backtest": backtest_view(policy_backtest(draft=policy, active=active)),
            "review_form": form,
            "refusal": policy_review_refusal(policy, request.user),
        }
        return TemplateResponse(request, "console/admin/policy_review.html", context)


def policy_changes(old: RefundPolicy, new: RefundPolicy) -> list[str]:
    """What `new` says differently from `old`, one line per rule (limits per currency and cell)."""
    changed = []
    for field in POLICY_RULE_FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before == after:
            continue
        if field == "reply_templates":
            changed += [
                f"reply ({language}, {kind}) reworded"
                for language in sorted(set(before) | set(after))
                for kind in sorted(set(before.get(language, {})) | set(after.get(language, {})))
                if before.get(language, {}).get(kind) != after.get(language, {}).get(kind)
            ]
            continue
        if field != "limits":
            changed.append(f"{field}: {before!r} → {after!r}")
            continue
        for currency in sorted(set(before) | set(after)):
            row_before, row_after = before.get(currency), after.get(currency)
            if row_before is None or row_after is None:
                changed.append(f"limits: {currency} {'added' if row_before is None else 'removed'}")
                continue
            for column in LIMIT_COLUMNS:
                if row_before.get(column) != row_after.get(column):
                    old_text = _limit_text(row_before.get(column), currency)
                    new_text = _limit_text(row_after.get(column), currency)
                    changed.append(f"{currency} {limit_column_label(column)}: {old_text} → {new_text}")
    return changed


def _limit_text(value: int | None, currency: str) -> str:
    return "none" if value is None else money(int(value), currency)
