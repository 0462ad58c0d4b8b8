"""Events partitioned by month (issue 17, events/0006): listed, paged and delivered across a month's end."""

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from events.enums import EventType
from events.models import Event, WebhookDelivery
from events.writer import event_write
from tests.events.conftest import PUBLIC_URL
from tests.events.webhook_setup import endpoint_at
from tests.refunds.factories import api_key, captured_order, make_refund
from tests.support.partitions import month_edges, partition_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def month_end_events():
    """A refund's own events, then one at 23:59:59 on the month's last day and one a second past midnight."""
    endpoint_at(PUBLIC_URL)
    refund = make_refund(order=captured_order(), amount_minor=1000)
    last_second, first_second = month_edges()
    before = event_write(refund=refund, event_type=EventType.UPDATED, data={"n": 1}, at=last_second)
    after = event_write(refund=refund, event_type=EventType.UPDATED, data={"n": 2}, at=first_second)
    assert partition_of("events_event", before.pk) != partition_of("events_event", after.pk)
    return before, after


def test_events_of_two_months_list_in_sequence_order_and_page_across_the_month_end(month_end_events):
    before, after = month_end_events
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('acme-system')}")
    listed = client.get("/v1/events").json()["data"]
    assert [event["sequence"] for event in listed] == sorted(Event.objects.values_list("sequence", flat=True))
    assert [event["id"] for event in listed][-2:] == [before.public_id, after.public_id]
    page = client.get(f"/v1/events?after={before.public_id}").json()
    assert [event["id"] for event in page["data"]] == [after.public_id]
    assert client.get(f"/v1/events/{after.public_id}").json()["sequence"] == after.sequence


def test_deliveries_find_their_events_in_any_month(month_end_events):
    # Their foreign key into the events is gone (events/0006): the join still finds each one.
    before, after = month_end_events
    deliveries = WebhookDelivery.objects.select_related("event").filter(event_id__in=[before.pk, after.pk])
    assert sorted(delivery.event.public_id for delivery in deliveries) == sorted([before.public_id, after.public_id])


def test_events_stay_append_only_in_every_partition(month_end_events):
    for event in month_end_events:
        partition = partition_of("events_event", event.pk)
        for sql in (f'UPDATE "{partition}" SET type = %s WHERE id = %s', f'DELETE FROM "{partition}" WHERE id = %s'):
            params = ["refund.completed", event.pk] if sql.startswith("UPDATE") else [event.pk]
            with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
