"""Examples of every request and answer of the API, shown by the schema (/v1/schema) and its docs (/v1/docs).

One story runs through them: order `ORD-1001` (50.00 USD, captured) and its
refunds. The values are what the server answers (taken from real answers);
tests/api/test_schema_examples.py holds every request example to the input
serializer, every success to the output serializer's fields and every error
to core.errors.CATALOG, so an example cannot drift from the API.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

from core.errors import (
    CATALOG,
    ERR_AMOUNT_RANGE,
    ERR_AUTHN_REQUIRED,
    ERR_AUTHZ_MAKER_CHECKER,
    ERR_AUTHZ_SCOPE,
    ERR_BODY_TOO_LARGE,
    ERR_CHARGED_BACK,
    ERR_CONFLICT_CHANGED,
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_CONFLICT_ORDER,
    ERR_CONFLICT_STATE,
    ERR_CREDIT_EXPIRED,
    ERR_CREDIT_INSUFFICIENT,
    ERR_DECLINE_REASON_REQUIRED,
    ERR_EXCEEDS_REMAINING,
    ERR_INTERNAL,
    ERR_NOT_CAPTURED,
    ERR_NOT_FOUND,
    ERR_NOTHING_UNUSED,
    ERR_RATE_LIMITED,
    ERR_UNAVAILABLE,
    ERR_VALIDATION,
)
from notifications.messages import MSG_REQUEST_ACCEPTED

ORDER_ID = "ORD-1001"
REFUND_ID = "rf_n8gg6x781ukgpzkfg1i7lhm9"
STATUS_URL = "https://refunds.example.com/r/Q6nqqi0GoVLNpizYQTVLsGzT4ihyogPi5mVNJkOnlaA/"
CORRELATION_ID = "5a2c3aaa55ee4e96a18464132511da3a"


def _request(name: str, value: dict[str, Any], description: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, description=description, request_only=True)


def _answer(name: str, status: int, value: dict[str, Any], description: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, description=description, response_only=True, status_codes=[str(status)])


def error_value(code: str, message: str | None = None, **details: Any) -> dict[str, Any]:
    """The error body `core.errors.error_body` answers for `code` (a fixed correlation id)."""
    _, message_id, default = CATALOG[code]
    body: dict[str, Any] = {
        "code": code,
        "message_id": message_id,
        "message": str(message or default),
        "correlation_id": CORRELATION_ID,
    }
    if details:
        body["details"] = details
    return body


def error_example(name: str, code: str, message: str | None = None, **details: Any) -> OpenApiExample:
    return _answer(name, CATALOG[code][0], error_value(code, message, **details))


# --- orders ------------------------------------------------------------------

ORDER_REQUEST = _request(
    "A captured card payment",
    {
        "order_id": ORDER_ID,
        "currency": "USD",
        "customer": {"id": "cus-42", "email": "ada@example.com", "name": "Ada Lovelace", "locale": "en"},
        "placed_at": "2026-11-28T10:15:00Z",
        "lines": [
            {
                "sku": "KTL-200",
                "description": "Kettle",
                "unit_amount_minor": 4500,
                "quantity": 1,
                "tax_minor": 500,
                "discount_minor": 0,
            }
        ],
        "payment": {
            "provider_payment_id": "pi_3QxA1001",
            "provider": "stripe",
            "rail": "card",
            "amount_minor": 5000,
            "status": "captured",
            "captured_at": "2026-11-28T10:16:00Z",
        },
    },
    "Push the order when the payment is captured; push it again to report a void or a chargeback.",
)
ORDER_BOOKING_REQUEST = _request(
    "A booking, capture pending",
    {
        "order_id": "BKG-2207",
        "currency": "EUR",
        "customer": {"id": "cus-77", "email": "jonas@example.com", "name": "Jonas Weber", "locale": "de"},
        "service_starts_at": "2027-01-15T18:00:00Z",
        "lines": [{"description": "Two nights, double room", "unit_amount_minor": 12000, "quantity": 2}],
        "payment": {
            "provider_payment_id": "pi_3QxB2207",
            "rail": "card",
            "amount_minor": 24000,
            "status": "capture_pending",
        },
    },
    "`service_starts_at` makes it a booking: the cancellation fee schedule applies to customer cancellations.",
)
_ORDER = {
    "order_id": ORDER_ID,
    "currency": "USD",
    "payment_status": "captured",
    "captured_amount_minor": 5000,
    "remaining_refundable_minor": 5000,
}
ORDER_CREATED = _answer("Created", 201, {**_ORDER, "created": True})
ORDER_UPDATED = _answer(
    "Updated",
    200,
    {**_ORDER, "created": False, "remaining_refundable_minor": 2500},
    "The same order pushed again: nothing that was captured changed.",
)
ORDER_CONFLICT = error_example(
    "A captured amount rewritten",
    ERR_CONFLICT_ORDER,
    "The payment was captured: its payment.amount_minor cannot change.",
    field="payment.amount_minor",
)

# --- refunds -----------------------------------------------------------------

REFUND_CREATE_REQUEST = _request(
    "Parcel not received",
    {
        "amount_minor": 2500,
        "currency": "USD",
        "reason": "not_received",
        "note": "The parcel never arrived.",
        "evidence": [{"type": "photo", "uri": "https://files.example.com/ord-1001/tracking.png"}],
        "metadata": {"ticket_id": "ZD-4410", "warehouse": "BER-2"},
    },
    "`metadata` is yours: at most 50 keys, string values; returned on every read and in events.",
)
REFUND_CREATE_GOODWILL_REQUEST = _request(
    "Goodwill", {"amount_minor": 1500, "currency": "USD", "reason": "goodwill", "note": "Late delivery."}
)
REFUND_CREATE_LINES_REQUEST = _request(
    "By line",
    {"lines": [{"sku": "KTL-200", "quantity": 1}], "currency": "USD", "reason": "quality"},
    "Instead of an amount: units of the order's lines, worth their share of each line's gross with its tax.",
)
REFUND_CREATE_PRORATE_REQUEST = _request(
    "Time not used",
    {"prorate": True, "currency": "EUR", "reason": "other", "note": "Moving abroad."},
    "A service's unused days after the cancellation fee tier, as the policy computes them.",
)
_CREATED = {
    "refund_id": REFUND_ID,
    "amount_minor": 2500,
    "currency": "USD",
    "remaining_refundable_minor": 2500,
    "message_id": MSG_REQUEST_ACCEPTED,
    "status_url": STATUS_URL,
    "instrument": "original_payment",
    "lines": [],
    "proration": None,
}
REFUND_CREATED_AUTO = _answer(
    "Approved by policy",
    202,
    {**_CREATED, "state": "approved", "policy_outcome": "auto_approve", "policy_rule": "R-AUTO-NOT_RECEIVED"},
    "Within the reason's ceiling and window: approved at once, sent to the provider after the answer.",
)
REFUND_CREATED_BY_LINE = _answer(
    "Approved by policy, by line",
    202,
    {
        **_CREATED,
        "state": "approved",
        "policy_outcome": "auto_approve",
        "policy_rule": "R-AUTO-QUALITY",
        "lines": [{"sku": "KTL-200", "description": "Kettle", "quantity": 1, "amount_minor": 2500, "tax_minor": 250}],
    },
)
REFUND_CREATED_REVIEW = _answer(
    "Queued for review",
    202,
    {
        **_CREATED,
        "refund_id": "rf_ihzrh3g6nmr6l3sdtrhiljve",
        "amount_minor": 1500,
        "remaining_refundable_minor": 1000,
        "state": "requested",
        "policy_outcome": "review",
        "policy_rule": "R-GOODWILL-REVIEW",
        "status_url": "https://refunds.example.com/r/WEALMcSo-dKrWAiEKU0feLq6GSifXIX-CEYluZOiGNk/",
    },
    "An agent decides it (`POST /v1/refunds/{refund_id}/decision`).",
)
EXCEEDS_REMAINING = error_example("More than is left", ERR_EXCEEDS_REMAINING, remaining_refundable_minor=2500)
LINE_EXCEEDS_REMAINING = error_example(
    "More units than are left",
    ERR_EXCEEDS_REMAINING,
    "Only 1 of sku 'KTL-200' can still be refunded.",
    field="lines[0].quantity",
    sku="KTL-200",
    quantity_left=1,
)
NOTHING_UNUSED = error_example(
    "No time left unused",
    ERR_NOTHING_UNUSED,
    "€300.00 × 0/30 days unused = €0.00",
    total_days=30,
    unused_days=0,
    fee_percent=100,
)
IDEMPOTENCY_CONFLICT = error_example("Key reused with another body", ERR_CONFLICT_IDEMPOTENCY)
CHARGED_BACK = error_example("Payment charged back", ERR_CHARGED_BACK)

_REFUND = {
    "refund_id": REFUND_ID,
    "order_id": ORDER_ID,
    "state": "approved",
    "amount_minor": 2500,
    "currency": "USD",
    "reason": "not_received",
    "instrument": "original_payment",
    "version": 2,
    "note": "The parcel never arrived.",
    "evidence": [{"type": "photo", "uri": "https://files.example.com/ord-1001/tracking.png"}],
    "metadata": {"ticket_id": "ZD-4410", "warehouse": "BER-2"},
    "policy": {
        "outcome": "auto_approve",
        "rule": "R-AUTO-NOT_RECEIVED",
        "rule_text": "'not_received' refunds up to 500.00 USD within 60 days of capture are approved automatically",
        "version": 1,
        "recommendation": "approve",
    },
    "approvals_required": 1,
    "approvals": [{"by": "system", "at": "2026-12-02T09:42:14.419993Z", "senior": False}],
    "decline_reason": "",
    "override_flagged": False,
    "provider_payment_id": "pi_3QxA1001",
    "provider_refund_id": None,
    "failure_code": "",
    "failure_retryable": False,
    "processor_message": None,
    "lines": [],
    "proration": None,
    "ledger_entries": [
        {"type": "REFUND_PENDING", "amount_minor": 2500, "currency": "USD", "created_at": "2026-12-02T09:42:14.414543Z"}
    ],
    "store_credit": None,
    "status_url": STATUS_URL,
    "correlation_id": CORRELATION_ID,
    "created_at": "2026-12-02T09:42:14.409472Z",
    "updated_at": "2026-12-02T09:42:14.409480Z",
    "decided_at": "2026-12-02T09:42:14.407361Z",
    "submitted_at": None,
    "completed_at": None,
}
REFUND = _answer("Approved", 200, _REFUND)
_REVIEWED = {
    **_REFUND,
    "refund_id": "rf_ihzrh3g6nmr6l3sdtrhiljve",
    "amount_minor": 1500,
    "reason": "goodwill",
    "note": "Late delivery.",
    "evidence": [],
    "metadata": {},
    "policy": {
        "outcome": "review",
        "rule": "R-GOODWILL-REVIEW",
        "rule_text": "goodwill refunds are always reviewed by an agent",
        "version": 1,
        "recommendation": "approve",
    },
    "approvals": [{"by": "Sam Senior", "at": "2026-12-02T09:50:03.533214Z", "senior": True}],
    "ledger_entries": [
        {"type": "REFUND_PENDING", "amount_minor": 1500, "currency": "USD", "created_at": "2026-12-02T09:50:03.539335Z"}
    ],
    "status_url": "https://refunds.example.com/r/WEALMcSo-dKrWAiEKU0feLq6GSifXIX-CEYluZOiGNk/",
    "correlation_id": "2dc2c0bf39d4431a863b980fd364dc78",
    "created_at": "2026-12-02T09:45:10.441334Z",
    "updated_at": "2026-12-02T09:50:03.534433Z",
    "decided_at": "2026-12-02T09:50:03.534133Z",
}
ORDER_REFUNDS = _answer(
    "Two refunds",
    200,
    {
        "order_id": ORDER_ID,
        "currency": "USD",
        "captured_amount_minor": 5000,
        "remaining_refundable_minor": 1000,
        "refunds": [_REFUND, _REVIEWED],
    },
)

DECISION_APPROVE_REQUEST = _request(
    "Approve what you saw",
    {"decision": "approve", "note": "Goodwill for the late delivery.", "amount_minor": 1500, "version": 1},
    "With `amount_minor` and `version` the approval is of the refund as you read it: "
    "if it changed since, 409 `ERR.CONFLICT.changed` and nothing moves.",
)
DECISION_DENY_REQUEST = _request(
    "Deny with a reason",
    {"decision": "deny", "note": "The order was delivered and signed for on 29 November."},
    "The note is the reason the customer reads; required.",
)
DECIDED = _answer("Approved by a senior", 200, {**_REVIEWED, "version": 2})
DENIED = _answer(
    "Denied",
    200,
    {
        **_REVIEWED,
        "state": "denied",
        "version": 2,
        "approvals": [],
        "decline_reason": "The order was delivered and signed for on 29 November.",
        "ledger_entries": [],
    },
)
CHANGED = error_example(
    "The refund changed meanwhile",
    ERR_CONFLICT_CHANGED,
    amount_minor=1200,
    version=3,
)
MAKER_CHECKER = error_example("Approving your own request", ERR_AUTHZ_MAKER_CHECKER)
NOTE_REQUIRED = error_example("A deny without a reason", ERR_DECLINE_REASON_REQUIRED)

CANCEL_REQUEST = _request("Customer withdrew", {"note": "The customer found the parcel."})
CANCELED = _answer(
    "Canceled",
    200,
    {
        **_REFUND,
        "state": "canceled",
        "version": 3,
        "ledger_entries": [
            *_REFUND["ledger_entries"],
            {
                "type": "REFUND_REVERSED",
                "amount_minor": 2500,
                "currency": "USD",
                "created_at": "2026-12-02T10:02:41.593832Z",
            },
        ],
        "updated_at": "2026-12-02T10:02:41.588869Z",
    },
)
STATE_CONFLICT = error_example(
    "Already sent to the provider",
    ERR_CONFLICT_STATE,
    "A refund in state 'submitting' cannot move to 'canceled'.",
    state="submitting",
    target="canceled",
)

SUBMITTED = _answer(
    "Sent to the provider",
    200,
    {**_REFUND, "state": "submitting", "version": 3, "submitted_at": "2026-12-02T09:42:15.102311Z"},
)
SUBMIT_STATE_CONFLICT = error_example(
    "Canceled already",
    ERR_CONFLICT_STATE,
    "A refund in state 'canceled' cannot move to 'submitting'.",
    state="canceled",
    target="submitting",
)

PAYOUT_REQUEST = _request("Bank transfer made", {"reference": "BANK-TRF-88412"})
PAID_OUT = _answer(
    "Paid out by hand",
    200,
    {
        **_REFUND,
        "state": "completed",
        "version": 4,
        "provider_refund_id": f"manual_{REFUND_ID}",
        "processor_message": "The refund was paid out by hand.",
        "ledger_entries": [
            *_REFUND["ledger_entries"],
            {
                "type": "REFUND_SETTLED",
                "amount_minor": 2500,
                "currency": "USD",
                "created_at": "2026-12-03T08:12:09.000412Z",
            },
        ],
        "submitted_at": "2026-12-02T09:42:15.102311Z",
        "completed_at": "2026-12-03T08:12:09.000412Z",
        "updated_at": "2026-12-03T08:12:09.000412Z",
    },
)

# --- what any operation may answer (api.views.errors) ------------------------

# One example per error status, the code it most often carries; operations add their own.
ERROR_EXAMPLES: dict[int, OpenApiExample] = {
    400: error_example(
        "Invalid field",
        ERR_VALIDATION,
        fields={"reason": ['"nope" is not a valid choice.']},
    ),
    401: error_example("No or unknown API key", ERR_AUTHN_REQUIRED, "Unknown or revoked API key."),
    402: error_example("Payment not captured", ERR_NOT_CAPTURED),
    403: error_example("Scope missing", ERR_AUTHZ_SCOPE, "This API key lacks the 'refunds:create' scope."),
    404: error_example("Not found", ERR_NOT_FOUND),
    409: STATE_CONFLICT,
    413: error_example("Body too large", ERR_BODY_TOO_LARGE, max_bytes=2621440),
    422: CHARGED_BACK,
    429: error_example("Rate limited", ERR_RATE_LIMITED),
    500: error_example("Fault of ours", ERR_INTERNAL),
    503: error_example("Database down", ERR_UNAVAILABLE),
}
AMOUNT_RANGE = error_example(
    "Amount not a positive integer", ERR_AMOUNT_RANGE, fields={"amount_minor": ["A valid integer is required."]}
)

# --- events and webhook endpoints (issue 14) ---------------------------------

EVENT_ID = "evt_3k9d0m2qv8x1c7hz5w4r6n0b"
ENDPOINT_ID = "we_8f2k1x9c4m7q0v3z6b5n1h2d"
_EVENT = {
    "id": EVENT_ID,
    "object": "event",
    "type": "refund.approved",
    "created_at": "2026-12-02T09:42:14.419993Z",
    "sequence": 2,
    "data": _REFUND,
}
EVENT = _answer("An approval", 200, _EVENT)
EVENT_LIST = _answer(
    "A page of events",
    200,
    {
        "object": "list",
        "data": [
            {
                **_EVENT,
                "id": "evt_0a7b3c9d1e5f2g8h4i6j0k2l",
                "type": "refund.created",
                "sequence": 1,
                "created_at": "2026-12-02T09:42:14.409472Z",
                "data": {**_REFUND, "state": "requested", "version": 1, "approvals": [], "ledger_entries": []},
            },
            _EVENT,
        ],
        "has_more": True,
        "next_after": EVENT_ID,
    },
    "Pass `next_after` back as `after` for the events that came next.",
)
UNKNOWN_CURSOR = error_example(
    "A cursor of nobody's",
    ERR_VALIDATION,
    "'evt_000000000000000000000000' is not an item of this list.",
    fields={"after": ["unknown"]},
)

REDELIVER_ONE_REQUEST = _request("To one endpoint", {"endpoint": ENDPOINT_ID})
REDELIVER_ALL_REQUEST = _request(
    "To every subscribed endpoint", {}, "Without `endpoint`: every enabled endpoint subscribed to the event's type."
)
REDELIVERED = _answer(
    "Queued",
    202,
    {
        "event_id": EVENT_ID,
        "deliveries": [
            {
                "endpoint": ENDPOINT_ID,
                "trigger": "redeliver",
                "status": "pending",
                "created_at": "2026-12-03T08:00:01.120000Z",
            }
        ],
    },
    "Sent by a worker shortly; the attempts show in `GET /v1/webhook_endpoints/{endpoint_id}/deliveries`.",
)
REDELIVER_DISABLED = error_example(
    "The endpoint is disabled", ERR_CONFLICT_STATE, "The endpoint is disabled: enable it first.", endpoint=ENDPOINT_ID
)
REDELIVER_NOWHERE = error_example(
    "No endpoint subscribed",
    ERR_CONFLICT_STATE,
    "No enabled webhook endpoint is subscribed to refund.approved: there is nowhere to send it.",
)

_ENDPOINT = {
    "id": ENDPOINT_ID,
    "object": "webhook_endpoint",
    "url": "https://erp.example.com/hooks/refunds",
    "events": ["refund.*"],
    "description": "ERP: refund status",
    "status": "enabled",
    "disabled_reason": "",
    "created_at": "2026-12-01T16:20:00.512204Z",
}
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENDPOINT_CREATE_REQUEST = _request(
    "Every refund event",
    {"url": "https://erp.example.com/hooks/refunds", "events": ["refund.*"], "description": "ERP: refund status"},
)
ENDPOINT_CREATED = _answer(
    "Registered", 201, {**_ENDPOINT, "secret": _SECRET}, "Keep `secret`: it is shown in this answer only."
)
ENDPOINT = _answer("Enabled", 200, _ENDPOINT)
ENDPOINT_LIST = _answer(
    "Two endpoints",
    200,
    {
        "object": "list",
        "data": [
            _ENDPOINT,
            {
                **_ENDPOINT,
                "id": "we_1q2w3e4r5t6y7u8i9o0p1a2s",
                "url": "https://finance.example.com/refunds/completed",
                "events": ["refund.completed", "refund.reversed"],
                "description": "",
                "status": "disabled",
                "disabled_reason": "failing",
                "created_at": "2026-12-02T11:05:40.000917Z",
            },
        ],
        "has_more": False,
        "next_after": None,
    },
)
ENDPOINT_DISABLE_REQUEST = _request("Pause deliveries", {"disabled": True})
ENDPOINT_EVENTS_REQUEST = _request(
    "Completed and reversed only", {"events": ["refund.completed", "refund.reversed"], "description": "Finance"}
)
ENDPOINT_DISABLED = _answer("Disabled", 200, {**_ENDPOINT, "status": "disabled", "disabled_reason": "merchant"})
ENDPOINT_DELETED = _answer("Deleted", 200, {"id": ENDPOINT_ID, "object": "webhook_endpoint", "deleted": True})
ENDPOINT_ROTATED = _answer(
    "Rotated",
    200,
    {
        **_ENDPOINT,
        "secret": "whsec_Zk3YbQ0pV1uJ4nT7xR2sW9mC6aL8dE5f",
        "previous_secret_expires_at": "2026-12-04T08:00:00.000000Z",
    },
    "Deliveries carry a signature with each secret until then: switch your receiver over meanwhile.",
)
UNSAFE_URL = error_example(
    "A private address",
    ERR_VALIDATION,
    "The host 10.0.0.7 resolves to 10.0.0.7, which is not a public address: webhooks go to the public internet only.",
    field="url",
)
ENDPOINT_LIMIT = error_example(
    "Too many endpoints",
    ERR_VALIDATION,
    "A merchant has at most 16 webhook endpoints: delete one you no longer use first.",
    limit=16,
)
ATTEMPT_LIST = _answer(
    "A failure, then a success",
    200,
    {
        "object": "list",
        "data": [
            {
                "id": "wa_5t6y7u8i9o0p1a2s3d4f5g6h",
                "object": "webhook_attempt",
                "event_id": EVENT_ID,
                "event_type": "refund.approved",
                "attempt": 2,
                "started_at": "2026-12-02T09:42:21.003114Z",
                "status_code": 200,
                "latency_ms": 84,
                "response_excerpt": '{"received": true}',
                "error": "",
                "succeeded": True,
            },
            {
                "id": "wa_0p9o8i7u6y5t4r3e2w1q0a9s",
                "object": "webhook_attempt",
                "event_id": EVENT_ID,
                "event_type": "refund.approved",
                "attempt": 1,
                "started_at": "2026-12-02T09:42:14.530201Z",
                "status_code": None,
                "latency_ms": 10001,
                "response_excerpt": "",
                "error": "timed out after 10 s",
                "succeeded": False,
            },
        ],
        "has_more": False,
        "next_after": None,
    },
)

# --- lists, payments, evidence uploads (issue 14) ------------------------------

_NEWER = {
    **_REFUND,
    "refund_id": "rf_3k9w2m7q1x8v5c4b6n0z2a1s",
    "amount_minor": 1000,
    "reason": "quality",
    "version": 4,
    "note": "The lid is cracked.",
    "evidence": [{"type": "file", "file_id": 41}],
    "metadata": {},
    "policy": {**_REFUND["policy"], "rule": "R-AUTO-QUALITY"},
    "state": "provider_pending",
    "provider_refund_id": "re_3QxA1001b",
    "processor_message": "The provider accepted the refund; it settles later.",
    "ledger_entries": [
        {"type": "REFUND_PENDING", "amount_minor": 1000, "currency": "USD", "created_at": "2026-12-04T15:20:11.120044Z"}
    ],
    "status_url": "https://refunds.example.com/r/7dQm2w0rV8cL3pY6tN1sK9aB4eF5gH2jX0zC8vU1iO3/",
    "created_at": "2026-12-04T15:20:11.101230Z",
    "updated_at": "2026-12-04T15:20:12.554310Z",
    "decided_at": "2026-12-04T15:20:11.099871Z",
    "submitted_at": "2026-12-04T15:20:11.980311Z",
}
REFUND_LIST = _answer(
    "A page of two",
    200,
    {"object": "list", "data": [_NEWER, _REFUND], "has_more": True, "next_after": REFUND_ID},
    "Newest first; pass `next_after` as `after` for the next page.",
)
REFUND_UNKNOWN_CURSOR = error_example(
    "A cursor that is not yours",
    ERR_VALIDATION,
    "'rf_ihzrh3g6nmr6l3sdtrhiljvx' is not an item of this list.",
    fields={"after": ["unknown"]},
)
PAYMENT_REFUNDS = _answer(
    "Two refunds of one payment",
    200,
    {
        "provider_payment_id": "pi_3QxA1001",
        "order_id": ORDER_ID,
        "currency": "USD",
        "payment_status": "captured",
        "captured_amount_minor": 5000,
        "remaining_refundable_minor": 1500,
        "refunds": [_REFUND, _NEWER],
    },
)
EVIDENCE_UPLOAD_REQUEST = OpenApiExample(
    "Two photos",
    value={"file": ["(the bytes of cracked-lid.jpg)", "(the bytes of box.png)"]},
    description="multipart/form-data with one `file` part per file, each with its file name "
    "(`curl -F file=@cracked-lid.jpg -F file=@box.png`).",
    request_only=True,
    media_type="multipart/form-data",
)
EVIDENCE_ADDED = _answer(
    "Evidence attached",
    201,
    {
        **_NEWER,
        "evidence": [{"type": "file", "file_id": 41}, {"type": "file", "file_id": 42}, {"type": "file", "file_id": 43}],
        "updated_at": "2026-12-05T08:03:40.201877Z",
    },
    "The refund with the new files cited at the end of `evidence`; a later refund of the order may cite them too.",
)
EVIDENCE_REFUSED = error_example(
    "Not an image or PDF", ERR_VALIDATION, "invoice.docx is not a JPEG, PNG or PDF file.", field="evidence"
)


# --- store credit (issue 15) -------------------------------------------------

_CREDIT = {
    "code": "SC-7KQM-4TWX-9HPD",
    "currency": "USD",
    "amount_minor": 2750,
    "bonus_minor": 250,
    "balance_minor": 750,
    "expires_at": "2027-12-02T09:42:14.414543Z",
    "status": "active",
    "refund_id": REFUND_ID,
    "created_at": "2026-12-02T09:42:14.414543Z",
    "redemptions": [
        {
            "redemption_id": "scr_3kd8a0q7w1m2x9c4v6b5n8z0",
            "amount_minor": 2000,
            "currency": "USD",
            "reference": "checkout 88213",
            "balance_after_minor": 750,
            "created_at": "2026-12-09T15:01:44.120334Z",
        }
    ],
}
CREDIT = _answer("A store credit partly spent", 200, _CREDIT)
CREDIT_REDEEM_REQUEST = _request(
    "Spend 20.00 of a credit", {"amount_minor": 2000, "currency": "USD", "reference": "checkout 88213"}
)
CREDIT_REDEEMED = _answer(
    "Redeemed",
    201,
    {**_CREDIT["redemptions"][0], "credit": _CREDIT},
)
CREDIT_INSUFFICIENT = error_example("More than the balance", ERR_CREDIT_INSUFFICIENT, balance_minor=750, currency="USD")
CREDIT_EXPIRED = error_example("Expired", ERR_CREDIT_EXPIRED, expired_at="2027-12-02T09:42:14.414543+00:00")
