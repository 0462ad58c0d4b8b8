"""The admin shows money as staff read it ('5,000.00 USD'), never raw minor units, in lists and detail pages."""

import re

import pytest

from audit.models import AuditEvent
from ledger.models import JournalEntry
from refunds.enums import RefundState, Role
from tests.refunds.factories import captured_order, make_refund, move_refund, staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_refund():
    refund = make_refund(order=captured_order(amount_minor=900000), amount_minor=500000)
    return move_refund(refund, RefundState.APPROVED)  # its ledger entry: money reserved


def no_raw_amount(html: str) -> None:
    assert "500000" not in re.sub(r'href="[^"]*"|value="[^"]*"', "", html)
    assert "amount_minor" not in html and "Amount minor" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/refunds/refund/",
        "/admin/refunds/payment/",
        "/admin/ledger/journalentry/",
        "/admin/audit/auditevent/",
    ],
)
def test_lists_show_formatted_money(big_refund, url):
    html = staff_client("root", Role.ADMIN, superuser=True).get(url).content.decode()
    assert "5,000.00 USD" in html or "9,000.00 USD" in html
    no_raw_amount(html)


def test_detail_pages_show_formatted_money(big_refund):
    client = staff_client("root", Role.ADMIN, superuser=True)
    entry = JournalEntry.objects.filter(refund=big_refund).first()
    event = AuditEvent.objects.filter(refund=big_refund, amount_minor=500000).first()
    for url in (
        f"/admin/refunds/refund/{big_refund.pk}/change/",
        f"/admin/refunds/payment/{big_refund.payment.pk}/change/",
        f"/admin/ledger/journalentry/{entry.pk}/change/",
        f"/admin/audit/auditevent/{event.pk}/change/",
    ):
        html = client.get(url).content.decode()
        assert "5,000.00 USD" in html or "9,000.00 USD" in html, url
        no_raw_amount(html)


def test_admin_times_name_the_zone_of_the_person_reading(big_refund):
    from console.models import StaffProfile

    client = staff_client("root", Role.ADMIN, superuser=True)
    StaffProfile.objects.create(user=client.user, time_zone="Asia/Tokyo")
    html = client.get("/admin/refunds/refund/").content.decode()
    assert "JST" in html
