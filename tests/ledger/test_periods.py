"""Every journal entry is booked into an open month: the database refuses a closed one, late items move forward."""

import json

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.calendar import business_today, month_start, next_month
from ledger.enums import EntryType, PeriodState
from ledger.models import AccountingPeriod, JournalEntry
from ledger.services import booking_date
from refunds.enums import RefundState, WebhookStatus
from refunds.models import Refund
from tests.reconciliation.finance_factories import closed, last_month, moment_in, months_ago
from tests.refunds.factories import captured_order, make_refund
from tests.support.stripe_events import refund_event_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_refund():
    return make_refund(order=captured_order(amount_minor=10000), amount_minor=10000)


def insert_raw(refund, booked_on):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (entry_type, refund_id, currency, amount_minor, memo, created_at,"
            " event_on, booked_on) VALUES ('REFUND_SETTLED', %s, 'USD', 100, '', now(), %s, %s)",
            [refund.pk, booked_on, booked_on],
        )


def test_a_posting_into_a_closed_period_from_raw_sql_is_refused_by_the_database(approved_refund):
    month = last_month()
    closed(month)
    with pytest.raises(IntegrityError, match="is closed"), transaction.atomic():
        insert_raw(approved_refund, month.replace(day=20))
    assert not JournalEntry.objects.filter(entry_type=EntryType.REFUND_SETTLED).exists()


def test_a_raw_posting_into_an_unseen_month_opens_its_period_row(approved_refund):
    month = months_ago(3)
    assert not AccountingPeriod.objects.filter(month=month).exists()
    with transaction.atomic():
        insert_raw(approved_refund, month.replace(day=2))
        assert AccountingPeriod.objects.get(month=month).state == PeriodState.OPEN
        transaction.set_rollback(True)  # unbalanced on purpose: never committed


def test_booking_date_walks_past_every_closed_month():
    two_ago, one_ago = months_ago(2), last_month()
    closed(two_ago)
    closed(one_ago)
    assert booking_date(two_ago.replace(day=17)) == month_start(business_today())
    assert booking_date(business_today()) == business_today()


def test_an_event_in_an_open_month_keeps_its_date():
    month = last_month()
    assert booking_date(month.replace(day=9)) == month.replace(day=9)


@pytest.mark.usefixtures("stripe_webhooks")
def test_a_late_webhooks_settlement_lands_in_the_next_open_period():
    """The provider settled on the 28th of a month finance has closed; the webhook arrives after the close."""
    from tests.support.stripe_events import receive

    month = last_month()
    refund = make_refund(order=captured_order(amount_minor=5000), amount_minor=5000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    closed(month)
    body = refund_event_body(
        provider_refund_id="re_late", amount=5000, currency="usd", refund_id=refund.public_id, status="succeeded"
    )
    body["created"] = int(moment_in(month, day=28).timestamp())

    assert receive(json.dumps(body).encode()).status == WebhookStatus.PROCESSED

    settled = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_SETTLED)
    assert settled.event_on == month.replace(day=28)  # the original event date is kept
    assert settled.booked_on == next_month(month)  # booked on the first day of the next open month
    pending = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_PENDING)
    assert pending.booked_on == pending.event_on == business_today()


@pytest.mark.usefixtures("stripe_webhooks")
def test_a_webhook_dated_in_an_open_month_is_booked_on_its_own_date():
    from tests.support.stripe_events import receive

    month = last_month()
    refund = make_refund(order=captured_order(amount_minor=5000), amount_minor=5000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    body = refund_event_body(provider_refund_id="re_open", amount=5000, refund_id=refund.public_id)
    body["created"] = int(moment_in(month, day=28).timestamp())

    assert receive(json.dumps(body).encode()).status == WebhookStatus.PROCESSED

    settled = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_SETTLED)
    assert settled.booked_on == settled.event_on == month.replace(day=28)


@pytest.mark.parametrize("closed_months", [[], [1], [2, 1], [2]])
def test_an_entry_is_booked_as_booking_date_says_whatever_months_are_closed(approved_refund, closed_months):
    """The entry's one statement (period read, entry, postings: ledger.services) books as `booking_date` does."""
    from ledger.services import entry_post

    for count in closed_months:
        closed(months_ago(count))
    occurred = moment_in(months_ago(2), day=17)
    expected = booking_date(occurred.date())
    entry = entry_post(
        refund=approved_refund,
        entry_type=EntryType.REFUND_SETTLED,
        lines=[("refunds_payable", 10000), ("provider_clearing", -10000)],
        occurred_at=occurred,
    )
    stored = JournalEntry.objects.get(pk=entry.pk)
    assert (entry.booked_on, stored.booked_on, stored.event_on) == (expected, expected, occurred.date())
    assert sorted(stored.postings.values_list("account_id", "amount_minor")) == [
        ("provider_clearing", -10000),
        ("refunds_payable", 10000),
    ]
