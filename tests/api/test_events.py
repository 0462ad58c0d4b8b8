"""GET /v1/events and /v1/events/{id}: a merchant's events, in commit order, and never another merchant's."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.errors import ERR_AUTHZ_SCOPE, ERR_NOT_FOUND, ERR_VALIDATION
from events.models import Event
from refunds.enums import Reason, RefundState, Scope
from tests.refunds.factories import captured_order, make_refund, move_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_client(client_for):
    return client_for("acme-system")


@pytest.fixture
def globex_client(globex, client_for):
    return client_for("globex-system", merchant="globex")


def refunds_of(merchant=None, n: int = 1):
    fields = {"order__merchant": merchant} if merchant is not None else {}
    return [make_refund(order=captured_order(**fields), amount_minor=1000 + i) for i in range(n)]


def ids(answer) -> list[str]:
    return [event["id"] for event in answer.json()["data"]]


# --- the attacks first ------------------------------------------------------------


def test_another_merchants_event_is_not_found_exactly_like_an_unknown_one(acme_client, globex):
    [theirs] = refunds_of(globex)
    their_event = Event.objects.filter(refund=theirs).first()
    foreign = acme_client.get(f"/v1/events/{their_event.public_id}")
    unknown = acme_client.get("/v1/events/evt_000000000000000000000000")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["code"] == unknown.json()["code"] == ERR_NOT_FOUND
    assert foreign.json()["message"] == unknown.json()["message"]


def test_lists_never_show_another_merchants_events(acme_client, globex_client, globex):
    ours = refunds_of(n=2)
    theirs = refunds_of(globex, n=2)
    for type_filter, types in (("", None), ("?type=refund.*", None), ("?type=refund.created", ["refund.created"])):
        listed = ids(acme_client.get(f"/v1/events{type_filter}"))
        expected = Event.objects.filter(refund__in=ours, **({"type__in": types} if types else {}))
        assert listed and set(listed) == set(expected.values_list("public_id", flat=True))
    assert set(ids(globex_client.get("/v1/events"))) == set(
        Event.objects.filter(refund__in=theirs).values_list("public_id", flat=True)
    )


def test_another_merchants_event_is_refused_as_a_cursor_like_an_unknown_one(acme_client, globex):
    refunds_of(n=1)
    [theirs] = refunds_of(globex)
    their_event = Event.objects.filter(refund=theirs).first()
    foreign = acme_client.get(f"/v1/events?after={their_event.public_id}")
    unknown = acme_client.get("/v1/events?after=evt_000000000000000000000000")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json()["code"] == ERR_VALIDATION
    assert foreign.json()["details"] == unknown.json()["details"] == {"fields": {"after": ["unknown"]}}


@pytest.mark.django_db(transaction=True)
def test_a_refund_star_list_never_contains_another_merchants_events_while_they_are_written(globex, client_for):
    acme = client_for("acme-racer")
    ours = {e.public_id for e in Event.objects.filter(refund__in=refunds_of(n=3))}
    seen: set[str] = set()
    done = threading.Event()

    def globex_moves() -> None:
        try:
            for refund in refunds_of(globex, n=5):
                move_refund(refund, RefundState.CANCELED)
        finally:
            done.set()
            connection.close()

    writer = threading.Thread(target=globex_moves)
    writer.start()
    try:
        while not done.is_set():
            seen |= set(ids(acme.get("/v1/events?type=refund.*&limit=100")))
    finally:
        writer.join(timeout=60)
    seen |= set(ids(acme.get("/v1/events?type=refund.*&limit=100")))
    # created, approved by policy, canceled: three each.
    assert Event.objects.filter(merchant=globex).count() == 15
    assert seen == ours


# --- the list ---------------------------------------------------------------------


def test_events_are_listed_in_sequence_order_as_their_payload(acme_client):
    [refund] = refunds_of(n=1)
    move_refund(refund, RefundState.CANCELED)
    body = acme_client.get("/v1/events").json()
    assert body["object"] == "list" and body["has_more"] is False and body["next_after"] is None
    assert [e["type"] for e in body["data"]] == ["refund.created", "refund.approved", "refund.canceled"]
    assert [e["sequence"] for e in body["data"]] == [1, 2, 3]
    first = Event.objects.get(public_id=body["data"][0]["id"])
    assert body["data"][0] == first.as_payload()
    assert body["data"][0]["data"]["refund_id"] == refund.public_id


def test_paging_with_after_has_no_duplicate_and_no_gap(acme_client):
    refunds_of(n=7)
    expected = list(Event.objects.order_by("sequence").values_list("public_id", flat=True))
    assert len(expected) == 14
    seen, after = [], None
    while True:
        page = acme_client.get("/v1/events?limit=3" + (f"&after={after}" if after else "")).json()
        seen += [e["id"] for e in page["data"]]
        if not page["has_more"]:
            assert page["next_after"] is None
            break
        after = page["next_after"]
    assert seen == expected


def test_after_reads_on_from_any_event_even_of_another_type(acme_client):
    refunds = refunds_of(n=2)
    move_refund(refunds[0], RefundState.CANCELED)
    created = list(Event.objects.filter(type="refund.created").order_by("sequence"))
    canceled = Event.objects.get(type="refund.canceled")
    assert created[0].sequence < canceled.sequence
    answer = acme_client.get(f"/v1/events?type=refund.canceled&after={created[0].public_id}")
    assert ids(answer) == [canceled.public_id]
    assert ids(acme_client.get(f"/v1/events?after={canceled.public_id}")) == []


def test_the_type_filter_takes_an_exact_type_or_refund_star(acme_client):
    [refund] = refunds_of(n=1)
    move_refund(refund, RefundState.CANCELED)
    assert [e["type"] for e in acme_client.get("/v1/events?type=refund.canceled").json()["data"]] == ["refund.canceled"]
    assert len(ids(acme_client.get("/v1/events?type=refund.*"))) == 3
    refused = acme_client.get("/v1/events?type=order.created")
    assert refused.status_code == 400 and "type" in refused.json()["details"]["fields"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "after="])
def test_bad_paging_is_a_400(acme_client, query):
    answer = acme_client.get(f"/v1/events?{query}")
    assert answer.status_code == 400 and answer.json()["code"] == ERR_VALIDATION


def test_events_need_the_events_read_scope(client_for):
    refunds_of(n=1)
    without = client_for("no-events", scopes=[Scope.REFUNDS_READ, Scope.WEBHOOKS_WRITE])
    for path in ("/v1/events", f"/v1/events/{Event.objects.first().public_id}"):
        answer = without.get(path)
        assert answer.status_code == 403 and answer.json()["code"] == ERR_AUTHZ_SCOPE
    reader = client_for("events-reader", scopes=[Scope.EVENTS_READ])
    assert reader.get("/v1/events").status_code == 200


def test_one_event(acme_client):
    [refund] = refunds_of(n=1)
    event = Event.objects.filter(refund=refund).last()
    answer = acme_client.get(f"/v1/events/{event.public_id}")
    assert answer.status_code == 200 and answer.json() == event.as_payload()


def test_a_goodwill_review_event_carries_the_refund_as_the_api_shows_it(acme_client):
    refund = make_refund(order=captured_order(amount_minor=100000), amount_minor=30000, reason=Reason.GOODWILL)
    event = acme_client.get("/v1/events").json()["data"][0]
    detail = acme_client.get(f"/v1/refunds/{refund.public_id}").json()
    assert event["data"]["refund_id"] == detail["refund_id"] and event["data"]["state"] == detail["state"]
