"""Backtesting a policy draft over the last 30 days (issue 12 item 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.enums import Reason, Role
from refunds.models import Refund
from refunds.services.decide import refund_edit
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import policy_draft_create
from refunds.services.policy_backtest import policy_backtest
from tests.refunds.factories import UserFactory, agent, captured_order, make_refund

pytestmark = pytest.mark.django_db


def draft_with(**usd_cells):
    edited = policy_get_active()
    edited.limits = {**edited.limits, "USD": {**edited.limits["USD"], **usd_cells}}
    return policy_draft_create(policy=edited, user=UserFactory(username="risk-author", role=Role.RISK))


def test_counts_and_amounts_by_outcome_for_both_versions_and_the_refunds_that_change():
    order = captured_order(amount_minor=1_000_000)
    small = make_refund(order=order, amount_minor=5000)  # auto-approved under both
    middle = make_refund(order=order, amount_minor=30000)  # auto-approved now, reviewed by the draft
    make_refund(order=order, amount_minor=60000)  # reviewed under both (above 500)
    draft = draft_with(other=20000)

    backtest = policy_backtest(draft=draft, active=policy_get_active())

    assert backtest.evaluated == 3
    assert (backtest.active_totals["auto_approve"].count, backtest.draft_totals["auto_approve"].count) == (2, 1)
    assert backtest.active_totals["auto_approve"].amounts == {"USD": 35000}
    assert backtest.draft_totals["review"].amounts == {"USD": 90000}
    assert [row.refund.pk for row in backtest.changed] == [middle.pk]
    assert backtest.changed[0].draft.rule == "R-CEILING-OTHER"
    assert small.pk not in [row.refund.pk for row in backtest.changed]
    assert backtest.decided_differently == 0


def test_dual_control_is_counted_for_the_high_value_threshold():
    order = captured_order(amount_minor=1_000_000)
    make_refund(order=order, amount_minor=150000)  # reviewed (ceiling), one approval today
    backtest = policy_backtest(draft=draft_with(high_value=100000), active=policy_get_active())
    assert (backtest.active_totals["dual_control"].count, backtest.draft_totals["dual_control"].count) == (0, 1)
    assert backtest.changed_count == 1


def test_refunds_older_than_30_days_are_left_out():
    order = captured_order(amount_minor=100000)
    old = make_refund(order=order, amount_minor=5000)
    Refund.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert policy_backtest(draft=draft_with(other=100), active=policy_get_active()).evaluated == 0


def test_the_amount_as_requested_is_re_evaluated_not_the_edited_one():
    order = captured_order(amount_minor=1_000_000)
    refund = make_refund(order=order, amount_minor=100, reason=Reason.QUALITY)  # no evidence: reviewed
    refund_edit(refund_id=refund.pk, actor=agent(), amount_minor=400000)
    backtest = policy_backtest(draft=draft_with(quality=50), active=policy_get_active())
    assert backtest.active_totals["review"].amounts == {"USD": 100}
    assert backtest.active_totals["dual_control"].count == 0


def test_velocity_is_counted_as_it_was_when_each_refund_was_requested():
    order = captured_order(amount_minor=100000)
    refunds = [make_refund(order=order, amount_minor=100) for _ in range(6)]
    assert refunds[5].policy_rule == "R-VELOCITY-24H"
    backtest = policy_backtest(draft=draft_with(), active=policy_get_active())
    # Counted today, all six would see five others; counted as then, only the sixth is over the limit.
    assert backtest.active_totals["review"].count == 1
    assert backtest.decided_differently == 0
