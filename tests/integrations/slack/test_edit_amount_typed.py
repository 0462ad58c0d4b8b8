"""The Edit modal's amount reads one way only: `1,50`, `1e2` or other scripts' digits are refused, never guessed.

The attack review's case: a comma-decimal `1,50` was read as 150.00 and
approved — a hundred times what was meant; `1e2` and `١٢` were amounts too.
The modal shares `core.money.parse_major_amount` with the console's forms.
"""

from __future__ import annotations

import json

import pytest

from refunds.enums import RefundState, Role
from refunds.models import Refund
from tests.integrations.slack.conftest import form, person, review_refund, sign
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db(transaction=True)


def edit_submission(refund: Refund, amount: str, *, user: str = "USAM") -> dict:
    """The Edit modal submitted with `amount` typed and "Save and approve", as Slack sends it."""
    return {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T0SIM"},
        "team": {"id": "T0SIM"},
        "view": {
            "id": "V1",
            "callback_id": "refund_edit",
            "private_metadata": json.dumps(
                {"refund": refund.public_id, "version": refund.version, "channel": APPROVALS_CHANNEL, "ts": "1.2"}
            ),
            "state": {
                "values": {
                    "amount": {"amount": {"type": "plain_text_input", "value": amount}},
                    "reply": {"reply": {"type": "plain_text_input", "value": "We refund {amount}."}},
                    "note": {"note": {"type": "plain_text_input", "value": None}},
                }
            },
        },
    }


@pytest.mark.parametrize("typed", ["1,50", "1e2", "١٢", "４５", "1_000"])
def test_an_amount_that_reads_two_ways_is_refused_in_the_modal(slack_settings, signed_post, typed):
    person(slack_settings, "sam", Role.AGENT)
    refund = review_refund(amount_minor=5000)
    body = form(edit_submission(refund, typed))
    answer = signed_post(body, sign(body, secret=slack_settings.signing_secret))
    assert answer.json() == {"response_action": "errors", "errors": {"amount": "Enter an amount such as 45.00."}}
    after = Refund.objects.get(pk=refund.pk)
    assert (after.state, after.amount_minor, after.version) == (RefundState.REQUESTED, 5000, refund.version)
    assert not after.decisions.exists()


def test_thousands_separators_still_work_in_the_modal(slack_settings, signed_post):
    person(slack_settings, "sam", Role.SENIOR_AGENT)  # above 200.00 a goodwill refund is for seniors
    refund = review_refund(amount_minor=5000, order_amount=500000)
    body = form(edit_submission(refund, "1,250.00"))
    answer = signed_post(body, sign(body, secret=slack_settings.signing_secret))
    assert answer.json() == {"response_action": "clear"}, answer.json()
    assert Refund.objects.get(pk=refund.pk).amount_minor == 125000
