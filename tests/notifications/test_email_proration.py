"""The customer's email of a refund for time not used carries the arithmetic in one line (issue 15)."""

from __future__ import annotations

import pytest

from notifications.emails import notification_build
from notifications.messages import MSG_APPROVED
from tests.refunds.factories import captured_order, make_refund
from tests.refunds.proration_fixtures import prorated_refund, prorating_policy, running_service

pytestmark = pytest.mark.django_db


def test_the_email_shows_how_the_amount_was_reached():
    prorating_policy()
    refund = prorated_refund(running_service())
    email = notification_build(refund=refund, message_id=MSG_APPROVED, language="en")
    assert "Time not used: €300.00 × 11/30 days unused = €110.00" in email.body
    assert "€300.00 × 11/30 days unused = €110.00" in email.alternatives[0][0]


def test_other_refunds_have_no_such_line():
    refund = make_refund(order=captured_order(), amount_minor=100)
    email = notification_build(refund=refund, message_id=MSG_APPROVED, language="en")
    assert "Time not used" not in email.body
