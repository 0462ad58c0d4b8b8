"""Finance's home (issue 12 item 6): the last day with activity by default, and empty exports that say why."""

from datetime import timedelta

import pytest

from refunds.enums import Role
from tests.reconciliation.factories import refund_settled_earlier, today
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_client(client):
    client.force_login(UserFactory(username="fiona", role=Role.FINANCE))
    return client


def test_the_run_form_defaults_to_the_last_day_a_refund_settled_not_an_empty_yesterday(finance_client):
    refund_settled_earlier(days=4)
    day = today() - timedelta(days=4)

    form = finance_client.get("/finance/").context["request_form"]

    assert form.initial["day"] == day


def test_without_any_settlement_the_default_stays_yesterday(finance_client):
    assert finance_client.get("/finance/").context["request_form"].initial["day"] == today() - timedelta(days=1)


def test_an_empty_range_export_says_why_and_offers_the_last_day_with_activity(finance_client):
    refund_settled_earlier(days=4)
    settled = today() - timedelta(days=4)
    day = today() - timedelta(days=1)

    response = finance_client.get("/finance/export.csv", {"day_from": day, "day_to": day})

    html = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert f"No refund settled on {day}." in html
    assert f"The last refund settled on <strong>{settled}</strong>; nothing since." in html
    assert f"day_from={settled}&amp;day_to={settled}" in html


def test_an_empty_ledger_export_says_nothing_was_posted(finance_client):
    day = today() - timedelta(days=1)
    html = finance_client.get("/finance/ledger/export.csv", {"day_from": day, "day_to": day}).content.decode()
    assert "Nothing was posted to the ledger" in html and "No refund has settled yet." in html
