"""Redemption races: real threads on their own PostgreSQL connections (test_concurrency.race)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.actor import Actor
from core.errors import ERR_CREDIT_EXPIRED, ERR_CREDIT_INSUFFICIENT, DomainError
from credits.enums import CreditStatus
from credits.models import StoreCredit, StoreCreditRedemption
from credits.services.expire import credit_expire
from credits.services.redeem import Redeemed, credit_redeem
from ledger.enums import EntryType
from ledger.models import JournalEntry
from ledger.services import trial_balance
from tests.credits.factories import issued_credit
from tests.refunds.factories import merchant_system
from tests.refunds.services.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def redeemer(credit: StoreCredit, amount: int, key: str, actor: Actor):
    code, merchant_id, currency = credit.code, credit.merchant_id, credit.currency
    return lambda: credit_redeem(
        code=code, merchant_id=merchant_id, amount_minor=amount, currency=currency, idempotency_key=key, actor=actor
    )


def test_many_concurrent_partial_redemptions_never_spend_more_than_the_credit():
    credit = issued_credit(amount_minor=1000)
    actor = merchant_system()
    # 12 × 150 = 1800 asked of 1000: at most six fit.
    results = race(*[redeemer(credit, 150, f"checkout-{n}", actor) for n in range(12)])

    credit.refresh_from_db()
    won = [r for r in results if isinstance(r, Redeemed)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(won) + len(refused) == 12, results
    assert all(r.code == ERR_CREDIT_INSUFFICIENT for r in refused)
    assert len(won) == 6
    spent = StoreCreditRedemption.objects.filter(credit=credit).aggregate(total=Sum("amount_minor"))["total"]
    assert spent == 900 <= credit.amount_minor
    assert credit.balance_minor == credit.amount_minor - spent == 100
    assert JournalEntry.objects.filter(entry_type=EntryType.STORE_CREDIT_REDEEMED).count() == 6
    assert all(total == 0 for total in trial_balance().values())


def test_concurrent_redemptions_that_exactly_spend_it_leave_it_spent():
    credit = issued_credit(amount_minor=1000)
    actor = merchant_system()
    results = race(*[redeemer(credit, 100, f"k{n}", actor) for n in range(10)])
    assert all(isinstance(r, Redeemed) for r in results), results
    credit.refresh_from_db()
    assert credit.balance_minor == 0 and credit.status == CreditStatus.SPENT


def test_concurrent_retries_with_one_key_make_one_redemption():
    credit = issued_credit(amount_minor=1000)
    actors = [merchant_system(f"key-{n}") for n in range(2)]
    results = race(*[redeemer(credit, 300, "one-checkout", actors[n % 2]) for n in range(8)])

    assert all(isinstance(r, Redeemed) for r in results), results
    assert len({r.redemption.pk for r in results}) == 1
    assert sum(r.created for r in results) == 1
    credit.refresh_from_db()
    assert credit.balance_minor == 700
    assert StoreCreditRedemption.objects.filter(credit=credit).count() == 1


def test_expiry_racing_redemptions_writes_off_only_what_is_left():
    credit = issued_credit(amount_minor=1000)
    actor = merchant_system()
    StoreCredit.objects.filter(pk=credit.pk).update(expires_at=timezone.now() + timedelta(days=1))
    later = timezone.now() + timedelta(days=2)
    results = race(
        *[redeemer(credit, 200, f"k{n}", actor) for n in range(3)],
        lambda: credit_expire(credit_id=credit.pk, now=later),
    )

    credit.refresh_from_db()
    assert credit.status == CreditStatus.EXPIRED and credit.balance_minor == 0
    # Each redemption either got the lock first (spent) or came after the expiry (refused as expired).
    redemptions, expired = results[:3], results[3]
    assert expired is True
    assert all(isinstance(r, Redeemed) or r.code == ERR_CREDIT_EXPIRED for r in redemptions), results
    spent = sum(r.redemption.amount_minor for r in results if isinstance(r, Redeemed))
    breakage = JournalEntry.objects.get(refund=credit.refund, entry_type=EntryType.STORE_CREDIT_EXPIRED)
    assert spent + breakage.amount_minor == 1000
    assert all(total == 0 for total in trial_balance().values())


def test_a_redemption_after_expiry_is_refused():
    credit = issued_credit(amount_minor=1000)
    StoreCredit.objects.filter(pk=credit.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert credit_expire(credit_id=credit.pk)
    (result,) = race(redeemer(credit, 1, "late", merchant_system()))
    assert isinstance(result, DomainError) and result.code == ERR_CREDIT_EXPIRED
