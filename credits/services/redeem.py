"""Spending a store credit at the merchant's checkout: idempotent, partial, never below zero."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_CHARGED_BACK,
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_CREDIT_EXPIRED,
    ERR_CREDIT_INSUFFICIENT,
    ERR_CURRENCY_MISMATCH,
    ERR_NOT_FOUND,
    ERR_VOIDED,
    DomainError,
)
from credits.enums import CreditStatus
from credits.models import StoreCredit, StoreCreditRedemption
from credits.selectors import credit_find
from ledger.services import store_credit_post_redeemed

# The payment a credit refunds went back to the customer another way (a chargeback) or was never taken (a
# void): the credit is not spent any more. The values of refunds.enums.PAYMENT_WITHDRAWN_STATUSES, named here
# because credits sits below refunds (tests/credits/services/test_redeem_after_chargeback.py pins them).
WITHDRAWN_PAYMENT_REFUSALS = {"charged_back": ERR_CHARGED_BACK, "voided": ERR_VOIDED}


@dataclass(frozen=True)
class Redeemed:
    redemption: StoreCreditRedemption
    credit: StoreCredit
    created: bool  # False: the key's earlier redemption, returned as it was


def credit_is_expired(credit: StoreCredit, *, now=None) -> bool:
    """Expired, or past its date and not yet swept (the beat task may run minutes later)."""
    now = now or timezone.now()
    return credit.status == CreditStatus.EXPIRED or (credit.expires_at is not None and credit.expires_at <= now)


def credit_redeem(
    *,
    code: str,
    merchant_id: int,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    actor: Actor,
    reference: str = "",
) -> Redeemed:
    """Spend `amount_minor` of the merchant's credit `code`, once per `idempotency_key`.

    The credit row is locked (SELECT … FOR UPDATE) before anything is read:
    concurrent redemptions of one credit run one after another, each seeing
    the balance the previous one left, so the sum redeemed never exceeds the
    credit; the table's CHECK (0 ≤ balance ≤ amount) refuses a negative
    balance whatever writes it. Under the same lock a retry with the key finds
    the redemption the first attempt made (the (credit, key) unique key
    settles even a bug that skipped the lock) and gets it back unchanged —
    also after the credit expired or was spent; the same key with another
    amount or currency is a conflict.

    Refusals, in order: unknown code (also another merchant's: ERR_NOT_FOUND),
    amount not positive, currency not the credit's, the refunded payment
    charged back or voided since (ERR_CHARGED_BACK / ERR_VOIDED: the customer
    has that money back already), expired, more than the balance
    (ERR_CREDIT_INSUFFICIENT with the balance). Side effects, in
    order: the journal entry (STORE_CREDIT_REDEEMED), the redemption row,
    the credit's balance (and `spent` at zero), the audit event.
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise DomainError(ERR_AMOUNT_RANGE)
    with transaction.atomic():
        # of=("self",): the refund joined for the ledger memo is read, not locked.
        locked = StoreCredit.objects.select_for_update(of=("self",)).select_related("refund__payment")
        credit = credit_find(code=code, merchant_id=merchant_id, queryset=locked)
        if credit is None:
            raise DomainError(ERR_NOT_FOUND)
        earlier = credit.redemptions.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if (earlier.amount_minor, earlier.currency) != (amount_minor, currency):
                raise DomainError(ERR_CONFLICT_IDEMPOTENCY)
            return Redeemed(redemption=earlier, credit=credit, created=False)
        if currency != credit.currency:
            raise DomainError(ERR_CURRENCY_MISMATCH, expected=credit.currency)
        withdrawn = WITHDRAWN_PAYMENT_REFUSALS.get(credit.refund.payment.status)
        if withdrawn is not None:
            raise DomainError(withdrawn, payment_status=credit.refund.payment.status)
        if credit_is_expired(credit):
            raise DomainError(
                ERR_CREDIT_EXPIRED, expired_at=credit.expires_at.isoformat() if credit.expires_at else None
            )
        if amount_minor > credit.balance_minor:
            raise DomainError(ERR_CREDIT_INSUFFICIENT, balance_minor=credit.balance_minor, currency=credit.currency)
        entry = store_credit_post_redeemed(
            refund=credit.refund,
            amount_minor=amount_minor,
            memo=f"Store credit {credit.public_id} redeemed" + (f" ({reference[:100]})" if reference else ""),
        )
        credit.balance_minor -= amount_minor
        if credit.balance_minor == 0:
            credit.status = CreditStatus.SPENT
        redemption = StoreCreditRedemption.objects.create(
            credit=credit,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
            reference=reference,
            balance_after_minor=credit.balance_minor,
            api_key=actor.api_key,
            journal_entry=entry,
        )
        credit.save(update_fields=["balance_minor", "status", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.STORE_CREDIT_REDEEMED,
            refund=credit.refund,
            amount_minor=amount_minor,
            currency=currency,
            note=f"{redemption.public_id}; balance {credit.balance_minor}" + (f"; {reference}" if reference else ""),
            after={
                "credit": credit.public_id,
                "redemption": redemption.public_id,
                "balance_minor": credit.balance_minor,
            },
        )
    return Redeemed(redemption=redemption, credit=credit, created=True)
