"""Risk sets store credit and proration in the policy editor: drafted, diffed, backtested, four-eyes (issue 15)."""

import pytest

from console.forms import RefundPolicyForm
from refunds.enums import Reason, RefundInstrument, Role
from refunds.models import RefundPolicy
from refunds.services.policy import policy_get_active
from tests.console.admin.test_refunds import ADD_URL, policy_data
from tests.credits.factories import store_credit_policy
from tests.refunds.factories import captured_order, make_refund, staff_client

pytestmark = pytest.mark.django_db

STORE_CREDIT = {
    "store_credit_enabled": "on",
    "store_credit_bonus_percent": "10",
    "store_credit_expiry_days": "180",
    "proration_enabled": "on",
}


def test_the_new_options_are_fields_with_help_text():
    form = RefundPolicyForm(instance=policy_get_active())
    for name in STORE_CREDIT:
        assert form.fields[name].help_text, name


@pytest.mark.parametrize(
    ("field", "value"),
    [("store_credit_bonus_percent", "101"), ("store_credit_bonus_percent", "-1"), ("store_credit_expiry_days", "0")],
)
def test_out_of_range_values_are_refused(field, value):
    form = RefundPolicyForm(data=policy_data(**{**STORE_CREDIT, field: value}), instance=RefundPolicy())
    assert not form.is_valid() and field in form.errors


def test_a_draft_carries_the_options_through_review_into_force():
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data(**STORE_CREDIT))
    draft = RefundPolicy.objects.get(version=2)
    assert (draft.store_credit_enabled, draft.store_credit_bonus_percent, draft.store_credit_expiry_days) == (
        True,
        10,
        180,
    )
    assert draft.proration_enabled is True
    reviewer = staff_client("risk2", Role.RISK)
    page = reviewer.get(f"/admin/refunds/refundpolicy/{draft.pk}/review/").content.decode()
    assert "store_credit_enabled: False → True" in page
    assert "store_credit_bonus_percent: 0 → 10" in page
    assert "proration_enabled: False → True" in page
    assert "Version 2: offered, bonus 10%, valid 180 days" in page
    reviewer.post(f"/admin/refunds/refundpolicy/{draft.pk}/review/", {"action": "approve", "note": "ok"})

    refund = make_refund(
        order=captured_order(amount_minor=10000), amount_minor=5000, instrument=RefundInstrument.STORE_CREDIT
    )
    assert refund.store_credit.amount_minor == 5500


def test_the_backtest_shows_the_bonus_each_version_would_add():
    store_credit_policy(bonus_percent=10)
    for amount in (1000, 2005):
        make_refund(
            order=captured_order(amount_minor=10000),
            amount_minor=amount,
            reason=Reason.OTHER,
            instrument=RefundInstrument.STORE_CREDIT,
        )
    staff_client("risk1", Role.RISK).post(ADD_URL, policy_data(**{**STORE_CREDIT, "store_credit_bonus_percent": "25"}))
    draft = RefundPolicy.objects.get(status="draft")
    page = staff_client("risk2", Role.RISK).get(f"/admin/refunds/refundpolicy/{draft.pk}/review/").content.decode()
    # 10% of 10.00 and 20.05 rounded down: 1.00 + 2.00; 25%: 2.50 + 5.01.
    assert "<td>3.00 USD</td>" in page and "<td>7.51 USD</td>" in page
