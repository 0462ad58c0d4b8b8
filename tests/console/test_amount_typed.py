"""The card's edit form reads an amount one way only (core.money.parse_major_amount): `1,50` is refused, not 150.00."""

import pytest

from refunds.enums import RefundState
from refunds.models import Refund
from tests.console.conftest import review_refund
from tests.console.test_card import card_url, seen

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["1,50", "1e2", "١٢", "４５", "1_000"])
def test_an_amount_that_reads_two_ways_is_refused_on_the_field(agent_client, typed):
    refund = review_refund()
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "ok", "amount": typed, "action": "save"}
    )
    assert response.status_code == 400
    assert "Enter an amount such as 45.00." in response.content.decode()
    after = Refund.objects.get(pk=refund.pk)
    assert (after.state, after.amount_minor, after.version) == (
        RefundState.REQUESTED,
        refund.amount_minor,
        refund.version,
    )


def test_a_comma_not_grouping_three_digits_is_refused_and_a_plain_amount_saved(agent_client):
    refund = review_refund()
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "ok", "amount": "1,0.00", "action": "save"}
    )
    assert response.status_code == 400  # a comma not grouping three digits
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "ok", "amount": "40.00", "action": "save"}
    )
    assert response.status_code in (200, 302)
    assert Refund.objects.get(pk=refund.pk).amount_minor == 4000
