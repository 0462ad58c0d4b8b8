"""Reconciliation leaves store-credit refunds out: no provider ever heard of them (issue 15)."""

import pytest

from ledger.services import trial_balance
from reconciliation.enums import ItemKind
from reconciliation.models import ReconciliationItem
from tests.credits.factories import store_credit_policy, store_credit_refund
from tests.reconciliation.factories import refund_submitted
from tests.reconciliation.test_classify import kinds, run_file

pytestmark = pytest.mark.django_db


def test_a_store_credit_refund_is_not_missing_at_the_provider(system_actor):
    store_credit_policy(bonus_percent=10)
    credit_refund = store_credit_refund(amount_minor=2000)
    stuck = refund_submitted()
    assert credit_refund.payment.provider == stuck.payment.provider

    run = run_file(system_actor, [])

    assert kinds(run) == {stuck.public_id: ItemKind.MISSING_AT_PROVIDER}
    assert not ReconciliationItem.objects.filter(refund=credit_refund).exists()
    assert all(total == 0 for total in trial_balance().values())
