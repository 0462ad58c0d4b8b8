"""What merchants' systems see of a refund: the API's answer, and every event's `data` (issue 14).

One definition for both, so `GET /v1/refunds/{id}` and the `data` of the
events about that refund cannot drift apart: an integrator can store either
and read it with the same code.
"""

from __future__ import annotations

import functools
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credits.enums import CreditStatus
from credits.selectors import refund_credit
from notifications.replies import reply_render
from refunds.failures import processor_message
from refunds.models import Refund


class LedgerEntryOutput(serializers.Serializer):
    type = serializers.CharField(source="entry_type")
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()


class PolicyOutput(serializers.Serializer):
    outcome = serializers.CharField(source="policy_outcome")
    rule = serializers.CharField(source="policy_rule")
    rule_text = serializers.CharField(source="policy_rule_text")
    version = serializers.IntegerField(source="policy_version.version")
    recommendation = serializers.CharField()


class ApprovalOutput(serializers.Serializer):
    by = serializers.CharField(source="actor_label")
    at = serializers.DateTimeField(source="created_at")
    senior = serializers.BooleanField(source="as_senior")


class StoreCreditOutput(serializers.Serializer):
    """A store credit as the merchant sees it: the code in clear, for its checkout (docs/instruments.md)."""

    code = serializers.CharField()
    currency = serializers.CharField()
    amount_minor = serializers.IntegerField(help_text="Issued, bonus included.")
    bonus_minor = serializers.IntegerField()
    balance_minor = serializers.IntegerField(source="current_balance_minor", help_text="What can be spent now.")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: never expires.")
    status = serializers.ChoiceField(source="current_status", choices=CreditStatus.choices)


class RefundLineOutput(serializers.Serializer):
    sku = serializers.CharField(source="order_line.sku")
    description = serializers.CharField(source="order_line.description")
    quantity = serializers.IntegerField()
    amount_minor = serializers.IntegerField()
    tax_minor = serializers.IntegerField()


class ProrationOutput(serializers.Serializer):
    """The arithmetic of a refund for time not used (refunds.services.proration)."""

    text = serializers.CharField()
    total_days = serializers.IntegerField()
    unused_days = serializers.IntegerField()
    base_minor = serializers.IntegerField()
    fee_percent = serializers.IntegerField()
    amount_minor = serializers.IntegerField()


def refund_lines_output(refund: Refund) -> list[dict]:
    """A refund's lines: prefetched (`refunds.selectors.refund_queryset`) or remembered at creation, else one query."""
    lines = getattr(refund, "_prefetched_objects_cache", {}).get("lines")
    if lines is None:
        lines = refund.lines.select_related("order_line")
    return RefundLineOutput(lines, many=True).data


class RefundOutput(serializers.Serializer):
    refund_id = serializers.CharField(source="public_id")
    order_id = serializers.CharField(source="order.order_id")
    state = serializers.CharField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    reason = serializers.CharField()
    # How the customer gets it back: original_payment, store_credit, or void (an authorization released).
    instrument = serializers.CharField(source="instrument_or_default")
    # Bumped by every edit and every move; a decision may name it (DecisionInput.version).
    version = serializers.IntegerField()
    note = serializers.CharField(source="customer_note")
    # Stored items (`refunds.services.evidence_refs`); refunds from before typed evidence may hold plain strings.
    evidence = serializers.ListField(child=serializers.JSONField())
    # The merchant's key-value pairs, as given at creation ({} when none).
    metadata = serializers.SerializerMethodField()
    policy = PolicyOutput(source="*")
    approvals_required = serializers.IntegerField()
    approvals = serializers.SerializerMethodField()
    # The message the customer got, as they read it: a template's placeholders filled in (never the
    # staff's internal rationale, which no answer carries).
    decline_reason = serializers.SerializerMethodField()
    override_flagged = serializers.BooleanField()
    provider_payment_id = serializers.CharField(source="payment.provider_payment_id")
    provider_refund_id = serializers.CharField(allow_null=True)
    failure_code = serializers.CharField()
    failure_retryable = serializers.BooleanField()
    # The provider's last answer about this submission, in a sentence for the merchant; null before any.
    processor_message = serializers.SerializerMethodField()
    ledger_entries = serializers.SerializerMethodField()
    # Paid as store credit (issue 15): the credit once issued; null otherwise.
    store_credit = serializers.SerializerMethodField()
    # By line: the units of each order line it takes back ([] for a refund by amount). For time not used:
    # the arithmetic (null otherwise).
    lines = serializers.SerializerMethodField()
    proration = ProrationOutput(allow_null=True)
    status_url = serializers.CharField()
    correlation_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string"}, "description": "Set at creation; {} when none."}
    )
    def get_metadata(self, refund) -> dict[str, str]:
        return dict(refund.metadata or {})

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "description": "What the payment provider answered, in words (refunds.failures.processor_message): "
            "accepted and settling later, completed, or why it failed; null before any answer.",
        }
    )
    def get_processor_message(self, refund) -> str | None:
        return processor_message(refund)

    def get_decline_reason(self, refund) -> str:
        return reply_render(refund.decline_reason, refund=refund) if refund.decline_reason else ""

    # A refund just requested has neither (context `requested`): its `refund.created` event is
    # rendered without asking the database for what cannot exist yet.
    @extend_schema_field(ApprovalOutput(many=True))
    def get_approvals(self, refund) -> list[dict]:
        if self.context.get("requested"):
            return []
        approvals = [d for d in refund.decisions.all() if d.kind == "approve"]
        return ApprovalOutput(approvals, many=True).data

    @extend_schema_field(RefundLineOutput(many=True))
    def get_lines(self, refund) -> list[dict]:
        return refund_lines_output(refund)

    @extend_schema_field(LedgerEntryOutput(many=True))
    def get_ledger_entries(self, refund) -> list[dict]:
        if self.context.get("requested"):
            return []
        return LedgerEntryOutput(refund.ledger_entries.all(), many=True).data

    @extend_schema_field(StoreCreditOutput(allow_null=True))
    def get_store_credit(self, refund) -> dict | None:
        credit = None if self.context.get("requested") else refund_credit(refund)
        return None if credit is None else dict(StoreCreditOutput(credit).data)


@functools.cache
def _renderer(requested: bool) -> RefundOutput:
    """One `RefundOutput` per context, kept: a serializer copies its declared fields when it is built (a
    third of a document's cost), and rendering (`to_representation`) changes nothing of it, so one
    instance serves every refund, in every thread."""
    return RefundOutput(context={"requested": requested})


def refund_document(refund: Refund, *, requested: bool = False) -> dict[str, Any]:
    """The refund as `GET /v1/refunds/{id}` returns it now (plain JSON types, ready to store).

    `requested`: as it stood when it was requested, in the transaction that
    created it — no decision, no approval, no ledger entry yet, whatever the
    policy did next in the same transaction.
    """
    document = dict(_renderer(requested).to_representation(refund))
    if requested:
        document.update(state="requested", decided_at=None)
    return document


# What `RefundOutput` shows differently of a refund just requested (context `requested`): it has none yet.
_NOT_YET_REQUESTED = {
    "approvals": [],
    "ledger_entries": [],
    "store_credit": None,
    "state": "requested",
    "decided_at": None,
}


def requested_document(document: dict[str, Any]) -> dict[str, Any]:
    """`refund_document(refund, requested=True)`, from `refund_document(refund)` of the refund as it is now.

    One render for the two events of a refund the policy approved at its
    creation (events.receivers). Equal to rendering again, as long as nothing
    else differs with the context `requested` (tests/events compare the two).
    """
    return {**document, **_NOT_YET_REQUESTED}
