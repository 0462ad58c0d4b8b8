"""The queue's sortable columns (an allow-list, stable) and its search (name, email, payment id, ids)."""

import pytest
from django.db import connection

from refunds.enums import Reason
from refunds.models import Customer
from tests.console.conftest import review_refund
from tests.console.test_queue import aged, listed
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def test_columns_sort_both_ways_and_ties_keep_the_queue_order(agent_client):
    small_old = aged(review_refund(amount_minor=1000), hours=5)
    big = aged(review_refund(amount_minor=9000), hours=4)
    small_new = aged(review_refund(amount_minor=1000), hours=3)

    assert listed(agent_client.get("/console/?sort=amount")) == [
        small_old.public_id,
        small_new.public_id,
        big.public_id,
    ]
    assert listed(agent_client.get("/console/?sort=-amount"))[0] == big.public_id
    assert listed(agent_client.get("/console/?sort=-age")) == [small_new.public_id, big.public_id, small_old.public_id]


def test_an_unknown_sort_key_falls_back_to_oldest_first(agent_client):
    older = aged(review_refund(), hours=2)
    newer = aged(review_refund(), hours=1)
    for sort in ["password", "order__customer__email", "-id;drop"]:
        response = agent_client.get("/console/", {"sort": sort})
        assert response.status_code == 200
        assert listed(response) == [older.public_id, newer.public_id]


def test_headers_link_to_the_other_direction_and_say_which_is_sorted(agent_client):
    review_refund()
    html = agent_client.get("/console/?reason=goodwill&sort=amount").content.decode()
    assert 'aria-sort="ascending"><a class="sort-link" href="?reason=goodwill&amp;sort=-amount"' in html
    assert 'aria-sort="none"><a class="sort-link" href="?reason=goodwill&amp;sort=customer"' in html
    assert "by currency and amount" in html


@pytest.mark.parametrize("field", ["name", "email", "payment", "refund", "order"])
def test_search_matches_any_part_of_each_field_case_insensitively(agent_client, field):
    order = captured_order(amount_minor=100000, provider_payment_id="pi_3QxYZsearch")
    target = make_refund(order=order, amount_minor=5000, reason=Reason.GOODWILL)
    review_refund()
    Customer.objects.filter(pk=target.order.customer_id).update(name="Mara Lindqvist", email="m.l@shop.example")
    term = {
        "name": "lindQ",
        "email": "L@SHOP",
        "payment": "qxyzSEARCH",
        "refund": target.public_id[3:12].upper(),
        "order": target.order.order_id[-4:].lower(),
    }[field]
    assert listed(agent_client.get("/console/", {"q": term})) == [target.public_id]


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("refunds_customer", "name"),
        ("refunds_customer", "email"),
        ("refunds_order", "order_id"),
        ("refunds_payment", "provider_payment_id"),
        ("refunds_refund", "public_id"),
    ],
)
def test_each_searched_column_has_an_index_the_search_can_use(table, column):
    """Django's icontains is UPPER(col) LIKE UPPER('%term%'): a trigram index on UPPER(col) serves it."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f'EXPLAIN SELECT id FROM {table} WHERE UPPER("{column}"::text) LIKE UPPER(%s)', ["%abc%"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "_trgm" in plan, plan
