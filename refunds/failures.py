"""A refund's failure in words: for staff (issue 12) and, as the provider's answer, for merchants (issue 14).

`failure_text` is for staff: the console's Needs action list and refund card
(console.presenters.needs_action) and the Slack approval card
(integrations.slack.cards) all read it, so a failure is said the same way
wherever staff meet it, with what to do next.

`processor_message` is for the merchant's systems (`processor_message` of the
refund in the API and in events): what the payment provider answered, in a
sentence a merchant can show their own support staff or customer. It says
what happened, never our internal procedure.
"""

from __future__ import annotations

from providers.base import FailureCode
from providers.registry import UnknownProvider, provider_class
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, RefundInstrument, RefundState
from refunds.models import Refund

# A failed refund's `failure_code` (providers.base.FailureCode, and the codes of a payment withdrawn
# meanwhile) in a sentence staff can act on: what happened, and what it means for the next step.
FAILURE_TEXTS: dict[str, str] = {
    "expired_or_canceled_card": (
        "The customer's card has expired or was canceled, so their card issuer refused the refund. "
        "Trying the same card again will fail: arrange another way to pay the customer, then cancel and notify."
    ),
    "lost_or_stolen_card": (
        "The customer's card was reported lost or stolen, so their card issuer refused the refund. "
        "Arrange another way to pay the customer, then cancel and notify."
    ),
    "insufficient_funds": (
        "Our balance at the payment provider was too low to pay this refund. "
        "Once the balance is topped up, retry with a new attempt."
    ),
    "disputed": (
        "The payment is disputed (a chargeback is open), so the provider refused the refund: "
        "the dispute decides where the money goes. Cancel and notify."
    ),
    "declined": "The customer's bank declined the refund without giving a reason.",
    "canceled": "The refund was canceled at the payment provider.",
    "charge_already_refunded": (
        "The provider says this payment was already refunded in full there. "
        "Check the provider dashboard before anything else."
    ),
    "amount_too_large": (
        "The provider refused the amount: it is more than what is left to refund on the payment there. "
        "Check the provider dashboard for other refunds of this payment."
    ),
    "invalid_request": (
        "The provider refused the request as invalid: a configuration problem or a bug. Tell engineering."
    ),
    "not_found": "The provider does not know this payment: check the payment id and the provider account.",
    "idempotency_mismatch": (
        "The provider refused the request: its key was used before with other parameters (a bug). Tell engineering."
    ),
    "payment_charged_back": (
        "The payment was charged back after the refund was requested: the customer already has the money back. "
        "Do not pay again; cancel and notify."
    ),
    "payment_already_captured": (
        "The payment was captured before its hold could be released, so the void cannot happen: "
        "the money was taken. Request a refund of the captured payment instead."
    ),
    "payment_voided": "The payment was voided after the refund was requested: no money was taken. Cancel and notify.",
    "unknown": "The provider failed the refund without saying why.",
}
REVERSAL_PREFIX = "The refund had been paid, then the provider reported it failed and the money came back. "


def failure_text(refund: Refund) -> str:
    """Why `refund` failed, in words (a code we have no sentence for is quoted as it is)."""
    code = refund.failure_code
    text = FAILURE_TEXTS.get(code) or (
        f"The provider failed the refund (code “{code}”)." if code else FAILURE_TEXTS["unknown"]
    )
    return (REVERSAL_PREFIX + text) if refund.reversed_by_provider else text


# --- what the provider answered, for merchants ------------------------------------

# Each failure code the provider can answer (providers.base.FailureCode) as the merchant reads it.
PROCESSOR_FAILURE_MESSAGES: dict[str, str] = {
    FailureCode.EXPIRED_OR_CANCELED_CARD: "The card issuer refused the refund: the card has expired or was canceled.",
    FailureCode.LOST_OR_STOLEN_CARD: "The card issuer refused the refund: the card was reported lost or stolen.",
    FailureCode.INSUFFICIENT_FUNDS: (
        "The provider refused the refund: the balance available for refunds was too low. It can be retried "
        "once the balance is topped up."
    ),
    FailureCode.DISPUTED: "The provider refused the refund: the payment is disputed (a chargeback is open).",
    FailureCode.DECLINED: "The customer's bank declined the refund without giving a reason.",
    FailureCode.CANCELED: "The refund was canceled at the provider.",
    FailureCode.CHARGE_ALREADY_REFUNDED: "The provider refused the refund: the payment is already fully refunded.",
    FailureCode.AMOUNT_TOO_LARGE: (
        "The provider refused the refund: the amount is more than what is left to refund on the payment."
    ),
    FailureCode.INVALID_REQUEST: "The provider refused the refund request as invalid.",
    FailureCode.NOT_FOUND: "The provider does not know this payment.",
    FailureCode.IDEMPOTENCY_MISMATCH: "The provider refused the refund request (a conflicting earlier request).",
    FailureCode.PAYMENT_ALREADY_CAPTURED: (
        "The provider could not release the hold: the payment was captured. Request a refund of it instead."
    ),
    FailureCode.UNKNOWN: "The provider failed the refund without giving a reason.",
}
PROCESSOR_PENDING = "The provider accepted the refund; it settles later."
PROCESSOR_COMPLETED = "The provider completed the refund: the money is on its way to the customer."
PROCESSOR_PAID_BY_HAND = "The refund was paid out by hand."
PROCESSOR_RELEASED = "The provider released the payment's hold: nothing was charged (a void)."
PROCESSOR_REVERSED = (
    "The provider completed the refund, then reported it failed: the money came back instead of reaching the customer. "
)
# Failures that are no answer of the provider: the payment was withdrawn before it was asked (refunds.services.outbox).
_NOT_PROVIDER_ANSWERS = frozenset(PAYMENT_WITHDRAWN_FAILURE_CODES.values())


def processor_failure_message(code: str) -> str:
    """A failure code the provider answered, as a sentence for the merchant (an unknown code is quoted)."""
    return PROCESSOR_FAILURE_MESSAGES.get(code) or (
        f"The provider failed the refund (code “{code}”)." if code else PROCESSOR_FAILURE_MESSAGES["unknown"]
    )


def processor_message(refund: Refund) -> str | None:
    """What the provider last answered about `refund`'s current submission, in words; None before any answer.

    `provider_pending` → accepted, settles later; `completed` → done (or paid
    out by hand, for a provider that settles by hand); `failed` → the failure
    code's sentence, prefixed when the provider reversed a completed refund. A
    refund the provider never answered — not yet submitted, `submitting` (also
    on a retry: the earlier round's answer is history), denied, canceled before
    submission, or stopped because the payment was charged back or voided —
    has none. A failed refund canceled afterwards keeps its provider's answer.
    """
    state = refund.state
    if state == RefundState.PROVIDER_PENDING:
        return PROCESSOR_PENDING
    if state == RefundState.COMPLETED:
        if refund.instrument == RefundInstrument.VOID:
            return PROCESSOR_RELEASED
        return PROCESSOR_PAID_BY_HAND if _settles_by_hand(refund) else PROCESSOR_COMPLETED
    answered_failure = (
        bool(refund.provider_status) and bool(refund.failure_code) and refund.failure_code not in _NOT_PROVIDER_ANSWERS
    )
    if state == RefundState.FAILED and answered_failure:
        message = processor_failure_message(refund.failure_code)
        return (PROCESSOR_REVERSED + message) if refund.reversed_by_provider else message
    if state == RefundState.CANCELED and answered_failure:
        return processor_failure_message(refund.failure_code)
    return None


def _settles_by_hand(refund: Refund) -> bool:
    try:
        return provider_class(refund.payment.provider).settles_by_hand
    except UnknownProvider:
        return False
