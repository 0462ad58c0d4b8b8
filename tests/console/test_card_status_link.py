"""The card shows the customer's status link, to send again to a customer who lost it."""

import pytest

from tests.console.conftest import review_refund

pytestmark = pytest.mark.django_db


def test_card_shows_the_customers_status_link_to_copy(agent_client):
    refund = review_refund()
    html = agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    # Sealed at rest (Fernet, not a hash), so it can be shown again: the link the customer's emails carry.
    assert f'value="{refund.status_url}"' in html
    assert 'data-copy-from="status-link"' in html
    assert refund.status_token not in refund.status_token_sealed
