"""The SLO histograms: request → first decision, request → settlement; once per refund, after commit."""

from __future__ import annotations

import pytest

from core.actor import Actor
from refunds.enums import Reason, RefundState
from refunds.services.decide import refund_approve, refund_deny
from refunds.services.merchants import merchant_create
from tests.refunds.factories import agent, captured_order, make_refund, move_refund, requester
from tests.support.samples import Delta

pytestmark = pytest.mark.django_db
S = RefundState
PROVIDER = "stripe"


def decisions(reason: str, outcome: str, decided_by: str) -> Delta:
    return Delta(
        "refund_decision_seconds_count", provider=PROVIDER, reason=reason, outcome=outcome, decided_by=decided_by
    )


def settlements(reason: str, outcome: str) -> Delta:
    return Delta("refund_settlement_seconds_count", provider=PROVIDER, reason=reason, outcome=outcome)


def auto_approved(order=None):
    order = order or captured_order(amount_minor=10000, provider=PROVIDER)
    refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED)
    assert refund.state == S.APPROVED
    return refund


def test_an_auto_approved_refund_is_one_policy_decision_observed_after_commit(django_capture_on_commit_callbacks):
    by_policy = decisions(Reason.NOT_RECEIVED, "approved", "policy")
    fast = Delta(
        "refund_decision_seconds_bucket",
        provider=PROVIDER,
        reason=Reason.NOT_RECEIVED,
        outcome="approved",
        decided_by="policy",
        le="1.0",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        auto_approved()
    assert by_policy.now() == 0  # not before the commit
    for callback in callbacks:
        callback()
    assert by_policy.now() == 1
    assert fast.now() == 1  # decided at creation: in the first bucket


def test_a_person_deciding_a_reviewed_refund_is_a_person_decision(django_capture_on_commit_callbacks):
    order = captured_order(amount_minor=10000, provider=PROVIDER)
    approved_by_person = decisions(Reason.GOODWILL, "approved", "person")
    denied_by_person = decisions(Reason.GOODWILL, "denied", "person")
    with django_capture_on_commit_callbacks(execute=True):
        first = make_refund(order=order, amount_minor=3000, reason=Reason.GOODWILL)
        second = make_refund(order=order, amount_minor=3000, reason=Reason.GOODWILL)
    assert (first.state, second.state) == (S.REQUESTED, S.REQUESTED)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=first.pk, actor=agent())
        refund_deny(refund_id=second.pk, actor=agent("other"), note="Not eligible.")
    assert (approved_by_person.now(), denied_by_person.now()) == (1, 1)


def test_only_the_deciding_approval_of_dual_control_is_observed(django_capture_on_commit_callbacks):
    from refunds.enums import Role

    refund = make_refund(order=captured_order(amount_minor=100000), amount_minor=25000, reason=Reason.GOODWILL)
    assert refund.approvals_required == 2
    approved = decisions(Reason.GOODWILL, "approved", "person")
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("s1", Role.SENIOR_AGENT))
    assert approved.now() == 0
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund_id=refund.pk, actor=agent("s2", Role.SENIOR_AGENT))
    assert approved.now() == 1


def test_settlement_is_observed_once_on_completion_not_again_on_a_reversal(django_capture_on_commit_callbacks):
    completed, failed = settlements(Reason.NOT_RECEIVED, "completed"), settlements(Reason.NOT_RECEIVED, "failed")
    refund = auto_approved()
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.SUBMITTING)
        assert completed.now() == 0
        move_refund(refund, S.COMPLETED)
    assert completed.now() == 1
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.FAILED, changes={"failure_code": "reversed", "failure_retryable": False})
    assert (completed.now(), failed.now()) == (1, 0)


def test_a_retryable_failure_is_not_a_settlement_its_later_completion_is(django_capture_on_commit_callbacks):
    completed, failed = settlements(Reason.NOT_RECEIVED, "completed"), settlements(Reason.NOT_RECEIVED, "failed")
    refund = auto_approved()
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.SUBMITTING)
        move_refund(refund, S.FAILED, changes={"failure_code": "processing_error", "failure_retryable": True})
    assert failed.now() == 0
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.SUBMITTING)
        move_refund(refund, S.COMPLETED)
    assert (completed.now(), failed.now()) == (1, 0)


def test_a_terminal_failure_is_a_failed_settlement(django_capture_on_commit_callbacks):
    failed = settlements(Reason.NOT_RECEIVED, "failed")
    refund = auto_approved()
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.SUBMITTING)
        move_refund(refund, S.FAILED, changes={"failure_code": "expired_or_canceled_card", "failure_retryable": False})
    assert failed.now() == 1


def test_a_rolled_back_move_is_never_observed():
    by_policy = decisions(Reason.NOT_RECEIVED, "approved", "policy")
    auto_approved()  # the test's transaction is rolled back: on_commit never runs
    assert by_policy.now() == 0


def test_synthetic_refunds_are_left_out_of_the_slo_histograms(django_capture_on_commit_callbacks):
    synthetic = merchant_create(slug="synthetic", name="Synthetic", actor=Actor.system("test"), synthetic=True)
    by_policy = decisions(Reason.NOT_RECEIVED, "approved", "policy")
    completed = settlements(Reason.NOT_RECEIVED, "completed")
    outcomes = Delta("refund_outcome_total", state="approved")
    order = captured_order(amount_minor=10000, provider=PROVIDER, order__merchant=synthetic)
    with django_capture_on_commit_callbacks(execute=True):
        refund = make_refund(order=order, amount_minor=5000, reason=Reason.NOT_RECEIVED, actor=requester())
        move_refund(refund, S.SUBMITTING)
        move_refund(refund, S.COMPLETED)
    assert refund.merchant.slug == "synthetic"
    assert (by_policy.now(), completed.now()) == (0, 0)
    assert outcomes.now() == 1  # the other metrics still count it


def test_money_settled_and_taken_back_is_counted_in_major_units_per_currency(django_capture_on_commit_callbacks):
    settled = Delta("refund_amount_total", currency="USD", instrument="original_payment", kind="settled")
    reversed_ = Delta("refund_amount_total", currency="USD", instrument="original_payment", kind="reversed")
    refund = auto_approved()
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.SUBMITTING)
        assert settled.now() == 0  # not paid back yet
        move_refund(refund, S.COMPLETED)
    assert settled.now() == 50.0  # 5000 minor units of USD
    with django_capture_on_commit_callbacks(execute=True):
        move_refund(refund, S.FAILED, changes={"failure_code": "reversed", "failure_retryable": False})
    assert (settled.now(), reversed_.now()) == (50.0, 50.0)
