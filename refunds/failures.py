"""A failed refund's failure, in words staff can act on (issue 12): the one table for every screen.

The console's Needs action list and refund card (console.presenters.needs_action)
and the Slack approval card (integrations.slack.cards) all read it, so a
failure is said the same way wherever staff meet it.
"""

from __future__ import annotations

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
