"""Expiry: credits past their date are written off as breakage by the beat task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from credits.enums import CreditStatus
from credits.models import StoreCredit
from credits.services.expire import credit_expire, credits_expire_due
from credits.services.redeem import credit_redeem
from credits.tasks import expire_due
from ledger.enums import AccountCode, EntryType
from ledger.models import Posting
from ledger.services import trial_balance
from tests.credits.factories import issued_credit
from tests.refunds.factories import merchant_system

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_runs_the_expiry_task():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-store-credits"]
    assert entry["task"] == expire_due.name == "credits.expire_due"


def test_a_credit_past_its_date_expires_with_its_balance_as_breakage():
    credit = issued_credit(amount_minor=5000, bonus_percent=10, expiry_days=30)
    credit_redeem(
        code=credit.code,
        merchant_id=credit.merchant_id,
        amount_minor=2000,
        currency=credit.currency,
        idempotency_key="a",
        actor=merchant_system(),
    )

    assert credits_expire_due(now=timezone.now() + timedelta(days=29)) == 0
    assert credits_expire_due(now=timezone.now() + timedelta(days=31)) == 1

    credit.refresh_from_db()
    assert credit.status == CreditStatus.EXPIRED and credit.balance_minor == 0
    breakage = Posting.objects.get(entry__refund=credit.refund, account_id=AccountCode.STORE_CREDIT_BREAKAGE)
    assert breakage.amount_minor == -3500 and breakage.entry.entry_type == EntryType.STORE_CREDIT_EXPIRED
    outstanding = Posting.objects.filter(entry__refund=credit.refund, account_id=AccountCode.STORE_CREDIT_OUTSTANDING)
    assert sum(p.amount_minor for p in outstanding) == 0
    assert all(total == 0 for total in trial_balance().values())
    assert AuditEvent.objects.filter(refund=credit.refund, action=AuditAction.STORE_CREDIT_EXPIRED).count() == 1


def test_expiring_twice_writes_off_once():
    credit = issued_credit(expiry_days=1)
    later = timezone.now() + timedelta(days=2)
    assert credit_expire(credit_id=credit.pk, now=later) is True
    assert credit_expire(credit_id=credit.pk, now=later) is False
    assert credits_expire_due(now=later) == 0


def test_spent_and_never_expiring_credits_are_left_alone():
    never = issued_credit(expiry_days=None)
    spent = issued_credit(amount_minor=100, expiry_days=1)
    credit_redeem(
        code=spent.code,
        merchant_id=spent.merchant_id,
        amount_minor=100,
        currency="USD",
        idempotency_key="x",
        actor=merchant_system(),
    )
    assert credits_expire_due(now=timezone.now() + timedelta(days=3650)) == 0
    assert {c.status for c in StoreCredit.objects.filter(pk__in=[never.pk, spent.pk])} == {
        CreditStatus.ACTIVE,
        CreditStatus.SPENT,
    }


def test_the_task_expires_what_is_due():
    credit = issued_credit()
    StoreCredit.objects.filter(pk=credit.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert expire_due() == 1
    credit.refresh_from_db()
    assert credit.status == CreditStatus.EXPIRED
