import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from ledger.enums import AccountCode, EntryType
from ledger.models import Posting
from ledger.services import refund_post_reversed, refund_split_net_tax, trial_balance
from refunds.models import Refund
from tests.refunds.factories import OrderLineFactory, captured_order, make_refund

pytestmark = pytest.mark.django_db


def postings(refund, entry_type):
    return dict(
        Posting.objects.filter(entry__refund=refund, entry__entry_type=entry_type).values_list(
            "account_id", "amount_minor"
        )
    )


def test_pending_entry_splits_net_and_tax_pro_rata():
    order = captured_order(amount_minor=11000)
    OrderLineFactory(order=order, unit_amount_minor=10000, tax_minor=1000)
    refund = make_refund(order=order, amount_minor=5500)
    assert postings(refund, EntryType.REFUND_PENDING) == {
        AccountCode.SALES_RETURNS: 5000,
        AccountCode.TAX_PAYABLE: 500,
        AccountCode.REFUNDS_PAYABLE: -5500,
    }


def test_reversal_mirrors_the_pending_entry():
    order = captured_order(amount_minor=11000)
    OrderLineFactory(order=order, unit_amount_minor=10000, tax_minor=1000)
    refund = make_refund(order=order, amount_minor=3333)
    refund_post_reversed(refund=refund)
    pending = postings(refund, EntryType.REFUND_PENDING)
    reversed_ = postings(refund, EntryType.REFUND_REVERSED)
    assert reversed_ == {account: -amount for account, amount in pending.items()}
    assert trial_balance() == {"USD": 0}


class SplitProperties(HypothesisTestCase):
    @settings(max_examples=40, deadline=None)
    @given(
        lines=st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=10**7),
                st.integers(min_value=1, max_value=5),
                st.integers(min_value=0, max_value=10**6),
            ),
            min_size=1,
            max_size=6,
        ),
        fraction=st.fractions(min_value=0, max_value=1),
    )
    def test_net_plus_tax_is_always_the_refund_amount(self, lines, fraction):
        total = sum(unit * qty + tax for unit, qty, tax in lines)
        amount = max(1, int(total * fraction))
        order = captured_order(amount_minor=total)
        for unit, qty, tax in lines:
            OrderLineFactory(order=order, unit_amount_minor=unit, quantity=qty, tax_minor=tax)
        refund = Refund(order=order, amount_minor=amount, currency="USD")
        net, tax = refund_split_net_tax(refund=refund)
        assert net + tax == amount
        assert 0 <= tax <= sum(t for _, _, t in lines)
