"""Voids (issue 15, docs/instruments.md "Voids"): an authorized payment is released, not refunded.

A payment that is `authorized` was never captured: the customer's money is
held by their bank, not taken. "Refunding" it means asking the provider to
cancel the authorization. Everything else is a refund like any other — the
same request, policy, reservation, decisions, outbox, audit trail and
customer emails — with three differences written here, so the services that
share them stay as they are:

* at the request (`void_instrument`): the refund's instrument is `void`, of
  the full payment amount only, and only through a provider that can void;
* in the books (`void_post_ledger`): VOID_* entries against authorizations
  held, never provider clearing (no money moved at the provider);
* at completion (`void_payment_follow`): the payment becomes `voided`, in the
  transaction that completes the refund.

The outbox calls `Provider.void_payment` instead of `execute_refund` for it
(`refunds.services.outbox`), and a provider's `payment_intent.canceled`
completes it too (`refunds.services.webhooks`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.errors import ERR_INSTRUMENT_NOT_ALLOWED, ERR_PARTIAL_VOID, DomainError
from ledger.services import void_post_pending, void_post_released, void_post_reversed
from providers.registry import provider_class
from refunds.enums import PAYMENT_STATUS_EDGES, PaymentStatus, RefundInstrument, RefundState
from refunds.models import Payment, Refund

logger = logging.getLogger("refunds.void")
S = RefundState


def void_instrument(*, payment: Payment, amount_minor: int, asked: str | None) -> str | None:
    """The instrument a refund of `payment` gets: `void` for an authorized payment, else `asked` unchanged.

    Raises ERR_INSTRUMENT_NOT_ALLOWED for store credit (or anything but the
    original payment) asked of an authorized payment — nothing was taken to
    credit — for a void asked of a payment that is not authorized, and when
    the payment's provider cannot void (`Provider.supports_void`: a manual
    payment has no hold we could release). Raises ERR_PARTIAL_VOID when the
    amount is not the whole payment: an authorization is released whole.
    Called under the payment's row lock, after `payment_check_refundable`.
    """
    if payment.status != PaymentStatus.AUTHORIZED:
        if asked == RefundInstrument.VOID:
            raise DomainError(ERR_INSTRUMENT_NOT_ALLOWED, instrument=asked, payment_status=payment.status)
        return asked
    if asked not in (None, RefundInstrument.ORIGINAL_PAYMENT, RefundInstrument.VOID):
        raise DomainError(ERR_INSTRUMENT_NOT_ALLOWED, instrument=asked, payment_status=payment.status)
    if not provider_class(payment.provider).supports_void:
        raise DomainError(
            ERR_INSTRUMENT_NOT_ALLOWED,
            f"{provider_class(payment.provider).label} cannot release an authorization.",
            instrument=RefundInstrument.VOID,
        )
    if amount_minor != payment.amount_minor:
        raise DomainError(ERR_PARTIAL_VOID, payment_amount_minor=payment.amount_minor)
    return RefundInstrument.VOID


def void_check_amount_edit(*, refund: Refund, amount_minor: int) -> None:
    """An edit may not make a void partial (ERR_PARTIAL_VOID): the hold is released whole or not at all."""
    if refund.instrument == RefundInstrument.VOID and amount_minor != refund.amount_minor:
        raise DomainError(ERR_PARTIAL_VOID, payment_amount_minor=refund.amount_minor)


def is_void(refund: Refund) -> bool:
    return refund.instrument == RefundInstrument.VOID


def void_post_ledger(refund: Refund, *, source: str, to: str, occurred_at: datetime | None = None) -> None:
    """The VOID_* entry a void's move implies, where a refund would post its REFUND_* one.

    `approved` posts VOID_PENDING, `completed` VOID_RELEASED; leaving the
    approved path (cancel after approval, failure) posts VOID_REVERSED. A
    provider failure is final for a void (never retryable), and a completed
    void is never failed afterwards (`refunds.services.outcome`), so there is
    no settlement to reverse.
    """
    if to == S.APPROVED:
        void_post_pending(refund=refund)
    elif to == S.COMPLETED:
        void_post_released(refund=refund, occurred_at=occurred_at)
    elif (to == S.FAILED and not refund.failure_retryable) or (
        to == S.CANCELED and (source == S.APPROVED or (source == S.FAILED and refund.failure_retryable))
    ):
        void_post_reversed(refund=refund)


def void_payment_follow(refund: Refund, *, payment: Payment, to: str) -> None:
    """A completed void leaves its payment `voided`, in the transaction of the move (payment locked).

    A payment voided already (the merchant or the provider said so first) is
    left as it is. One that may not become voided (the guard trigger's edges)
    is logged, never forced: the refund's completion stands on the provider's
    word, and the payment's status is the merchant's to correct.
    """
    if to != S.COMPLETED or payment.status == PaymentStatus.VOIDED:
        return
    if PaymentStatus.VOIDED not in PAYMENT_STATUS_EDGES.get(payment.status, frozenset()):
        logger.error(
            "void completed for a payment that cannot be voided",
            extra={"message_id": "MSG.void.payment_not_voidable", "refund_id": refund.public_id},
        )
        return
    payment.status = PaymentStatus.VOIDED
    payment.save(update_fields=["status", "updated_at"])
