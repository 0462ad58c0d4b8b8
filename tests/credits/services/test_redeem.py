"""Redeeming store credit: partial, idempotent per key, never below zero, never another merchant's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.actor import Actor
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_CREDIT_EXPIRED,
    ERR_CREDIT_INSUFFICIENT,
    ERR_CURRENCY_MISMATCH,
    ERR_NOT_FOUND,
    DomainError,
)
from credits.enums import CreditStatus
from credits.models import StoreCredit, StoreCreditRedemption
from credits.services.redeem import credit_redeem
from ledger.enums import AccountCode, EntryType
from ledger.models import JournalEntry, Posting
from ledger.services import trial_balance
from refunds.services.merchants import merchant_create
from tests.credits.factories import issued_credit
from tests.refunds.factories import merchant_system

pytestmark = pytest.mark.django_db


def redeem(credit: StoreCredit, amount_minor: int, key: str, **kwargs):
    fields = {"code": credit.code, "merchant_id": credit.merchant_id, "currency": credit.currency}
    fields.update(kwargs)
    return credit_redeem(amount_minor=amount_minor, idempotency_key=key, actor=merchant_system(f"k-{key}"), **fields)


def test_partial_redemptions_bring_the_balance_down_to_spent():
    credit = issued_credit(amount_minor=5000)
    first = redeem(credit, 3000, "a", reference="order 1")
    second = redeem(credit, 2000, "b")

    credit.refresh_from_db()
    assert (first.redemption.balance_after_minor, second.redemption.balance_after_minor) == (2000, 0)
    assert credit.balance_minor == 0 and credit.status == CreditStatus.SPENT
    assert first.redemption.public_id.startswith("scr_") and first.redemption.reference == "order 1"


def test_more_than_the_balance_is_refused_with_the_balance():
    credit = issued_credit(amount_minor=5000)
    redeem(credit, 4000, "a")
    with pytest.raises(DomainError) as refused:
        redeem(credit, 1001, "b")
    assert refused.value.code == ERR_CREDIT_INSUFFICIENT
    assert refused.value.details["balance_minor"] == 1000
    credit.refresh_from_db()
    assert credit.balance_minor == 1000


def test_a_spent_credit_refuses_even_one_minor_unit():
    credit = issued_credit(amount_minor=100)
    redeem(credit, 100, "a")
    with pytest.raises(DomainError) as refused:
        redeem(credit, 1, "b")
    assert refused.value.code == ERR_CREDIT_INSUFFICIENT


def test_a_retry_with_the_same_key_returns_the_first_redemption_and_spends_nothing_more():
    credit = issued_credit(amount_minor=5000)
    first = redeem(credit, 1500, "same")
    again = redeem(credit, 1500, "same")
    assert again.created is False and again.redemption.pk == first.redemption.pk
    credit.refresh_from_db()
    assert credit.balance_minor == 3500
    assert StoreCreditRedemption.objects.filter(credit=credit).count() == 1


def test_the_same_key_with_another_amount_is_a_conflict():
    credit = issued_credit(amount_minor=5000)
    redeem(credit, 1500, "same")
    with pytest.raises(DomainError) as refused:
        redeem(credit, 1600, "same")
    assert refused.value.code == ERR_CONFLICT_IDEMPOTENCY


@pytest.mark.parametrize("amount", [0, -5, True, 1.5])
def test_amounts_that_are_not_positive_whole_units_are_refused(amount):
    credit = issued_credit()
    with pytest.raises(DomainError) as refused:
        redeem(credit, amount, "a")
    assert refused.value.code == ERR_AMOUNT_RANGE


def test_another_currency_is_refused():
    credit = issued_credit()
    with pytest.raises(DomainError) as refused:
        redeem(credit, 100, "a", currency="EUR")
    assert refused.value.code == ERR_CURRENCY_MISMATCH


def test_another_merchants_code_is_not_found_like_an_unknown_one():
    credit = issued_credit()
    other = merchant_create(slug="globex", name="Globex", actor=Actor.system("test"))
    for code, merchant_id in [(credit.code, other.pk), ("SC-2222-3333-4444", credit.merchant_id), ("nonsense", 1)]:
        with pytest.raises(DomainError) as refused:
            redeem(credit, 100, "a", code=code, merchant_id=merchant_id)
        assert refused.value.code == ERR_NOT_FOUND
    credit.refresh_from_db()
    assert credit.balance_minor == credit.amount_minor


def test_an_expired_credit_is_refused_even_before_the_sweep_marks_it():
    credit = issued_credit()
    StoreCredit.objects.filter(pk=credit.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(DomainError) as refused:
        redeem(credit, 100, "a")
    assert refused.value.code == ERR_CREDIT_EXPIRED


def test_a_code_typed_in_lower_case_without_dashes_is_the_same_code():
    credit = issued_credit()
    result = redeem(credit, 100, "a", code=credit.code.lower().replace("-", ""))
    assert result.created


def test_each_redemption_posts_its_own_balanced_entry():
    credit = issued_credit(amount_minor=5000, bonus_percent=10)
    first = redeem(credit, 1000, "a")
    second = redeem(credit, 2000, "b")

    entries = JournalEntry.objects.filter(refund=credit.refund, entry_type=EntryType.STORE_CREDIT_REDEEMED)
    assert sorted(entries.values_list("amount_minor", flat=True)) == [1000, 2000]
    assert {first.redemption.journal_entry_id, second.redemption.journal_entry_id} == set(
        entries.values_list("pk", flat=True)
    )
    outstanding = Posting.objects.filter(account_id=AccountCode.STORE_CREDIT_OUTSTANDING, entry__refund=credit.refund)
    assert -sum(p.amount_minor for p in outstanding) == 5500 - 3000
    assert all(total == 0 for total in trial_balance().values())


def test_the_database_refuses_a_balance_below_zero_even_from_raw_sql():
    credit = issued_credit(amount_minor=5000)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE credits_storecredit SET balance_minor = balance_minor - 5001 WHERE id = %s", [credit.pk])


def test_the_database_refuses_a_balance_above_what_was_issued():
    credit = issued_credit(amount_minor=5000)
    with pytest.raises(IntegrityError), transaction.atomic():
        StoreCredit.objects.filter(pk=credit.pk).update(balance_minor=5001)


def test_the_database_refuses_a_second_redemption_with_one_key():
    credit = issued_credit(amount_minor=5000)
    first = redeem(credit, 100, "a").redemption
    with pytest.raises(IntegrityError), transaction.atomic():
        StoreCreditRedemption.objects.create(
            credit=credit,
            amount_minor=100,
            currency=credit.currency,
            idempotency_key="a",
            balance_after_minor=0,
            journal_entry=first.journal_entry,
        )
