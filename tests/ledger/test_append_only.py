"""The ledger's invariants hold in PostgreSQL itself, not only in our Python."""

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.enums import AccountCode, EntryType
from ledger.models import JournalEntry, Posting
from ledger.services import UnbalancedEntry, entry_post, trial_balance
from tests.refunds.factories import captured_order, make_refund


@pytest.fixture
def approved_refund(db):
    return make_refund(order=captured_order(amount_minor=10000), amount_minor=10000)


def test_entries_cannot_be_updated(approved_refund):
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.filter(refund=approved_refund).update(memo="edited")


def test_entries_and_postings_cannot_be_deleted(approved_refund):
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.filter(entry__refund=approved_refund).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_journalentry")


def test_postings_cannot_be_changed_in_raw_sql(approved_refund):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_posting SET amount_minor = amount_minor + 1")


def test_one_entry_per_type_per_refund(approved_refund):
    with pytest.raises(IntegrityError), transaction.atomic():
        entry_post(
            refund=approved_refund,
            entry_type=EntryType.REFUND_PENDING,
            lines=[(AccountCode.SALES_RETURNS, 1), (AccountCode.REFUNDS_PAYABLE, -1)],
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(
            refund=approved_refund, entry_type=EntryType.REFUND_PENDING, currency="USD", amount_minor=1
        )
    entries = JournalEntry.objects.filter(refund=approved_refund, entry_type=EntryType.REFUND_PENDING)
    assert list(entries.values_list("amount_minor", flat=True)) == [10000]


def test_unbalanced_entry_is_refused_before_the_database(approved_refund):
    with pytest.raises(UnbalancedEntry):
        entry_post(
            refund=approved_refund,
            entry_type=EntryType.REFUND_SETTLED,
            lines=[(AccountCode.REFUNDS_PAYABLE, 100), (AccountCode.PROVIDER_CLEARING, -99)],
        )


@pytest.mark.django_db(transaction=True)
def test_database_refuses_to_commit_an_unbalanced_entry():
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=10000)
    with pytest.raises(IntegrityError), transaction.atomic():
        entry = JournalEntry.objects.create(
            refund=refund, entry_type=EntryType.REFUND_SETTLED, currency="USD", amount_minor=100
        )
        for account, amount in ((AccountCode.REFUNDS_PAYABLE, 100), (AccountCode.PROVIDER_CLEARING, -99)):
            Posting.objects.create(
                entry=entry, account_id=account, currency="USD", amount_minor=amount, booked_on=entry.booked_on
            )
    assert not JournalEntry.objects.filter(entry_type=EntryType.REFUND_SETTLED).exists()
    assert trial_balance() == {"USD": 0}
