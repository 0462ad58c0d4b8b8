"""Replies as templates, per language; a decline's internal rationale (issue 12, items 1 and 2).

- `RefundPolicy.reply_templates`: the policy's reply texts per language (en,
  de, ar) and kind; existing versions get the default texts.
- `Decision.rationale`: why a decline was given, for staff and the audit
  trail only.
- Drafts written before templates: where a refund still waiting for a
  decision or for its approval email says "of 45.00 USD" with its own amount
  (or an amount it had before an edit, the bug of issue 12), that phrase
  becomes "of {amount}", so the email states the refund's amount as it is.
  Any other text is left as written and rendered as is (no placeholder, nothing
  filled). The edits' before/after drafts of those refunds get the same
  replacement, so "is this still the policy's decline draft" keeps comparing
  like with like. Audit events are never rewritten (they are hash-chained).
"""

from decimal import Decimal

from django.db import migrations, models

import refunds.replies

# Frozen copies: a migration must mean the same thing whatever the code becomes.
_OPEN_STATES = ("requested", "approved")


def _plain(amount_minor: int, currency: str, exponents: dict[str, int]) -> str:
    digits = exponents.get(currency, 2)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f} {currency}"


def _templated(text: str, amounts: set[int], currency: str, exponents: dict[str, int]) -> str:
    for amount in sorted(amounts, reverse=True):
        text = text.replace(f"of {_plain(amount, currency, exponents)}", "of {amount}")
    return text


def drafts_to_templates(apps, schema_editor):
    from core.money import CURRENCY_EXPONENTS

    Refund = apps.get_model("refunds", "Refund")
    Decision = apps.get_model("refunds", "Decision")
    for refund in Refund.objects.filter(state__in=_OPEN_STATES).iterator():
        edits = list(Decision.objects.filter(refund_id=refund.pk, kind="edit"))
        amounts = {refund.amount_minor} | {d.amount_before_minor for d in edits if d.amount_before_minor}
        draft = _templated(refund.draft_reply, amounts, refund.currency, CURRENCY_EXPONENTS)
        if draft != refund.draft_reply:
            # The version trigger bumps `version`: a card open on the old draft is asked to look again.
            Refund.objects.filter(pk=refund.pk).update(draft_reply=draft)
        for edit in edits:
            before = _templated(edit.reply_before, amounts, refund.currency, CURRENCY_EXPONENTS)
            after = _templated(edit.reply_after, amounts, refund.currency, CURRENCY_EXPONENTS)
            if (before, after) != (edit.reply_before, edit.reply_after):
                Decision.objects.filter(pk=edit.pk).update(reply_before=before, reply_after=after)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0017_outbox_queued_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="decision",
            name="rationale",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="reply_templates",
            field=models.JSONField(default=refunds.replies.default_reply_templates),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="reply_templates",
            field=models.JSONField(default=refunds.replies.default_reply_templates),
        ),
        migrations.RunPython(drafts_to_templates, migrations.RunPython.noop),
    ]
