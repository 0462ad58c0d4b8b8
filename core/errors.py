"""Domain errors carrying the API contract (SPEC §9).

Services raise these; the API turns them into `{code, message_id, message,
correlation_id}` with the status below, and the console shows `message`.
Callers compare against the constants, never against literal strings.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.correlation import get_correlation_id

# code -> (HTTP status, message id)
ERR_AMOUNT_RANGE = "ERR.VALIDATION.amount.range"
ERR_IDEMPOTENCY_KEY_MISSING = "ERR.VALIDATION.idempotency_key.missing"
ERR_CURRENCY_MISMATCH = "ERR.VALIDATION.currency.mismatch"
ERR_VALIDATION = "ERR.VALIDATION.request"
ERR_EXCEEDS_REMAINING = "ERR.BUSINESS.refund.exceeds_remaining"
ERR_NOT_CAPTURED = "ERR.BUSINESS.refund.not_captured"
ERR_CHARGED_BACK = "ERR.BUSINESS.refund.charged_back"
ERR_VOIDED = "ERR.BUSINESS.refund.voided"
ERR_DECLINE_REASON_REQUIRED = "ERR.VALIDATION.note.required"
ERR_CONFLICT_IDEMPOTENCY = "ERR.CONFLICT.idempotency"
ERR_CONFLICT_STATE = "ERR.CONFLICT.state"
ERR_CONFLICT_ORDER = "ERR.CONFLICT.order"
ERR_CONFLICT_CHANGED = "ERR.CONFLICT.changed"
ERR_AUTHN_REQUIRED = "ERR.AUTHN.required"
ERR_AUTHZ_SCOPE = "ERR.AUTHZ.scope"
ERR_AUTHZ_ROLE = "ERR.AUTHZ.role"
ERR_AUTHZ_MAKER_CHECKER = "ERR.AUTHZ.maker_checker"
ERR_AUTHZ_DUAL_CONTROL = "ERR.AUTHZ.dual_control"
ERR_NOT_FOUND = "ERR.NOT_FOUND"
ERR_RATE_LIMITED = "ERR.RATE_LIMITED"
ERR_METHOD_NOT_ALLOWED = "ERR.METHOD_NOT_ALLOWED"
ERR_INTERNAL = "ERR.INTERNAL"
ERR_UNAVAILABLE = "ERR.UNAVAILABLE"
# Refusals of the request itself, before any view reads it (issue 11).
ERR_IDEMPOTENCY_KEY_INVALID = "ERR.VALIDATION.idempotency_key.invalid"
ERR_BODY_TOO_LARGE = "ERR.VALIDATION.body.too_large"
ERR_URI_TOO_LONG = "ERR.VALIDATION.uri.too_long"
ERR_HEADERS_TOO_LARGE = "ERR.VALIDATION.headers.too_large"
# A customer reply that contradicts the refund, or names a placeholder we cannot fill (issue 12).
ERR_REPLY_AMOUNT_MISMATCH = "ERR.VALIDATION.reply.amount_mismatch"
ERR_REPLY_PLACEHOLDER = "ERR.VALIDATION.reply.placeholder"
# Instruments beyond cash (issue 15): a void releases the whole hold; store credit only where the policy allows it;
# a refund for time not used of a service with no day left; a store credit code spent or out of date.
ERR_PARTIAL_VOID = "ERR.BUSINESS.refund.partial_void"
ERR_INSTRUMENT_NOT_ALLOWED = "ERR.BUSINESS.refund.instrument_not_allowed"
ERR_NOTHING_UNUSED = "ERR.BUSINESS.refund.nothing_unused"
ERR_CREDIT_INSUFFICIENT = "ERR.BUSINESS.credit.insufficient_balance"
ERR_CREDIT_EXPIRED = "ERR.BUSINESS.credit.expired"

CATALOG: dict[str, tuple[int, str, Any]] = {
    ERR_AMOUNT_RANGE: (400, "refund.amount_invalid", _("The amount must be a positive whole number of minor units.")),
    ERR_IDEMPOTENCY_KEY_MISSING: (
        400,
        "request.idempotency_key_missing",
        _("An Idempotency-Key header is required for this call."),
    ),
    ERR_CURRENCY_MISMATCH: (
        400,
        "refund.currency_mismatch",
        _("A refund must be in the currency of the payment."),
    ),
    ERR_VALIDATION: (400, "request.invalid", _("The request is not valid.")),
    ERR_DECLINE_REASON_REQUIRED: (400, "refund.decline_reason_required", _("Declining a refund needs a reason.")),
    ERR_EXCEEDS_REMAINING: (
        400,
        "refund.exceeds_remaining",
        _("The amount is more than what is left to refund on this payment."),
    ),
    ERR_NOT_CAPTURED: (402, "refund.not_captured", _("The payment has not been captured, so it cannot be refunded.")),
    ERR_CHARGED_BACK: (
        422,
        "refund.charged_back",
        _("The payment was charged back; the customer already has the money back."),
    ),
    ERR_VOIDED: (422, "refund.voided", _("The payment was voided; there is nothing to refund.")),
    ERR_PARTIAL_VOID: (
        422,
        "refund.partial_void",
        _("The payment is only authorized: its hold is released whole, so the refund must be of the full amount."),
    ),
    ERR_INSTRUMENT_NOT_ALLOWED: (
        422,
        "refund.instrument_not_allowed",
        _("This way of paying the refund back is not offered for this payment."),
    ),
    ERR_NOTHING_UNUSED: (
        422,
        "refund.nothing_unused",
        _("No day of the service is left unused, so there is nothing to refund for time not used."),
    ),
    ERR_CREDIT_INSUFFICIENT: (
        422,
        "credit.insufficient_balance",
        _("The store credit's balance is less than the amount asked for."),
    ),
    ERR_CREDIT_EXPIRED: (422, "credit.expired", _("The store credit has expired.")),
    ERR_CONFLICT_IDEMPOTENCY: (
        409,
        "request.idempotency_conflict",
        _("This Idempotency-Key was already used with a different request."),
    ),
    ERR_CONFLICT_STATE: (409, "refund.state_conflict", _("The refund is not in a state that allows this action.")),
    # A push that would rewrite what was captured (or what refunds were measured against); `details.field` names it.
    ERR_CONFLICT_ORDER: (
        409,
        "order.change_refused",
        _("This change to the order is not allowed: what was captured cannot be rewritten."),
    ),
    ERR_CONFLICT_CHANGED: (
        409,
        "refund.changed",
        _("The refund changed since you looked at it. Check the amount and reply again, then decide."),
    ),
    ERR_AUTHN_REQUIRED: (401, "auth.required", _("A valid API key is required.")),
    ERR_AUTHZ_SCOPE: (403, "auth.scope_missing", _("This API key does not have the scope for this call.")),
    ERR_AUTHZ_ROLE: (403, "auth.role_missing", _("You do not have the role needed for this action.")),
    ERR_AUTHZ_MAKER_CHECKER: (
        403,
        "refund.maker_checker",
        _("The person who requested a refund cannot approve it."),
    ),
    ERR_AUTHZ_DUAL_CONTROL: (
        403,
        "refund.dual_control",
        _("This refund needs a second approval from a different senior agent."),
    ),
    ERR_NOT_FOUND: (404, "request.not_found", _("Not found.")),
    ERR_RATE_LIMITED: (429, "request.rate_limited", _("Too many requests; slow down and retry later.")),
    ERR_METHOD_NOT_ALLOWED: (405, "request.method_not_allowed", _("This method is not allowed here.")),
    ERR_INTERNAL: (500, "request.internal_error", _("Something went wrong on our side.")),
    # An outage of what the request needs (the database): nothing was done, the same request can be sent again.
    ERR_UNAVAILABLE: (
        503,
        "request.unavailable",
        _("The service is briefly unavailable; send the same request again shortly."),
    ),
    ERR_IDEMPOTENCY_KEY_INVALID: (
        400,
        "request.idempotency_key_invalid",
        _("The Idempotency-Key must be 1 to 255 visible ASCII characters (spaces allowed inside)."),
    ),
    ERR_BODY_TOO_LARGE: (413, "request.body_too_large", _("The request body is larger than this server accepts.")),
    ERR_URI_TOO_LONG: (414, "request.uri_too_long", _("The request line (path and query) is too long.")),
    ERR_HEADERS_TOO_LARGE: (431, "request.headers_too_large", _("The request headers are too large or too many.")),
    ERR_REPLY_AMOUNT_MISMATCH: (
        400,
        "reply.amount_mismatch",
        _("The reply states an amount other than the refund's. Write {amount} where the amount goes."),
    ),
    ERR_REPLY_PLACEHOLDER: (
        400,
        "reply.placeholder_unknown",
        _("The reply uses an unknown placeholder. Allowed: {amount}, {order}, {item}, {customer_name}, {timing}."),
    ),
}


class DomainError(Exception):
    """A refusal the caller can act on; never a bug."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        status, message_id, default_message = CATALOG[code]
        self.code = code
        self.http_status = status
        self.message_id = message_id
        self.message = str(message or default_message)
        self.details = details
        super().__init__(f"{code}: {self.message}")


class InvalidTransition(DomainError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(
            ERR_CONFLICT_STATE,
            f"A refund in state '{current}' cannot move to '{target}'.",
            state=current,
            target=target,
        )
        self.current = current
        self.target = target


def error_body(code: str, message: str | None = None, **details: Any) -> tuple[int, dict]:
    """The one JSON error shape (SPEC §9): `{code, message_id, message, correlation_id[, details]}`."""
    status, message_id, default = CATALOG[code]
    body = {
        "code": code,
        "message_id": message_id,
        "message": str(message or default),
        "correlation_id": get_correlation_id(),
    }
    if details:
        body["details"] = details
    return status, body
