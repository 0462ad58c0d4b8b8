"""Attack on the synthetic journey (issue 16): the `synthetic` merchant is known by its slug alone.

Every SLO measure leaves out refunds whose merchant's slug is `synthetic` (refunds.metrics:
`is_synthetic`, `_customer_refunds`), and the journey adopts whatever merchant has that slug
(operations.synthetic.synthetic_merchant). Nothing reserves the slug: an operator can onboard a
real tenant as `synthetic` (say "Synthetic Fabrics Ltd"), mint it API keys and take real refunds.
Then (a) that tenant's refunds silently vanish from the SLO histograms and ratio gauges (an insider
can hide a breach, or a careless operator can), and (b) every synthetic run every 5 minutes pushes
test orders and refunds into the real tenant: its API lists, its refund documents and its merchant
webhooks (refund.* events to its real endpoints).
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from operations.synthetic import synthetic_merchant
from refunds.models import Merchant

pytestmark = pytest.mark.django_db


def test_an_operator_cannot_onboard_a_tenant_under_the_synthetic_slug():
    with pytest.raises(CommandError):
        call_command("create_merchant", "synthetic", "--name", "Synthetic Fabrics Ltd", "--email", "it@fabrics.test")


def test_the_journey_never_adopts_a_merchant_it_did_not_onboard():
    real = Merchant.objects.create(slug="synthetic", name="Synthetic Fabrics Ltd", contact_email="it@fabrics.test")

    try:
        adopted = synthetic_merchant()
    except Exception:  # noqa: BLE001 - refusing is a right answer too
        return
    assert adopted.pk != real.pk, "the synthetic journey writes its orders and refunds into a real tenant"
