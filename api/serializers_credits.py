"""Bodies of the store credit operations (issue 15, docs/api.md "Store credit")."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers import CurrencyField, MinorUnitsField, StrictCharField
from events.documents import StoreCreditOutput


class RedemptionOutput(serializers.Serializer):
    redemption_id = serializers.CharField(source="public_id")
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    reference = serializers.CharField()
    balance_after_minor = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CreditOutput(StoreCreditOutput):
    refund_id = serializers.CharField(source="refund.public_id")
    created_at = serializers.DateTimeField()
    redemptions = RedemptionOutput(many=True)


class RedeemInput(serializers.Serializer):
    amount_minor = MinorUnitsField(min_value=1)
    currency = CurrencyField()
    reference = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class RedeemOutput(RedemptionOutput):
    credit = CreditOutput()
