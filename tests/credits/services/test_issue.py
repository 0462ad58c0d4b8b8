"""Issuing store credit: a store-credit refund completes at once, with no provider, and books its credit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ERR_CONFLICT_STATE, ERR_INSTRUMENT_NOT_ALLOWED, DomainError
from credits.codes import ALPHABET, code_digest, code_normalize
from credits.enums import CreditStatus
from credits.models import StoreCredit
from credits.services.issue import credit_bonus_minor
from events.models import Event
from ledger.enums import AccountCode, EntryType
from ledger.models import JournalEntry, Posting
from ledger.services import trial_balance
from refunds.enums import OutboxStatus, Reason, RefundInstrument, RefundState, Role
from refunds.models import OutboxMessage, PayoutTask
from refunds.services.decide import refund_approve
from refunds.services.outbox import submission_open
from tests.credits.factories import store_credit_policy, store_credit_refund
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_store_credit_is_refused_when_the_policy_in_force_does_not_offer_it():
    order = captured_order()
    with pytest.raises(DomainError) as refused:
        make_refund(order=order, amount_minor=1000, instrument=RefundInstrument.STORE_CREDIT)
    assert refused.value.code == ERR_INSTRUMENT_NOT_ALLOWED
    assert not order.refunds.exists()


def test_auto_approved_store_credit_refund_completes_with_its_credit_and_no_provider():
    store_credit_policy(bonus_percent=10, expiry_days=30)
    refund = store_credit_refund(amount_minor=5005)

    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert refund.provider_refund_id is None
    assert refund.completed_at is not None and refund.submitted_at is not None
    assert not OutboxMessage.objects.filter(refund=refund).exists()
    assert not PayoutTask.objects.filter(refund=refund).exists()
    credit = StoreCredit.objects.get(refund=refund)
    assert (credit.amount_minor, credit.bonus_minor, credit.balance_minor) == (5505, 500, 5505)
    assert credit.status == CreditStatus.ACTIVE and credit.currency == refund.currency
    assert timedelta(days=29, hours=23) < credit.expires_at - timezone.now() <= timedelta(days=30)
    assert credit.merchant_id == refund.merchant_id


def test_the_credit_is_booked_instead_of_a_settlement_and_the_books_balance():
    store_credit_policy(bonus_percent=10)
    refund = store_credit_refund(amount_minor=5005)

    types = list(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    assert types == [EntryType.REFUND_PENDING, EntryType.STORE_CREDIT_ISSUED]
    issued = Posting.objects.filter(entry__refund=refund, entry__entry_type=EntryType.STORE_CREDIT_ISSUED)
    assert {p.account_id: p.amount_minor for p in issued} == {
        AccountCode.REFUNDS_PAYABLE: 5005,
        AccountCode.STORE_CREDIT_BONUS: 500,
        AccountCode.STORE_CREDIT_OUTSTANDING: -5505,
    }
    payable = Posting.objects.filter(entry__refund=refund, account_id=AccountCode.REFUNDS_PAYABLE)
    assert sum(p.amount_minor for p in payable) == 0
    assert all(total == 0 for total in trial_balance().values())


def test_a_credit_without_expiry_days_never_expires():
    store_credit_policy(expiry_days=None)
    refund = store_credit_refund()
    assert StoreCredit.objects.get(refund=refund).expires_at is None


def test_a_reviewed_store_credit_refund_is_issued_when_people_approve_it_under_dual_control():
    store_credit_policy(bonus_percent=5)
    refund = store_credit_refund(amount_minor=25000, order_amount=100000, reason=Reason.GOODWILL)
    assert refund.state == RefundState.REQUESTED and refund.approvals_required == 2
    first, second = agent("senior-a", Role.SENIOR_AGENT), agent("senior-b", Role.SENIOR_AGENT)

    refund_approve(refund_id=refund.pk, actor=first)
    assert not StoreCredit.objects.filter(refund=refund).exists()
    refund_approve(refund_id=refund.pk, actor=second)

    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert StoreCredit.objects.get(refund=refund).amount_minor == 25000 + 1250
    assert not OutboxMessage.objects.filter(refund=refund).exclude(status=OutboxStatus.CANCELED).exists()


def test_the_bonus_comes_from_the_version_that_decided_the_refund_not_the_one_in_force_at_approval():
    store_credit_policy(bonus_percent=20)
    refund = store_credit_refund(amount_minor=25000, order_amount=100000, reason=Reason.GOODWILL)
    store_credit_policy(bonus_percent=50)
    for name in ("senior-a", "senior-b"):
        refund_approve(refund_id=refund.pk, actor=agent(name, Role.SENIOR_AGENT))
    assert StoreCredit.objects.get(refund=refund).bonus_minor == 5000


def test_a_store_credit_refund_can_never_be_handed_to_a_provider():
    store_credit_policy()
    refund = store_credit_refund()
    with pytest.raises(DomainError) as refused:
        submission_open(refund=refund, payment=refund.payment, round_=2)
    assert refused.value.code == ERR_CONFLICT_STATE
    assert not OutboxMessage.objects.filter(refund=refund).exists()


def test_the_code_is_stored_only_as_a_digest_and_sealed():
    store_credit_policy()
    credit = StoreCredit.objects.get(refund=store_credit_refund())
    code = credit.code
    assert code_normalize(code) == code and code.startswith("SC-")
    row = StoreCredit.objects.filter(pk=credit.pk).values().get()
    assert all(code not in str(value) and code.replace("-", "") not in str(value) for value in row.values())
    assert row["code_digest"] == code_digest(code)
    assert StoreCredit.objects.get(code_digest=code_digest(code_normalize(code.lower().replace("-", " ")))) == credit


def test_codes_carry_at_least_60_bits_from_an_unambiguous_alphabet():
    assert len(ALPHABET) == 32 and not set("01IO") & set(ALPHABET)
    assert len(set(ALPHABET)) ** 12 >= 2**60


@given(amount=st.integers(min_value=1, max_value=10**15), percent=st.integers(min_value=0, max_value=100))
def test_the_bonus_is_the_percentage_rounded_down(amount, percent):
    bonus = credit_bonus_minor(amount_minor=amount, bonus_percent=percent)
    assert 0 <= bonus <= amount
    assert bonus * 100 <= amount * percent < (bonus + 1) * 100


@given(amount=st.integers(min_value=1, max_value=10**9), percent=st.integers(min_value=0, max_value=100))
def test_a_credit_with_bonus_fits_its_own_constraints(amount, percent):
    bonus = credit_bonus_minor(amount_minor=amount, bonus_percent=percent)
    assert 0 <= bonus < amount + bonus


def test_the_completed_event_carries_the_credit_and_earlier_events_none():
    store_credit_policy(bonus_percent=10)
    refund = store_credit_refund(amount_minor=1000)
    events = {e.type: e for e in Event.objects.filter(refund=refund).select_related("refund")}
    documents = {kind: event.as_payload()["data"] for kind, event in events.items()}
    assert documents["refund.completed"]["store_credit"]["amount_minor"] == 1100
    assert documents["refund.completed"]["store_credit"]["code"] == StoreCredit.objects.get(refund=refund).code
    assert documents["refund.approved"]["store_credit"] is None
    # What the events table keeps: the credit without its spendable code (events.writer.stored_data).
    assert "code" not in events["refund.completed"].data["store_credit"]
