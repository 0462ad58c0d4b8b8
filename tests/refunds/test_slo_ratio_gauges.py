"""The SLO ratios and the overdue count, read from the database at scrape time (synthetic refunds left out)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.actor import Actor
from refunds.enums import Reason, RefundState
from refunds.models import Refund
from refunds.services.decide import refund_approve, refund_deny
from refunds.services.merchants import merchant_create
from tests.refunds.factories import agent, captured_order, make_refund, move_refund
from tests.support.samples import scraped_value

pytestmark = pytest.mark.django_db
S = RefundState
AUTO = "refund_auto_decided_within_slo_ratio"
COMPLETED = "refund_completed_within_slo_ratio"
OVERDUE = "refund_settlement_overdue"


def auto_approved(**order_fields) -> Refund:
    refund = make_refund(order=captured_order(**order_fields), amount_minor=5000, reason=Reason.NOT_RECEIVED)
    assert refund.state == S.APPROVED
    return refund


def reviewed() -> Refund:
    refund = make_refund(order=captured_order(), amount_minor=5000, reason=Reason.GOODWILL)
    assert refund.state == S.REQUESTED
    return refund


def test_no_refunds_no_ratio_rather_than_a_made_up_one(db):
    assert scraped_value(AUTO) is None
    assert scraped_value(COMPLETED) is None
    assert scraped_value(OVERDUE) == 0


def test_the_auto_decision_ratio_is_policy_decisions_within_two_minutes_over_all_refunds_of_the_day(db):
    auto_approved()
    slow = auto_approved()
    Refund.objects.filter(pk=slow.pk).update(decided_at=slow.created_at + timedelta(seconds=121))
    refund_approve(refund_id=reviewed().pk, actor=agent())  # a person decided: not the policy, however fast
    reviewed()
    yesterday = auto_approved()
    Refund.objects.filter(pk=yesterday.pk).update(created_at=timezone.now() - timedelta(hours=25))
    synthetic = merchant_create(slug="synthetic", name="Synthetic", actor=Actor.system("test"), synthetic=True)
    auto_approved(order__merchant=synthetic)

    assert scraped_value(AUTO) == 0.25  # 1 of the 4 refunds of the last 24 h (the synthetic one left out)


def test_the_settlement_ratio_reads_the_cohort_created_5_to_12_days_ago(db):
    now = timezone.now()

    def aged(refund: Refund, *, days: float, completed_after_days: float | None = None) -> None:
        created = now - timedelta(days=days)
        completed = created + timedelta(days=completed_after_days) if completed_after_days is not None else None
        Refund.objects.filter(pk=refund.pk).update(created_at=created, completed_at=completed)

    for state, after in ((S.COMPLETED, 2), (S.COMPLETED, 6)):
        refund = auto_approved()
        move_refund(refund, S.SUBMITTING)
        move_refund(refund, state)
        aged(refund, days=8, completed_after_days=after)
    waiting = auto_approved()  # approved 8 days ago, still not sent: late and overdue
    aged(waiting, days=8)
    denied = reviewed()
    refund_deny(refund_id=denied.pk, actor=agent(), note="No.")
    aged(denied, days=8)  # never approved: not in the denominator
    too_young = auto_approved()
    aged(too_young, days=2)  # still has time: neither in the cohort nor overdue
    too_old = auto_approved()
    aged(too_old, days=13)  # outside the cohort, but overdue

    assert scraped_value(COMPLETED) == pytest.approx(1 / 3)
    assert scraped_value(OVERDUE) == 2
