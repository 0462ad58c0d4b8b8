"""Attack: a refund by line of an untaxed item books tax the merchant never collected on it.

Issue 15: "the amount is computed from the lines with their tax". The refund
knows its tax exactly (`RefundLine.tax_minor`), yet the approval's journal
entry splits the amount pro rata over *every* line of the order
(`ledger.services.refund_split_net_tax`). Refunding the untaxed book of an
order that also holds a taxed item debits tax payable anyway: the tax
return understates what is owed, sales returns are understated by as much.
"""

from __future__ import annotations

import pytest

from ledger.enums import AccountCode, EntryType
from ledger.models import Posting
from refunds.enums import Reason, RefundState
from refunds.services.lines import LineRequest
from refunds.services.request import refund_request
from tests.refunds.factories import OrderLineFactory, captured_order, requester

pytestmark = pytest.mark.django_db


def postings(refund, entry_type) -> dict[str, int]:
    rows = Posting.objects.filter(entry__refund=refund, entry__entry_type=entry_type)
    return dict(rows.values_list("account_id", "amount_minor"))


def test_the_pending_entry_books_the_tax_of_the_refunded_lines_only():
    order = captured_order(amount_minor=2000 + 1000 + 200)
    OrderLineFactory(order=order, line_no=1, sku="BOOK", unit_amount_minor=2000, quantity=1, tax_minor=0)
    OrderLineFactory(order=order, line_no=2, sku="GADGET", unit_amount_minor=1000, quantity=1, tax_minor=200)

    refund = refund_request(
        order=order,
        lines=[LineRequest("BOOK", 1)],
        currency="USD",
        reason=Reason.OTHER,
        actor=requester(),
    )

    assert refund.state == RefundState.APPROVED
    line = refund.lines.get()
    assert (line.amount_minor, line.tax_minor) == (2000, 0)
    assert postings(refund, EntryType.REFUND_PENDING) == {
        AccountCode.SALES_RETURNS: 2000,
        AccountCode.REFUNDS_PAYABLE: -2000,
    }
