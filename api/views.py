"""The JSON API of SPEC §9: one view per operation; views translate, services decide."""

from __future__ import annotations

import time

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import APIView

from api import examples as ex
from api import serializers as s
from api.idempotency import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    idempotency_key_from,
    missing_key_response,
    request_fingerprint,
    run_idempotent,
)
from api.pagination import PAGE_PARAMETERS, page_body, page_request, unknown_cursor
from api.parsers import EvidenceMultiPartParser
from api.refund_read import refund_read
from api.rendering import rendered
from api.throttling import CreateThrottle, DecideThrottle
from core.actor import Actor
from core.correlation import get_correlation_id
from refunds.enums import RefundState, Scope
from refunds.metadata import metadata_clean
from refunds.metrics import REFUND_CREATE_LATENCY_MS
from refunds.models import Merchant, Refund
from refunds.selectors import (
    merchant_refunds,
    order_get,
    order_refunds,
    payment_get,
    payment_refunds,
    refund_cursor_id,
)
from refunds.services import orders as order_services
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve, refund_approve_with_reply, refund_deny
from refunds.services.evidence import evidence_body_max_bytes, evidence_validate, refund_evidence_add
from refunds.services.lines import LineRequest
from refunds.services.payout import payout_mark_paid
from refunds.services.request import OrderRef, refund_request
from refunds.services.submit import refund_submit

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "Unique per operation, scoped per API key, kept 24 h+: 1-255 visible ASCII characters, spaces only inside. "
        "Absent: 400 `ERR.VALIDATION.idempotency_key.missing`; present but breaking these rules: "
        "400 `ERR.VALIDATION.idempotency_key.invalid`."
    ),
)
CORRELATION_HEADER = OpenApiParameter(
    "X-Correlation-Id",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Echoed back and stored; a value outside `[A-Za-z0-9._:-]{1,64}` is replaced by a minted one.",
)

# The answers that are not successes, with the codes each can carry (docs/api.md "Errors"). Every one
# has the ErrorOutput body; the schema names the statuses per operation, and Schemathesis holds the
# server to them (tests/e2e/journeys/test_schemathesis.py).
_ERRORS = {
    400: "Invalid request: `ERR.VALIDATION.*` (`details.fields` says which), or a business refusal "
    "`ERR.BUSINESS.refund.exceeds_remaining`, `ERR.VALIDATION.currency.mismatch`, `ERR.VALIDATION.note.required`.",
    401: "`ERR.AUTHN.required`: missing, unknown or revoked API key.",
    402: "`ERR.BUSINESS.refund.not_captured`.",
    403: "`ERR.AUTHZ.scope`, `ERR.AUTHZ.role`, `ERR.AUTHZ.maker_checker` or `ERR.AUTHZ.dual_control`.",
    404: "`ERR.NOT_FOUND`: no such object for this key's merchant.",
    409: "`ERR.CONFLICT.*`: idempotency key reuse, state, order rewrite, or the refund changed.",
    413: "`ERR.VALIDATION.body.too_large`: the body is over the server's limit (`details.max_bytes`).",
    422: "`ERR.BUSINESS.refund.charged_back` or `ERR.BUSINESS.refund.voided`; creating a refund also "
    "`ERR.BUSINESS.refund.nothing_unused` or `ERR.BUSINESS.refund.instrument_not_allowed`.",
    429: "`ERR.RATE_LIMITED`; `Retry-After` says when to retry.",
    500: "`ERR.INTERNAL`: a fault of ours; nothing of the request was committed.",
    503: "`ERR.UNAVAILABLE`: a dependency (the database) is down; `Retry-After` says when to retry.",
}
# What any call can answer: no or a bad key, no scope, a fault, an outage.
_ANY_CALL = (401, 403, 500, 503)
# What any call with a JSON body can answer besides: malformed, too large.
_WITH_BODY = (*_ANY_CALL, 400, 413)


def errors(*statuses: int, examples: dict[int, list[OpenApiExample]] | None = None) -> dict[int, OpenApiResponse]:
    """The error answers of an operation, each with an example: the operation's own, else the status's usual one."""
    examples = examples or {}
    return {
        status: OpenApiResponse(
            s.ErrorOutput, description=_ERRORS[status], examples=examples.get(status, [ex.ERROR_EXAMPLES[status]])
        )
        for status in sorted(statuses)
    }


DECISION_REQUEST = PolymorphicProxySerializer(
    component_name="DecisionInput",
    serializers={"approve": s.ApproveInput, "deny": s.DenyInput},
    resource_type_field_name="decision",
)


def _actor(request) -> Actor:
    return Actor.for_api_key(request.auth)


def _merchant(request) -> Merchant:
    """Every lookup is scoped by the key's merchant: another merchant's objects answer 404 (docs/api.md)."""
    return request.auth.merchant


def _refund_detail(refund: Refund) -> dict:
    return rendered(s.RefundOutput, refund)


class OrderUpsertView(APIView):
    required_scope = Scope.ORDERS_WRITE

    @extend_schema(
        request=s.OrderInput,
        responses={
            200: s.OrderOutput,
            201: s.OrderOutput,
            **errors(*_WITH_BODY, 409, examples={409: [ex.ORDER_CONFLICT]}),
        },
        examples=[ex.ORDER_REQUEST, ex.ORDER_BOOKING_REQUEST, ex.ORDER_CREATED, ex.ORDER_UPDATED],
        tags=["orders"],
    )
    def post(self, request):
        """Create or update an order with its lines and payment (captures, voids, chargebacks)."""
        data = s.OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order, created = order_services.order_upsert(
            data=order_services.OrderInput(
                order_id=v["order_id"],
                currency=v["currency"],
                customer_id=v["customer"]["id"],
                customer_email=v["customer"]["email"],
                customer_name=v["customer"]["name"],
                customer_locale=v["customer"]["locale"],
                placed_at=v["placed_at"],
                service_starts_at=v["service_starts_at"],
                service_ends_at=v["service_ends_at"],
                lines=[order_services.LineInput(**line) for line in v["lines"]],
                payment=order_services.PaymentInput(**v["payment"]),
            ),
            merchant=_merchant(request),
            actor=_actor(request),
        )
        body = s.OrderOutput(order, context={"created": created}).data
        return Response(body, status=201 if created else 200)


class OrderRefundsView(APIView):
    throttle_classes = [CreateThrottle]
    # A create's Idempotency-Key record is looked up with the API key: no statement of its own.
    idempotent_writes = True

    @property
    def required_scope(self) -> str:
        # One URL, two operations: reading needs refunds:read, creating refunds:create.
        return Scope.REFUNDS_READ if self.request.method == "GET" else Scope.REFUNDS_CREATE

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        responses={200: s.OrderRefundsOutput, **errors(*_ANY_CALL, 404)}, examples=[ex.ORDER_REFUNDS], tags=["refunds"]
    )
    def get(self, request, order_id: str):
        """List an order's refunds with the amount still refundable."""
        order = order_get(order_id=order_id, merchant=_merchant(request))
        return Response(s.OrderRefundsOutput(order, context={"refunds": order_refunds(order=order)}).data)

    @extend_schema(
        request=s.RefundCreateInput,
        responses={
            202: s.RefundCreateOutput,
            **errors(
                *_WITH_BODY,
                402,
                404,
                409,
                422,
                429,
                examples={
                    400: [ex.EXCEEDS_REMAINING, ex.LINE_EXCEEDS_REMAINING, ex.AMOUNT_RANGE, ex.ERROR_EXAMPLES[400]],
                    409: [ex.IDEMPOTENCY_CONFLICT],
                    422: [ex.ERROR_EXAMPLES[422], ex.NOTHING_UNUSED],
                },
            ),
        },
        examples=[
            ex.REFUND_CREATE_REQUEST,
            ex.REFUND_CREATE_GOODWILL_REQUEST,
            ex.REFUND_CREATE_LINES_REQUEST,
            ex.REFUND_CREATE_PRORATE_REQUEST,
            ex.REFUND_CREATED_AUTO,
            ex.REFUND_CREATED_BY_LINE,
            ex.REFUND_CREATED_REVIEW,
        ],
        parameters=[IDEMPOTENCY_HEADER, CORRELATION_HEADER],
        tags=["refunds"],
    )
    def post(self, request, order_id: str):
        """Request a refund. Decided by policy at once: auto-approved or queued for review."""
        started = time.perf_counter()
        key = idempotency_key_from(request)
        if key is None:
            return missing_key_response()
        data = s.RefundCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # The keys' rules (the schema cannot state them): malformed input, refused before any record.
        metadata = metadata_clean(v["metadata"])

        def create() -> tuple[int, dict]:
            # The order is found with its payment's lock, in one statement (refunds.services.request_lock).
            refund = refund_request(
                order=OrderRef(merchant_id=_merchant(request).pk, order_id=order_id),
                amount_minor=v.get("amount_minor"),
                lines=[LineRequest(line["sku"], line["quantity"]) for line in v["lines"]] if "lines" in v else None,
                prorate=v["prorate"],
                instrument=v["instrument"],
                currency=v["currency"],
                reason=v["reason"],
                customer_note=v["note"],
                evidence=v["evidence"],
                metadata=metadata,
                actor=_actor(request),
                correlation_id=get_correlation_id(),
            )
            return 202, rendered(s.RefundCreateOutput, refund)

        response = run_idempotent(
            api_key=request.auth,
            key=key,
            fingerprint=request_fingerprint("POST", request.path, request.data),
            operation=create,
            # The answer (RefundCreateOutput) is the refund in memory: no id the writes give back.
            render_first=True,
        )
        REFUND_CREATE_LATENCY_MS.observe((time.perf_counter() - started) * 1000)
        return response


class RefundDetailView(APIView):
    required_scope = Scope.REFUNDS_READ

    @extend_schema(responses={200: s.RefundOutput, **errors(*_ANY_CALL, 404)}, examples=[ex.REFUND], tags=["refunds"])
    def get(self, request, refund_id: str):
        """A refund with its policy outcome, approvals, ledger entries and status page link."""
        return Response(_refund_detail(refund_read(public_id=refund_id, merchant=_merchant(request))))


class RefundDecisionView(APIView):
    required_scope = Scope.REFUNDS_DECIDE
    throttle_classes = [DecideThrottle]

    @extend_schema(
        request=DECISION_REQUEST,
        responses={
            200: s.RefundOutput,
            **errors(
                *_WITH_BODY,
                404,
                409,
                422,
                429,
                examples={
                    400: [ex.NOTE_REQUIRED, ex.ERROR_EXAMPLES[400]],
                    403: [ex.MAKER_CHECKER, ex.ERROR_EXAMPLES[403]],
                    409: [ex.CHANGED, ex.STATE_CONFLICT],
                },
            ),
        },
        examples=[ex.DECISION_APPROVE_REQUEST, ex.DECISION_DENY_REQUEST, ex.DECIDED, ex.DENIED],
        tags=["refunds"],
    )
    def post(self, request, refund_id: str):
        """Approve or deny a refund under review. Maker-checker and dual control apply.

        With `amount_minor` and/or `version`, the decision is about the refund
        the caller saw: if it changed since, 409 ERR.CONFLICT.changed.
        """
        data = s.DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        refund = refund_read(public_id=refund_id, merchant=_merchant(request))
        if v["decision"] == "deny":
            refund_deny(
                refund_id=refund.pk,
                actor=_actor(request),
                note=v["note"],
                rationale=v["rationale"],
                expected_version=v.get("version"),
                expected_amount_minor=v.get("amount_minor"),
            )
        elif "reply" in v:
            refund_approve_with_reply(
                refund_id=refund.pk,
                actor=_actor(request),
                reply=v["reply"],
                note=v["note"],
                expected_version=v.get("version"),
                expected_amount_minor=v.get("amount_minor"),
            )
        else:
            refund_approve(
                refund_id=refund.pk,
                actor=_actor(request),
                note=v["note"],
                expected_version=v.get("version"),
                expected_amount_minor=v.get("amount_minor"),
            )
        return Response(_refund_detail(refund_read(public_id=refund_id, merchant=_merchant(request))))


class RefundCancelView(APIView):
    required_scope = Scope.REFUNDS_CREATE

    @extend_schema(
        request=s.CancelInput,
        responses={200: s.RefundOutput, **errors(*_WITH_BODY, 404, 409)},
        examples=[ex.CANCEL_REQUEST, ex.CANCELED],
        tags=["refunds"],
    )
    def post(self, request, refund_id: str):
        """Cancel a refund that has not been sent to the provider."""
        data = s.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refund_read(public_id=refund_id, merchant=_merchant(request))
        refund_cancel(refund_id=refund.pk, actor=_actor(request), note=data.validated_data["note"])
        return Response(_refund_detail(refund_read(public_id=refund_id, merchant=_merchant(request))))


class RefundSubmitView(APIView):
    required_scope = Scope.REFUNDS_SUBMIT

    @extend_schema(
        request=None,
        responses={
            200: s.RefundOutput,
            **errors(*_ANY_CALL, 404, 409, 422, examples={409: [ex.SUBMIT_STATE_CONFLICT]}),
        },
        examples=[ex.SUBMITTED],
        tags=["refunds"],
    )
    def post(self, request, refund_id: str):
        """Send an approved refund to the provider now, or retry a retryable failure."""
        refund = refund_read(public_id=refund_id, merchant=_merchant(request))
        refund_submit(refund_id=refund.pk, actor=_actor(request))
        return Response(_refund_detail(refund_read(public_id=refund_id, merchant=_merchant(request))))


class RefundPayoutView(APIView):
    required_scope = Scope.REFUNDS_PAYOUT

    @extend_schema(
        request=s.PayoutInput,
        responses={200: s.RefundOutput, **errors(*_WITH_BODY, 404, 409)},
        examples=[ex.PAYOUT_REQUEST, ex.PAID_OUT],
        tags=["refunds"],
    )
    def post(self, request, refund_id: str):
        """Mark a manual payout paid (a payment whose provider settles by hand); completes the refund."""
        data = s.PayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = refund_read(public_id=refund_id, merchant=_merchant(request))
        payout_mark_paid(refund_id=refund.pk, actor=_actor(request), reference=data.validated_data["reference"])
        return Response(_refund_detail(refund_read(public_id=refund_id, merchant=_merchant(request))))


class RefundListView(APIView):
    required_scope = Scope.REFUNDS_READ

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                {"type": "string", "enum": list(RefundState.values)},
                OpenApiParameter.QUERY,
                description="Only refunds in this state.",
            ),
            OpenApiParameter(
                "order_id",
                {"type": "string", "minLength": 1, "maxLength": 100},
                OpenApiParameter.QUERY,
                description="Only the refunds of your order with this id.",
            ),
            OpenApiParameter(
                "created_gte",
                {"type": "string", "format": "date-time"},
                OpenApiParameter.QUERY,
                description="Only refunds created at or after this time: ISO 8601 with its offset "
                "(`2026-12-01T00:00:00Z`); a time without one is refused (400).",
            ),
            OpenApiParameter(
                "created_lt",
                {"type": "string", "format": "date-time"},
                OpenApiParameter.QUERY,
                description="Only refunds created before this time (ISO 8601 with its offset); "
                "must be later than `created_gte` (else 400).",
            ),
            *PAGE_PARAMETERS,
        ],
        operation_id="refunds_list",
        responses={200: s.RefundListOutput, **errors(*_ANY_CALL, 400, examples={400: [ex.REFUND_UNKNOWN_CURSOR]})},
        examples=[ex.REFUND_LIST],
        tags=["refunds"],
    )
    def get(self, request):
        """Your refunds, newest first, a page at a time (`after` = the `next_after` of the page before)."""
        query = s.RefundListQuery(
            data={key: request.query_params[key] for key in s.RefundListQuery().fields if key in request.query_params}
        )
        query.is_valid(raise_exception=True)
        page = page_request(request.query_params)
        merchant = _merchant(request)
        before_id = None
        if page.after is not None:
            before_id = refund_cursor_id(public_id=page.after, merchant=merchant)
            if before_id is None:
                raise unknown_cursor(page.after)
        refunds = merchant_refunds(merchant=merchant, before_id=before_id, **query.validated_data)
        return Response(
            page_body(
                refunds[: page.limit + 1],
                limit=page.limit,
                render=_refund_detail,
                cursor=lambda refund: refund.public_id,
            )
        )


class PaymentRefundsView(APIView):
    required_scope = Scope.REFUNDS_READ

    @extend_schema(
        operation_id="payment_refunds_list",
        responses={200: s.PaymentRefundsOutput, **errors(*_ANY_CALL, 404)},
        examples=[ex.PAYMENT_REFUNDS],
        tags=["refunds"],
    )
    def get(self, request, provider_payment_id: str):
        """Every refund of one of your payments (by the provider's payment id), with what is left to refund."""
        payment = payment_get(provider_payment_id=provider_payment_id, merchant=_merchant(request))
        return Response(s.PaymentRefundsOutput(payment, context={"refunds": payment_refunds(payment=payment)}).data)


class RefundEvidenceView(APIView):
    required_scope = Scope.REFUNDS_CREATE
    parser_classes = [EvidenceMultiPartParser]
    idempotent_writes = True

    @staticmethod
    def max_body_bytes() -> int:
        """Uploads are larger than JSON bodies (core.middleware.RequestBodyLimitMiddleware asks this)."""
        return evidence_body_max_bytes()

    @extend_schema(
        request={"multipart/form-data": s.EvidenceUploadInput},
        responses={
            201: s.RefundOutput,
            **errors(
                *_WITH_BODY,
                404,
                409,
                examples={400: [ex.EVIDENCE_REFUSED, ex.ERROR_EXAMPLES[400]], 409: [ex.IDEMPOTENCY_CONFLICT]},
            ),
        },
        examples=[ex.EVIDENCE_UPLOAD_REQUEST, ex.EVIDENCE_ADDED],
        parameters=[IDEMPOTENCY_HEADER, CORRELATION_HEADER],
        tags=["refunds"],
    )
    def post(self, request, refund_id: str):
        """Attach evidence files (JPEG, PNG, PDF) to a refund, in any state; answers the refund with them cited."""
        key = idempotency_key_from(request)
        if key is None:
            return missing_key_response()
        if request.content_type.split(";")[0].strip().lower() != EvidenceMultiPartParser.media_type:
            raise UnsupportedMediaType(request.content_type)  # 400 saying what to send, as for any body
        merchant = _merchant(request)
        # Another merchant's refund is not found before a byte of the upload is read or stored.
        refund = refund_read(public_id=refund_id, merchant=merchant)
        data = s.EvidenceUploadInput(data={"file": request.FILES.getlist("file")})
        data.is_valid(raise_exception=True)
        # Type, size and count of this upload: a refusal here is malformed input, not stored for the key.
        uploads = evidence_validate(files=data.validated_data["file"])
        # The files' bytes are the body: a retry with the same key and the same files replays, other files conflict.
        fingerprint = request_fingerprint(
            "POST", request.path, [{"name": u.name, "sha256": u.sha256, "bytes": len(u.data)} for u in uploads]
        )

        def attach() -> tuple[int, dict]:
            refund_evidence_add(refund_id=refund.pk, uploads=uploads, actor=_actor(request))
            return 201, _refund_detail(refund_read(public_id=refund_id, merchant=merchant))

        # Claimed first: the files are written to storage, outside the transaction, so a concurrent
        # request with the key must wait before writing any (instead of rolling back and leaving them).
        return run_idempotent(
            api_key=request.auth, key=key, fingerprint=fingerprint, operation=attach, claim_first=True
        )
