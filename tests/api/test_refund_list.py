"""`GET /v1/refunds`: the key's merchant's refunds, newest first, filtered, a page at a time (issue 14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.actor import Actor
from core.errors import ERR_VALIDATION
from refunds.enums import Reason, RefundState
from refunds.models import Refund
from refunds.services.merchants import merchant_create
from tests.refunds.factories import captured_order, make_refund, merchant_system, move_refund

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def b_shop(db):
    return merchant_create(slug="b-shop", name="B", actor=Actor.system("test"))


def refunds_of(merchant_slug: str | None, count: int, *, amount: int = 100) -> list[Refund]:
    """`count` auto-approved refunds of one new order of the merchant (the default one when None)."""
    actor = merchant_system(f"maker-{merchant_slug or 'default'}-{count}", merchant=merchant_slug)
    order = captured_order(
        amount_minor=100000, **({"order__merchant": actor.api_key.merchant} if merchant_slug else {})
    )
    return [make_refund(order=order, amount_minor=amount, actor=actor) for _ in range(count)]


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["refund_id"] for item in response.json()["data"]]


# --- tenancy first ---------------------------------------------------------------


def test_merchant_b_never_lists_merchant_as_refunds(client_for):
    mine = refunds_of(None, 2)
    theirs = refunds_of("b-shop", 1)
    a, b = client_for("a-key"), client_for("b-key", merchant="b-shop")

    assert ids(a.get("/v1/refunds")) == [r.public_id for r in reversed(mine)]
    assert ids(b.get("/v1/refunds")) == [theirs[0].public_id]
    assert ids(b.get("/v1/refunds", {"order_id": mine[0].order.order_id})) == []


def test_another_merchants_refund_is_no_cursor(client_for):
    mine = refunds_of(None, 2)
    b = client_for("b-key", merchant="b-shop")

    response = b.get("/v1/refunds", {"after": mine[1].public_id})

    assert response.status_code == 400
    assert response.json()["code"] == ERR_VALIDATION
    assert response.json()["details"]["fields"] == {"after": ["unknown"]}
    assert mine[0].public_id not in response.content.decode()


# --- paging and filters ---------------------------------------------------------------


def test_pages_walk_every_refund_newest_first_once(merchant):
    made = refunds_of(None, 5)
    seen, after = [], None
    while True:
        body = merchant.get("/v1/refunds", {"limit": 2, **({"after": after} if after else {})}).json()
        seen += [item["refund_id"] for item in body["data"]]
        assert body["object"] == "list"
        if not body["has_more"]:
            assert body["next_after"] is None
            break
        after = body["next_after"]
        assert after == seen[-1]
    assert seen == [r.public_id for r in sorted(made, key=lambda r: -r.pk)]


def test_a_new_refund_does_not_shift_the_next_page(merchant):
    made = refunds_of(None, 3)
    first = merchant.get("/v1/refunds", {"limit": 2}).json()
    make_refund(order=made[0].order, amount_minor=100, actor=merchant_system("later"))
    second = merchant.get("/v1/refunds", {"limit": 2, "after": first["next_after"]}).json()
    assert [item["refund_id"] for item in second["data"]] == [made[0].public_id]


def test_filters_by_state_order_and_creation_time(merchant):
    made = refunds_of(None, 3)
    other_order = refunds_of(None, 1)[0]
    canceled = made[1]
    move_refund(canceled, RefundState.CANCELED)
    Refund.objects.filter(pk=made[0].pk).update(created_at=timezone.now() - timedelta(days=3))

    assert ids(merchant.get("/v1/refunds", {"state": "canceled"})) == [canceled.public_id]
    assert set(ids(merchant.get("/v1/refunds", {"order_id": made[0].order.order_id}))) == {r.public_id for r in made}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert made[0].public_id not in ids(merchant.get("/v1/refunds", {"created_gte": since}))
    assert ids(merchant.get("/v1/refunds", {"created_lt": since})) == [made[0].public_id]
    assert other_order.public_id in ids(merchant.get("/v1/refunds", {"created_gte": since.replace("+00:00", "Z")}))


@pytest.mark.parametrize(
    "query, field",
    [
        ({"state": "lost"}, "state"),
        ({"created_gte": "2026-12-01T00:00:00"}, "created_gte"),  # no offset: refused, not guessed
        ({"created_gte": "2026-12-01"}, "created_gte"),
        ({"created_lt": "yesterday"}, "created_lt"),
        ({"created_gte": "2026-12-02T00:00:00Z", "created_lt": "2026-12-01T00:00:00Z"}, "created_lt"),
        ({"created_gte": "2026-12-01T00:00:00Z", "created_lt": "2026-12-01T00:00:00Z"}, "created_lt"),
        ({"created_gte": "0001-01-01T00:00:00+14:00"}, "created_gte"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ],
)
def test_bad_filters_are_400_naming_the_field(merchant, query, field):
    response = merchant.get("/v1/refunds", query)
    assert response.status_code == 400, response.json()
    assert field in response.json()["details"]["fields"]


def test_a_time_without_offset_is_refused_saying_why(merchant):
    response = merchant.get("/v1/refunds", {"created_gte": "2026-12-01T00:00:00"})
    assert "time zone" in response.json()["details"]["fields"]["created_gte"][0]


def test_each_item_is_the_refund_document(merchant):
    refund = refunds_of(None, 1)[0]
    listed = merchant.get("/v1/refunds").json()["data"][0]
    assert listed == merchant.get(f"/v1/refunds/{refund.public_id}").json()


def test_needs_the_read_scope(client_for):
    response = client_for("creator", scopes=["refunds:create"]).get("/v1/refunds")
    assert response.status_code == 403


def test_rendering_a_page_costs_the_same_queries_for_one_refund_or_a_hundred(merchant):
    refunds_of(None, 1)
    with CaptureQueriesContext(connection) as one:
        assert len(ids(merchant.get("/v1/refunds"))) == 1
    for _ in range(3):
        many = refunds_of(None, 33)
        # Decided refunds with approvals, ledger entries, and a decline reason written as a template.
        move_refund(many[0], RefundState.CANCELED)
        Refund.objects.filter(pk=many[1].pk).update(decline_reason="Sorry about {item}, {customer_name}.")
        Refund.objects.filter(pk=many[2].pk).update(reason=Reason.QUALITY)
    with CaptureQueriesContext(connection) as hundred:
        assert len(ids(merchant.get("/v1/refunds", {"limit": 100}))) == 100
    sql = [q["sql"] for q in hundred.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == len([q for q in one.captured_queries if "SAVEPOINT" not in q["sql"]])
    # auth (key + merchant), the page, and its prefetches: ledger entries, decisions, order lines,
    # and (issue 15) the refund lines with their order lines, in one query.
    assert len(sql) == 6, "\n".join(q[:150] for q in sql)
