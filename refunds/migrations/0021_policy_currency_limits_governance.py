"""Policy limits per currency, high-value dual control, and four-eyes policy governance (issue 12 items 5, 12).

Limits: a version's single-number ceilings and goodwill threshold were applied
in every currency as they were (500 meant 500 USD, 500 JPY and 500 KWD). They
are converted to the per-currency table by reading them as USD — the currency
they were written for (SPEC's examples, the demo) — and carrying them to USD,
EUR, GBP, JPY, KWD, AED and SAR with the default policy's round ratios,
rounded down (refunds.limits). The high-value threshold is new: every
existing version gets the default, 2,000 USD scaled the same way. Pending
refunds keep their version, so an amount edited on one is now measured in
its own currency. The old numbers stay readable in each version's
django-simple-history rows and in the audit trail's `policy.changed` events.

Governance: every existing version was published under the old rules, so it
becomes `approved`, applying from its creation (reviewed by nobody: there was
no second reviewer then). The ratios are copied here, not imported, so this
migration keeps meaning what it meant.
"""

from decimal import ROUND_FLOOR, Decimal

import django.db.models.deletion
import django.db.models.lookups
from django.conf import settings
from django.db import migrations, models

import core.db
import refunds.models.policy

RATIOS = {"USD": "1", "EUR": "0.92", "GBP": "0.80", "JPY": "150", "KWD": "0.30", "AED": "3.6", "SAR": "3.8"}
EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "AED": 2, "SAR": 2}
CEILING_REASONS = ["not_received", "quality", "duplicate", "pricing_error", "other"]
HIGH_VALUE_USD = Decimal("2000")


def _scaled(amount_usd, currency):
    major = Decimal(str(amount_usd)) * Decimal(RATIOS[currency])
    return int(major.scaleb(EXPONENTS[currency]).to_integral_value(rounding=ROUND_FLOOR))


def _table(ceilings, threshold):
    table = {}
    for currency in RATIOS:
        row = {
            reason: None if (ceilings or {}).get(reason) is None else _scaled(ceilings[reason], currency)
            for reason in CEILING_REASONS
        }
        row["goodwill_dual_control"] = _scaled(threshold, currency)
        row["high_value"] = _scaled(HIGH_VALUE_USD, currency)
        table[currency] = row
    return table


def limits_per_currency_and_approved(apps, schema_editor):
    for name in ("RefundPolicy", "HistoricalRefundPolicy"):
        model = apps.get_model("refunds", name)
        for policy in model.objects.all():
            policy.limits = _table(policy.auto_approve_ceilings, policy.dual_control_threshold)
            policy.status = "approved"
            policy.reviewed_at = policy.activates_at = policy.created_at
            policy.save(update_fields=["limits", "status", "reviewed_at", "activates_at"])


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0020_needs_action_and_provider_reversal"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="refundpolicy",
            options={
                "ordering": ["-version"],
                "permissions": [
                    ("approve_refundpolicy", "Can approve or reject another user's policy draft (four-eyes)")
                ],
                "verbose_name_plural": "refund policies",
            },
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="activates_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When an approved version starts to apply; empty on a draft: on approval.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="limits",
            field=models.JSONField(default=refunds.models.policy.default_limits),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="review_note",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="reviewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("approved", "Approved"), ("rejected", "Rejected")],
                default="draft",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="activates_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When an approved version starts to apply; empty on a draft: on approval.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="limits",
            field=models.JSONField(default=refunds.models.policy.default_limits),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="review_note",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="reviewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("approved", "Approved"), ("rejected", "Rejected")],
                default="draft",
                max_length=16,
            ),
        ),
        migrations.RunPython(limits_per_currency_and_approved, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="refundpolicy",
            name="policy_threshold_not_negative",
        ),
        migrations.RemoveField(
            model_name="historicalrefundpolicy",
            name="auto_approve_ceilings",
        ),
        migrations.RemoveField(
            model_name="historicalrefundpolicy",
            name="dual_control_threshold",
        ),
        migrations.RemoveField(
            model_name="refundpolicy",
            name="auto_approve_ceilings",
        ),
        migrations.RemoveField(
            model_name="refundpolicy",
            name="dual_control_threshold",
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["draft", "approved", "rejected"])), name="policy_status_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("reviewed_by__isnull", True),
                    ("created_by__isnull", True),
                    models.Q(("reviewed_by", models.F("created_by")), _negated=True),
                    _connector="OR",
                ),
                name="policy_reviewer_not_author",
            ),
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "approved"), _negated=True),
                    models.Q(("activates_at__isnull", False), ("reviewed_at__isnull", False)),
                    _connector="OR",
                ),
                name="policy_approved_has_activation",
            ),
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "draft"), _negated=True),
                    models.Q(("reviewed_at__isnull", True), ("reviewed_by__isnull", True)),
                    _connector="OR",
                ),
                name="policy_draft_not_reviewed",
            ),
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=django.db.models.lookups.Exact(core.db.JsonTypeOf("limits"), "object"),
                name="policy_limits_is_object",
            ),
        ),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
