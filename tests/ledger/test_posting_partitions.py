"""Postings partitioned by their entry's month (issue 17, ledger/0009): still balanced, still append-only."""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.calendar import next_month
from ledger.enums import AccountCode, EntryType
from ledger.models import JournalEntry, Posting
from ledger.services import trial_balance
from tests.refunds.factories import captured_order, make_refund
from tests.support.partitions import partition_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_refund():
    return make_refund(order=captured_order(amount_minor=10000), amount_minor=10000)


def commit_checks() -> None:
    """Run the deferred balance triggers now, as COMMIT would."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def entry_booked_on(refund, booked_on: date, lines, entry_type=EntryType.REFUND_SETTLED) -> JournalEntry:
    """An entry booked on `booked_on` with its postings, each carrying `booked_on` unless a line says otherwise."""
    debits = sum(amount for _, amount, *dated in lines if amount > 0 and not dated)
    entry = JournalEntry.objects.create(
        refund=refund, entry_type=entry_type, currency="USD", amount_minor=debits, booked_on=booked_on
    )
    for account, amount, *posting_date in lines:
        Posting.objects.create(
            entry=entry,
            account_id=account,
            currency="USD",
            amount_minor=amount,
            booked_on=posting_date[0] if posting_date else booked_on,
        )
    return entry


def test_postings_carry_their_entry_date_and_sit_in_its_month(approved_refund):
    entry = JournalEntry.objects.get(refund=approved_refund, entry_type=EntryType.REFUND_PENDING)
    postings = list(entry.postings.all())
    assert postings and {posting.booked_on for posting in postings} == {entry.booked_on}
    assert {partition_of("ledger_posting", posting.pk) for posting in postings} == {
        f"ledger_posting_{entry.booked_on:%Y_%m}"
    }


def test_entries_of_two_months_balance_in_two_partitions(approved_refund):
    pending = JournalEntry.objects.get(refund=approved_refund, entry_type=EntryType.REFUND_PENDING)
    settled = entry_booked_on(
        approved_refund,
        next_month(pending.booked_on.replace(day=1)),
        [(AccountCode.REFUNDS_PAYABLE, 10000), (AccountCode.PROVIDER_CLEARING, -10000)],
    )
    commit_checks()
    months = {partition_of("ledger_posting", p.pk) for p in Posting.objects.filter(entry__in=[pending, settled])}
    assert len(months) == 2
    assert trial_balance() == {"USD": 0}  # every partition is summed


def test_a_posting_booked_in_another_month_than_its_entry_is_refused_at_commit(approved_refund):
    # The entry balances in its own month's partition; a balanced pair slipped into next month's would
    # escape a balance check that reads one partition, so the posting's date itself is refused.
    today = JournalEntry.objects.get(refund=approved_refund).booked_on
    later = next_month(today.replace(day=1))
    with pytest.raises(IntegrityError, match="is booked on"), transaction.atomic():
        entry_booked_on(
            approved_refund,
            today,
            [
                (AccountCode.REFUNDS_PAYABLE, 100),
                (AccountCode.PROVIDER_CLEARING, -100),
                (AccountCode.SALES_RETURNS, 5, later),
                (AccountCode.TAX_PAYABLE, -5, later),
            ],
        )
        commit_checks()


def test_a_balanced_pair_added_later_to_an_entry_is_still_refused(approved_refund):
    # The balance trigger reads only the entry's month: every posting of the entry must still count.
    entry = JournalEntry.objects.get(refund=approved_refund, entry_type=EntryType.REFUND_PENDING)
    with pytest.raises(IntegrityError, match="debits"), transaction.atomic():
        for account, amount in ((AccountCode.SALES_RETURNS, 500), (AccountCode.REFUNDS_PAYABLE, -500)):
            Posting.objects.create(
                entry=entry, account_id=account, currency="USD", amount_minor=amount, booked_on=entry.booked_on
            )
        commit_checks()


def test_postings_stay_append_only_in_every_partition(approved_refund):
    pending = JournalEntry.objects.get(refund=approved_refund, entry_type=EntryType.REFUND_PENDING)
    settled = entry_booked_on(
        approved_refund,
        next_month(pending.booked_on.replace(day=1)),
        [(AccountCode.REFUNDS_PAYABLE, 10000), (AccountCode.PROVIDER_CLEARING, -10000)],
    )
    commit_checks()
    for entry in (pending, settled):
        partition = partition_of("ledger_posting", entry.postings.first().pk)
        for sql in (f'UPDATE "{partition}" SET amount_minor = amount_minor + 1', f'DELETE FROM "{partition}"'):
            with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
