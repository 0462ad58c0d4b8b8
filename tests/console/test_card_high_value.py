"""One explicit confirmation before approving above the policy's high-value threshold (issue 12 item 8).

Enforced by the view, not by JavaScript: a post without the ticked box is
refused with the reason, and nothing is recorded.
"""

import pytest

from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def reviewed(amount_minor: int, currency: str = "USD", reason: str = Reason.OTHER) -> Refund:
    # Above the currency's ceiling (R-CEILING-OTHER) or goodwill: reviewed, with an approve recommendation.
    order = captured_order(amount_minor=max(amount_minor * 2, 1_000_000), currency=currency)
    return make_refund(order=order, amount_minor=amount_minor, reason=reason)


def url(refund: Refund, action: str = "") -> str:
    return f"/console/refunds/{refund.public_id}/" + (f"{action}/" if action else "")


def approvals(refund: Refund) -> int:
    return Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).count()


def test_the_card_asks_for_the_confirmation_only_above_the_threshold(login):
    senior = login("senior1", Role.SENIOR_AGENT)
    above = senior.get(url(reviewed(200001))).content.decode()
    assert "High value:" in above and "2,000.01 USD is above 2,000.00 USD" in above
    assert 'name="confirm_high_value"' in above
    at = senior.get(url(reviewed(200000))).content.decode()
    assert "High value:" not in at


def test_approving_above_the_threshold_without_the_confirmation_is_refused(login):
    refund = reviewed(250000)
    assert refund.approvals_required == 2
    response = login("senior1", Role.SENIOR_AGENT).post(url(refund, "approve"), {"version": refund.version})
    assert response.status_code == 400
    assert "2,500.00 USD is above 2,000.00 USD" in response.content.decode()
    assert approvals(refund) == 0


def test_the_ticked_confirmation_lets_the_approval_through(login):
    refund = reviewed(250000)
    data = {"version": refund.version, "confirm_high_value": "on"}
    response = login("senior1", Role.SENIOR_AGENT).post(url(refund, "approve"), data, follow=True)
    assert "Your approval is recorded (1 of 2)" in response.content.decode()
    assert approvals(refund) == 1


@pytest.mark.parametrize(("currency", "threshold"), [("JPY", 300000), ("KWD", 600000)])
def test_the_threshold_is_the_one_of_the_refunds_currency(login, currency, threshold):
    senior = login("senior1", Role.SENIOR_AGENT)
    at = reviewed(threshold, currency)
    assert senior.post(url(at, "approve"), {"version": at.version}).status_code == 302
    above = reviewed(threshold + 1, currency)
    assert senior.post(url(above, "approve"), {"version": above.version}).status_code == 400


def test_save_and_approve_raising_the_amount_above_the_threshold_needs_the_confirmation(login):
    refund = reviewed(10000, reason=Reason.GOODWILL)
    senior = login("senior1", Role.SENIOR_AGENT)
    data = {"version": refund.version, "reply": "We approved your refund.", "amount": "2500.00", "action": "approve"}
    response = senior.post(url(refund, "edit"), data)
    assert (
        response.status_code == 400 and "Tick “I confirm approving this high-value refund”" in response.content.decode()
    )
    refund.refresh_from_db()
    assert (refund.amount_minor, approvals(refund)) == (10000, 0)  # neither the edit nor the approval happened
    response = senior.post(url(refund, "edit"), {**data, "confirm_high_value": "on"}, follow=True)
    assert "Your approval is recorded (1 of 2)" in response.content.decode()
    refund.refresh_from_db()
    assert (refund.amount_minor, refund.approvals_required, approvals(refund)) == (250000, 2, 1)
    assert refund.state == RefundState.REQUESTED
