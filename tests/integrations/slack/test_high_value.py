"""Save and approve above the policy's high-value threshold asks for the same explicit confirmation as the console.

A submission signed by hand with the simulator's secret (the simulator's
modals have no checkboxes), the person mapped through its users.info.
"""

from __future__ import annotations

import json

import pytest

from integrations.slack import text
from refunds.enums import DecisionKind, RefundState, Role
from refunds.models import Refund
from refunds.services.policy import high_value_threshold_minor
from tests.integrations.slack.conftest import form, person, review_refund, sign

pytestmark = pytest.mark.django_db


def submission(refund: Refund, *, amount: str, confirmed: bool) -> dict:
    values = {
        "amount": {"amount": {"type": "plain_text_input", "value": amount}},
        "reply": {"reply": {"type": "plain_text_input", "value": "We refund {amount}."}},
        "note": {"note": {"type": "plain_text_input", "value": None}},
        "confirm": {
            "confirm": {
                "type": "checkboxes",
                "selected_options": [{"value": "confirm_high_value"}] if confirmed else [],
            }
        },
    }
    return {
        "type": "view_submission",
        "user": {"id": "USAM", "team_id": "T0SIM"},
        "team": {"id": "T0SIM"},
        "view": {
            "id": "V1",
            "callback_id": "refund_edit",
            "private_metadata": json.dumps(
                {"refund": refund.public_id, "version": refund.version, "channel": "C0APPROVALS", "ts": "1.2"}
            ),
            "state": {"values": values},
        },
    }


def submit(signed_post, sim, payload: dict) -> dict:
    body = form(payload)
    response = signed_post(body, sign(body, secret=sim.signing_secret))
    assert response.status_code == 200
    return response.json()


def test_above_the_threshold_unconfirmed_is_refused_on_the_box_then_confirmed_it_goes(slack_settings, signed_post):
    person(slack_settings, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=5000, order_amount=500000)
    threshold = high_value_threshold_minor(refund.policy_version, "USD")
    assert threshold is not None and threshold < 250000
    answer = submit(signed_post, slack_settings, submission(refund, amount="2500.00", confirmed=False))
    assert answer == {"response_action": "errors", "errors": {"confirm": text.HIGH_VALUE_UNCONFIRMED}}
    assert Refund.objects.get(pk=refund.pk).amount_minor == 5000

    answer = submit(signed_post, slack_settings, submission(refund, amount="2500.00", confirmed=True))
    assert answer == {"response_action": "clear"}
    after = Refund.objects.get(pk=refund.pk)
    # High value needs two seniors: the edit is saved and this senior's approval is the first of two.
    assert (after.amount_minor, after.state, after.approvals_required) == (250000, RefundState.REQUESTED, 2)
    assert after.decisions.filter(kind=DecisionKind.APPROVE).count() == 1


def test_below_the_threshold_needs_no_confirmation(slack_settings, signed_post):
    person(slack_settings, "sam", Role.SENIOR_AGENT)
    refund = review_refund(amount_minor=5000, order_amount=500000)
    answer = submit(signed_post, slack_settings, submission(refund, amount="60.00", confirmed=False))
    assert answer == {"response_action": "clear"}
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
