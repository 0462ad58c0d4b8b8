"""Store credit at the merchant's checkout (issue 15, docs/api.md "Store credit"): look a code up, spend it.

Every lookup is scoped to the key's merchant: another merchant's code answers
exactly like one that does not exist (404), and each such miss counts against
the key's miss limit (api.throttling.CreditMissThrottle), so codes cannot be
enumerated. Scopes: `credits:read` to look up, `credits:redeem` to spend.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api import examples as ex
from api import serializers_credits as s
from api.idempotency import idempotency_key_from, missing_key_response, request_fingerprint, run_idempotent
from api.throttling import CreditMissThrottle, CreditThrottle, credit_miss_count
from api.views import _ANY_CALL, _WITH_BODY, CORRELATION_HEADER, IDEMPOTENCY_HEADER, errors
from core.actor import Actor
from core.errors import ERR_NOT_FOUND, DomainError
from credits.models import StoreCredit
from credits.selectors import credit_find
from credits.services.redeem import credit_redeem
from refunds.enums import Scope

CODE_PARAMETER = OpenApiParameter(
    "code",
    {"type": "string", "minLength": 1, "maxLength": 40},
    OpenApiParameter.PATH,
    description="The code the customer gives, `SC-XXXX-XXXX-XXXX`; any case, dashes and spaces optional.",
)


def _credit_body(credit: StoreCredit) -> dict[str, Any]:
    return dict(s.CreditOutput(credit).data)


class CreditDetailView(APIView):
    required_scope = Scope.CREDITS_READ
    throttle_classes = [CreditThrottle, CreditMissThrottle]

    @extend_schema(
        parameters=[CODE_PARAMETER],
        responses={200: s.CreditOutput, **errors(*_ANY_CALL, 404, 429)},
        examples=[ex.CREDIT],
        operation_id="credits_retrieve",
        tags=["credits"],
    )
    def get(self, request, code: str):
        """A store credit of yours: what it is worth now, until when, and what was spent of it."""
        queryset = StoreCredit.objects.select_related("refund").prefetch_related("redemptions")
        credit = credit_find(code=code, merchant_id=request.auth.merchant_id, queryset=queryset)
        if credit is None:
            credit_miss_count(request.auth.pk)
            raise DomainError(ERR_NOT_FOUND)
        return Response(_credit_body(credit))


class CreditRedeemView(APIView):
    required_scope = Scope.CREDITS_REDEEM
    throttle_classes = [CreditThrottle, CreditMissThrottle]
    # The key's record is looked up with the API key (api.idempotency.lookup_key).
    idempotent_writes = True

    @extend_schema(
        parameters=[CODE_PARAMETER, IDEMPOTENCY_HEADER, CORRELATION_HEADER],
        request=s.RedeemInput,
        responses={
            201: s.RedeemOutput,
            **errors(
                *_WITH_BODY,
                404,
                409,
                422,
                429,
                examples={409: [ex.IDEMPOTENCY_CONFLICT], 422: [ex.CREDIT_INSUFFICIENT, ex.CREDIT_EXPIRED]},
            ),
        },
        examples=[ex.CREDIT_REDEEM_REQUEST, ex.CREDIT_REDEEMED],
        operation_id="credits_redeem",
        tags=["credits"],
    )
    def post(self, request, code: str):
        """Spend part or all of a store credit at your checkout. Never more than its balance; once per key.

        A retry with the same Idempotency-Key answers what the first call did
        (the same redemption, spent once), also from another of your keys.
        """
        key = idempotency_key_from(request)
        if key is None:
            return missing_key_response()
        data = s.RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data

        def redeem() -> tuple[int, dict]:
            result = credit_redeem(
                code=code,
                merchant_id=request.auth.merchant_id,
                amount_minor=v["amount_minor"],
                currency=v["currency"],
                reference=v["reference"],
                idempotency_key=key,
                actor=Actor.for_api_key(request.auth),
            )
            redemption = result.redemption
            redemption.credit = (
                StoreCredit.objects.select_related("refund").prefetch_related("redemptions").get(pk=result.credit.pk)
            )
            return 201, dict(s.RedeemOutput(redemption).data)

        response = run_idempotent(
            api_key=request.auth,
            key=key,
            fingerprint=request_fingerprint("POST", request.path, request.data),
            operation=redeem,
        )
        if response.status_code == 404:
            credit_miss_count(request.auth.pk)
        return response
