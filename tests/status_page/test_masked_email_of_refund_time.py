"""The status page shows the address a refund was requested under, not one pushed later (issue 10 item 4).

Whoever re-points a customer's address must not see it confirmed on the
pages of refunds asked for before: the page keeps the masked address of the
refund's own time.
"""

from __future__ import annotations

import pytest

from refunds.models import Customer
from tests.support.customer_states import refund_in_state

pytestmark = pytest.mark.django_db


def test_a_later_address_change_does_not_show_on_an_older_refunds_page(client):
    refund = refund_in_state("requested", email="jane.doe@example.com")
    Customer.objects.filter(pk=refund.order.customer_id).update(email="mallory@attacker.example")
    body = client.get(f"/r/{refund.status_token}/").content.decode()
    assert "j•••@example.com" in body
    assert "attacker.example" not in body
