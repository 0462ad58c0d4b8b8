"""Save and approve above the policy's high-value threshold asks for the same explicit confirmation as the console.

Through the simulator (its modals have checkboxes) and the live app: the
Edit modal's `confirm` box, the person mapped through its users.info.
"""

from __future__ import annotations

import pytest

from integrations.slack import text
from integrations.slack.modals import CONFIRM_VALUE
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from refunds.services.policy import high_value_threshold_minor
from tests.integrations.slack.conftest import person, post_card, review_refund
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)


def edit_modal(sim, refund: Refund) -> str:
    ts = post_card(refund)
    assert sim.click("USAM", APPROVALS_CHANNEL, ts, "edit")["status"] == 200
    view = sim.open_view("USAM")
    assert view is not None and view["view"]["callback_id"] == "refund_edit"
    return view["id"]


def values(amount: str, *, confirmed: bool) -> dict:
    return {"amount": {"amount": amount}, "confirm": {"confirm": [CONFIRM_VALUE] if confirmed else []}}


def test_above_the_threshold_unconfirmed_is_refused_on_the_box_then_confirmed_it_goes(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=5000, order_amount=500000)
    threshold = high_value_threshold_minor(refund.policy_version, "USD")
    assert threshold is not None and threshold < 250000
    view_id = edit_modal(slack_app, refund)
    answer = slack_app.submit(view_id, "USAM", values("2500.00", confirmed=False))
    assert (answer["view_state"], answer["errors"]) == ("open", {"confirm": text.HIGH_VALUE_UNCONFIRMED})
    assert Refund.objects.get(pk=refund.pk).amount_minor == 5000

    answer = slack_app.submit(view_id, "USAM", values("2500.00", confirmed=True))
    assert answer["view_state"] == "closed", answer
    after = Refund.objects.get(pk=refund.pk)
    # High value needs two seniors: the edit is saved and this senior's approval is the first of two.
    assert (after.amount_minor, after.state, after.approvals_required) == (250000, RefundState.REQUESTED, 2)
    assert after.decisions.filter(kind=DecisionKind.APPROVE).count() == 1


def test_below_the_threshold_needs_no_confirmation(slack_app, tasks):
    person(slack_app, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=5000, order_amount=500000)
    view_id = edit_modal(slack_app, refund)
    answer = slack_app.submit(view_id, "USAM", values("60.00", confirmed=False))
    assert answer["view_state"] == "closed", answer
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
