"""Issuing a store credit when a store-credit refund completes (docs/instruments.md "Store credit")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from credits.codes import code_digest, code_new, code_seal
from credits.models import StoreCredit
from ledger.services import store_credit_post_issued


def credit_bonus_minor(*, amount_minor: int, bonus_percent: int) -> int:
    """The bonus on a refund of `amount_minor`: `bonus_percent` of it, rounded down to the minor unit.

    Rounded down so the merchant never gives more than the percentage risk set.
    """
    if amount_minor < 0 or not 0 <= bonus_percent <= 100:
        raise ValueError(f"no bonus for {amount_minor} at {bonus_percent}%")
    return amount_minor * bonus_percent // 100


def credit_expiry(*, issued_at: datetime, expiry_days: int | None) -> datetime | None:
    return None if expiry_days is None else issued_at + timedelta(days=expiry_days)


def credit_issue(*, refund, bonus_percent: int, expiry_days: int | None) -> StoreCredit:
    """Create the credit of a completed store-credit refund and book it (STORE_CREDIT_ISSUED).

    `refund` is the locked refund (the caller, `refunds.services.transition`,
    is moving it to `completed` under `refund_lock`); the bonus and the expiry
    come from the policy version that decided it, passed in by the caller.
    Side effects, in order: one StoreCredit row (a fresh code, kept as digest
    and sealed), the journal entry. A second call for the same refund is
    refused by the one-to-one key and the ledger's (refund, type) key: the
    transaction rolls back rather than issue twice.
    """
    bonus = credit_bonus_minor(amount_minor=refund.amount_minor, bonus_percent=bonus_percent)
    amount = refund.amount_minor + bonus
    code = code_new()
    now = timezone.now()
    credit = StoreCredit.objects.create(
        merchant_id=refund.merchant_id,
        refund=refund,
        code_digest=code_digest(code),
        code_sealed=code_seal(code),
        code_last=code[-4:],
        currency=refund.currency,
        amount_minor=amount,
        bonus_minor=bonus,
        balance_minor=amount,
        expires_at=credit_expiry(issued_at=now, expiry_days=expiry_days),
    )
    store_credit_post_issued(refund=refund, amount_minor=amount, bonus_minor=bonus)
    return credit
