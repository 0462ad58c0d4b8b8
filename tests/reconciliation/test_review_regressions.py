"""Review of the providers refactor: a run of one provider must not account for another provider's refunds."""

from __future__ import annotations

import pytest

from reconciliation.enums import ItemKind
from reconciliation.models import ReconciliationItem
from refunds.enums import Reason, RefundState
from tests.reconciliation.factories import new_provider_id, provider_row
from tests.reconciliation.test_runs import run_file
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_a_stripe_row_naming_a_manual_refund_is_not_matched_to_it(system_actor):
    """Payments name their provider now, and a run is of one provider; only `unlisted_build` filters by it.

    Pass 1 (`items_insert_listed`) joins every refund by provider id, and
    `meta_build` every refund by the metadata refund_id, whatever its payment's
    provider. A Stripe refund that names a hand-paid refund (someone refunded
    the same money at Stripe too: a double refund) is then linked to that
    manual refund (its item carries our refund, our amount and public id) instead
    of standing alone as a Stripe refund we do not know.
    """
    manual = make_refund(
        order=captured_order(amount_minor=10000, provider="manual"), amount_minor=2500, reason=Reason.NOT_RECEIVED
    )
    assert manual.state == RefundState.APPROVED  # a payout task waits for finance

    stripe_row = provider_row(None, id=new_provider_id(), amount=2500, **{"metadata[refund_id]": manual.public_id})
    run = run_file(system_actor, [stripe_row])

    item = ReconciliationItem.objects.get(run=run, provider_refund_id=stripe_row["id"])
    assert item.refund_id != manual.pk, f"the Stripe refund was linked to the manual refund ({item.kind})"
    assert item.kind == ItemKind.MISSING_IN_LEDGER
