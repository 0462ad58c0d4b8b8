"""Customer-facing texts, addressed by message id (SPEC §8).

The status page, the emails and (through their shared ids) the API speak of
the same events with the same words. Every text here is a lazy translation, so
it is rendered in whatever language is active when it is turned into a string:
the customer's, never the server's. Ids are stable contract; wording may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from refunds.enums import Rail, RefundInstrument, RefundState

S = RefundState

# --- message ids -----------------------------------------------------------
MSG_REQUEST_ACCEPTED = "refund.request.accepted"
MSG_APPROVED = "refund.approved"
MSG_PROCESSING = "refund.processing"
MSG_COMPLETED = "refund.completed"
MSG_DECLINED = "refund.declined"
MSG_CANCELED = "refund.canceled"
MSG_FAILED = "refund.failed"
MSG_FAILED_RETRYING = "refund.failed.retrying"
MSG_REVERSED = "refund.reversed"
MSG_EXCEEDS_REMAINING = "refund.exceeds_remaining"
MSG_NOT_CAPTURED = "refund.not_captured"
# Voids (issue 15): the payment was only authorized, so its hold is released; nothing is "refunded".
MSG_VOID_APPROVED = "refund.void.approved"
MSG_VOID_PROCESSING = "refund.void.processing"
MSG_VOID_COMPLETED = "refund.void.completed"


@dataclass(frozen=True)
class CustomerMessage:
    id: str
    title: Promise
    body: Promise


CATALOGUE: dict[str, CustomerMessage] = {
    m.id: m
    for m in (
        CustomerMessage(
            MSG_REQUEST_ACCEPTED,
            _("We have received your refund request"),
            _("We are reviewing it and will email you as soon as it is decided. You do not need to do anything."),
        ),
        CustomerMessage(
            MSG_APPROVED,
            _("Your refund has been approved"),
            _("We will send the money back to your original payment method shortly."),
        ),
        CustomerMessage(
            MSG_PROCESSING,
            _("Your refund is on its way"),
            _("We have sent the refund to your payment provider. It usually arrives within the time shown below."),
        ),
        CustomerMessage(
            MSG_COMPLETED,
            _("Your refund has been sent"),
            _(
                "The money is on its way back to your original payment method. Depending on your bank, it can take "
                "the time shown below to appear on your statement."
            ),
        ),
        CustomerMessage(
            MSG_DECLINED,
            _("We could not approve your refund"),
            _("Our team reviewed your request and declined it. If you have questions, reply to our email."),
        ),
        CustomerMessage(
            MSG_CANCELED,
            _("This refund request was canceled"),
            _("No money will be moved for this request. If this is unexpected, reply to our email."),
        ),
        CustomerMessage(
            MSG_FAILED,
            _("We could not complete your refund"),
            _(
                "Your payment provider did not accept the refund. Our support team has been told and will contact "
                "you to arrange another way to return your money. You do not need to do anything now."
            ),
        ),
        CustomerMessage(
            MSG_REVERSED,
            _("Your refund was returned to us"),
            _(
                "We sent your refund, but your bank or card issuer returned it, so the money has not reached you. "
                "Our support team has been told and will contact you to arrange another way to return your money. "
                "You do not need to do anything now."
            ),
        ),
        CustomerMessage(
            MSG_FAILED_RETRYING,
            _("Your refund is delayed"),
            _(
                "Your payment provider did not accept the refund at the first attempt. We are trying again "
                "automatically; you do not need to do anything."
            ),
        ),
        CustomerMessage(
            MSG_EXCEEDS_REMAINING,
            _("This amount cannot be refunded"),
            _("The amount is more than what is left to refund on this order."),
        ),
        CustomerMessage(
            MSG_VOID_APPROVED,
            _("Your cancellation has been approved"),
            _(
                "Your payment was only authorized, so nothing was taken from your account. We will ask your "
                "payment provider to release the hold on it shortly."
            ),
        ),
        CustomerMessage(
            MSG_VOID_PROCESSING,
            _("The hold on your payment is being released"),
            _("We have asked your payment provider to release the amount held for this payment."),
        ),
        CustomerMessage(
            MSG_VOID_COMPLETED,
            _("The hold on your payment has been released"),
            _(
                "Nothing was charged: your payment provider has released the amount it held. Depending on your "
                "bank, the held amount can take a few days to disappear from your statement."
            ),
        ),
        CustomerMessage(
            MSG_NOT_CAPTURED,
            _("This payment cannot be refunded yet"),
            _("The payment has not been completed, so there is nothing to refund yet."),
        ),
    )
}


def message_get(message_id: str) -> CustomerMessage:
    return CATALOGUE[message_id]


# A void's words for the messages that would speak of money sent back (the others fit it as they are).
VOID_MESSAGE_IDS: dict[str, str] = {
    MSG_APPROVED: MSG_VOID_APPROVED,
    MSG_PROCESSING: MSG_VOID_PROCESSING,
    MSG_COMPLETED: MSG_VOID_COMPLETED,
}


def message_id_for_instrument(message_id: str, instrument: str | None) -> str:
    """`message_id` as a refund paid by `instrument` says it: a void releases a hold, it sends no money."""
    if instrument == RefundInstrument.VOID:
        return VOID_MESSAGE_IDS.get(message_id, message_id)
    return message_id


def message_id_for_state(
    state: str,
    *,
    failure_retryable: bool = False,
    reversed_by_provider: bool = False,
    instrument: str | None = None,
) -> str:
    """The headline a customer sees for a refund in `state` (`reversed_by_provider`: failed after it completed)."""
    if state == S.FAILED:
        if reversed_by_provider:
            return MSG_REVERSED
        return MSG_FAILED_RETRYING if failure_retryable else MSG_FAILED
    message_id = {
        S.REQUESTED: MSG_REQUEST_ACCEPTED,
        S.APPROVED: MSG_APPROVED,
        S.SUBMITTING: MSG_PROCESSING,
        S.PROVIDER_PENDING: MSG_PROCESSING,
        S.COMPLETED: MSG_COMPLETED,
        S.DENIED: MSG_DECLINED,
        S.CANCELED: MSG_CANCELED,
    }[state]
    return message_id_for_instrument(message_id, instrument)


# --- steps -------------------------------------------------------------------
STEP_LABELS: dict[str, Promise] = {
    "requested": _("Requested"),
    "processing": _("Processing"),
    "refunded": _("Refunded"),
    # A void's last step (issue 15): the authorization's hold released, nothing refunded.
    "released": _("Hold released"),
    "declined": _("Declined"),
    "canceled": _("Canceled"),
    "failed": _("Failed"),
    "delayed": _("Delayed"),
    "returned": _("Returned by your bank"),
}
# What a screen reader hears after each step's label (the marker icon is hidden from it).
STEP_STATUS_TEXT: dict[str, Promise] = {
    "done": _("done"),
    "current": _("current step"),
    "upcoming": _("not started yet"),
    "problem": _("stopped"),
}
# Sub-events of the processing (or delayed) step; other steps show only their time.
EVENT_LABELS: dict[str, Promise] = {
    "approved": _("Approved"),
    "sent": _("Sent to your payment provider"),
    "retrying": _("Trying again since"),
}

# --- payment rails and their timing -------------------------------------------
RAIL_LABELS: dict[str, Promise] = {
    Rail.CARD: _("Card"),
    Rail.PAYNOW: _("PayNow"),
    Rail.BANK_TRANSFER: _("Bank transfer"),
}

# How long a refund takes to reach the customer once sent, per rail. A setting
# can override any rail: {"card": {"unit": "business_days", "min": 5, "max": 10}}.
# Units: "minutes", "hours", "business_days"; without min/max: "a few minutes" / "a few hours".
DEFAULT_RAIL_TIMING: dict[str, dict[str, Any]] = {
    Rail.CARD: {"unit": "business_days", "min": 5, "max": 10},
    Rail.PAYNOW: {"unit": "minutes"},
    Rail.BANK_TRANSFER: {"unit": "business_days", "min": 1, "max": 3},
}


def rail_timing(rail: str) -> dict[str, Any] | None:
    configured = getattr(settings, "RAIL_TIMING", None) or {}
    return configured.get(rail) or DEFAULT_RAIL_TIMING.get(rail)


def _range(unit: str, low: int, high: int, fmt) -> str:
    values = {"min": fmt(low), "max": fmt(high)}
    if unit == "minutes":
        return ngettext("%(min)s–%(max)s minute", "%(min)s–%(max)s minutes", high) % values
    if unit == "hours":
        return ngettext("%(min)s–%(max)s hour", "%(min)s–%(max)s hours", high) % values
    return ngettext("%(min)s–%(max)s business day", "%(min)s–%(max)s business days", high) % values


def _single(unit: str, count: int, fmt) -> str:
    values = {"count": fmt(count)}
    if unit == "minutes":
        return ngettext("%(count)s minute", "%(count)s minutes", count) % values
    if unit == "hours":
        return ngettext("%(count)s hour", "%(count)s hours", count) % values
    return ngettext("%(count)s business day", "%(count)s business days", count) % values


def rail_duration_text(rail: str, *, number_format=str) -> str:
    """'5–10 business days' in the active language; '' for a rail without timing.

    `number_format` renders the numbers for the customer's locale (Babel).
    """
    timing = rail_timing(rail)
    if not timing:
        return ""
    unit = timing.get("unit", "business_days")
    low, high = timing.get("min"), timing.get("max")
    if low is None and high is None:
        vague = {"minutes": _("a few minutes"), "hours": _("a few hours")}.get(unit)
        return str(vague) if vague else ""
    low = high if low is None else low
    high = low if high is None else high
    if low == high:
        return _single(unit, int(high), number_format)
    return _range(unit, int(low), int(high), number_format)
