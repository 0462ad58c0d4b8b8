"""The review queue: what waits, in which order, and how agents narrow it down."""

from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.enums import Reason, RefundState, Role
from refunds.models import Customer, Refund
from refunds.services.decide import refund_approve, refund_deny
from tests.console.conftest import htmx_headers, review_refund
from tests.refunds.factories import agent, captured_order, make_refund

pytestmark = pytest.mark.django_db


def aged(refund: Refund, hours: int) -> Refund:
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    return refund


def listed(response) -> list[str]:
    """Refund ids in the order the queue shows them."""
    return [row.refund.public_id for row in response.context["rows"]]


def test_queue_lists_refunds_waiting_for_a_decision_oldest_first_with_their_age(agent_client):
    newer = aged(review_refund(), hours=2)
    older = aged(review_refund(), hours=30)
    auto_approved = make_refund(order=captured_order(), amount_minor=1000)
    assert auto_approved.state == RefundState.APPROVED
    response = agent_client.get("/console/")
    assert listed(response) == [older.public_id, newer.public_id]
    html = response.content.decode()
    assert "30 h" in html and "2 h" in html
    assert 'class="overdue"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reason=quality", ["quality"]),
        ("second_approval=on", ["dual"]),
        ("amount_min=100&amount_max=300", ["dual"]),
        ("amount_max=60", ["quality", "goodwill"]),
    ],
)
def test_filters_narrow_the_queue(agent_client, query, expected):
    refunds = {
        "quality": aged(review_refund(amount_minor=4500, reason=Reason.QUALITY), hours=3),
        "goodwill": aged(review_refund(amount_minor=5000), hours=2),
        "dual": aged(review_refund(amount_minor=25000), hours=1),
    }
    response = agent_client.get(f"/console/?{query}")
    assert listed(response) == [refunds[name].public_id for name in expected]


def test_amount_filter_compares_in_each_refunds_own_currency(agent_client):
    usd = review_refund(amount_minor=5000)  # 50.00 USD
    order = captured_order(amount_minor=100000, currency="JPY")
    jpy = make_refund(order=order, amount_minor=50, reason=Reason.GOODWILL)  # 50 JPY
    response = agent_client.get("/console/?amount_min=50&amount_max=50")
    assert set(listed(response)) == {usd.public_id, jpy.public_id}
    assert listed(agent_client.get("/console/?amount_min=50.01")) == []


def test_state_filter_and_the_all_view_show_decided_refunds(agent_client):
    declined = review_refund()
    refund_deny(refund_id=declined.pk, actor=agent("other"), note="Outside policy")
    waiting = review_refund()
    assert listed(agent_client.get("/console/")) == [waiting.public_id]
    assert listed(agent_client.get("/console/?view=all&state=denied")) == [declined.public_id]
    # Choosing a state from the waiting tab shows that state rather than nothing.
    assert listed(agent_client.get("/console/?view=waiting&state=denied")) == [declined.public_id]


def test_overrides_view_shows_flagged_refunds_in_any_state(agent_client):
    overridden = review_refund()  # goodwill: the policy recommends approving
    refund_deny(refund_id=overridden.pk, actor=agent("other"), note="Not this time")
    review_refund()
    response = agent_client.get("/console/?view=overrides")
    assert listed(response) == [overridden.public_id]
    assert "Override" in response.content.decode()
    assert listed(agent_client.get("/console/?view=all&flagged=on")) == [overridden.public_id]


def test_search_finds_by_order_id_refund_id_and_customer_email(agent_client):
    target = review_refund()
    review_refund()
    Customer.objects.filter(pk=target.order.customer_id).update(email="mara@example.org")
    for term in [target.order.order_id, target.public_id, target.public_id[:10], "mara@example.org", "MARA@"]:
        assert listed(agent_client.get("/console/", {"q": term})) == [target.public_id], term


def test_queue_is_paginated_and_page_links_keep_the_filters(agent_client):
    for hours in range(30, 0, -1):
        aged(review_refund(amount_minor=1000 + hours), hours=hours)
    first = agent_client.get("/console/?reason=goodwill")
    assert len(listed(first)) == 25
    html = first.content.decode()
    assert "page 1 of 2" in html
    assert "?reason=goodwill&amp;page=2" in html
    second = agent_client.get("/console/?reason=goodwill&page=2")
    assert len(listed(second)) == 5


def test_htmx_refresh_returns_only_the_results_for_the_same_filters(agent_client):
    quality = review_refund(reason=Reason.QUALITY)
    other = review_refund()
    response = agent_client.get("/console/?reason=quality&page=1", **htmx_headers("queue-results"))
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="queue-results"')
    assert "<html" not in html and 'id="queue-filters"' not in html
    assert quality.public_id in html and other.public_id not in html
    # The region re-polls exactly the URL the agent is on, so a refresh never loses their place.
    assert 'hx-get="/console/?reason=quality&amp;page=1"' in html
    assert 'hx-trigger="every 20s"' in html


def test_a_mistyped_filter_is_ignored_and_shown_not_a_server_error(agent_client):
    refund = review_refund()
    response = agent_client.get("/console/?amount_min=lots&state=nonsense")
    assert response.status_code == 200
    assert listed(response) == [refund.public_id]
    html = response.content.decode()
    assert '<p class="field-error" id="id_amount_min_error" role="alert">Amount from: Enter a number.</p>' in html
    assert 'aria-describedby="id_amount_min_error"' in html


def test_senior_sees_a_dual_control_refund_with_its_approval_count(login):
    review_refund(amount_minor=25000)
    html = login("s1", Role.SENIOR_AGENT).get("/console/").content.decode()
    assert "0 of 2" in html and "two seniors" in html


def test_filters_search_and_view_combine(agent_client):
    """Every filter narrows what the others left: reason, amount range, search and the view together."""
    wanted = aged(review_refund(amount_minor=25000), hours=5)  # goodwill, 250.00, two seniors
    aged(review_refund(amount_minor=5000), hours=4)  # goodwill, too small
    aged(review_refund(amount_minor=26000, reason=Reason.QUALITY), hours=3)  # right amount, other reason
    other_customer = aged(review_refund(amount_minor=27000), hours=2)  # right reason and amount, other customer
    Customer.objects.filter(pk=wanted.order.customer_id).update(email="aisha@example.com")
    Customer.objects.filter(pk=other_customer.order.customer_id).update(email="jon@example.net")

    assert listed(agent_client.get("/console/?reason=goodwill&amount_min=200")) == [
        wanted.public_id,
        other_customer.public_id,
    ]
    query = "reason=goodwill&amount_min=200&amount_max=300&second_approval=on&q=aisha"
    assert listed(agent_client.get(f"/console/?{query}")) == [wanted.public_id]
    assert listed(agent_client.get(f"/console/?{query}&view=all")) == [wanted.public_id]
    # The same filters on the overrides view: nothing was overridden yet.
    assert listed(agent_client.get(f"/console/?{query}&view=overrides")) == []
    refund_deny(refund_id=wanted.pk, actor=agent("other"), note="Not this time")
    assert listed(agent_client.get(f"/console/?{query}&view=overrides&second_approval=")) == [wanted.public_id]


def test_needs_second_approval_lists_only_dual_control_refunds_still_waiting_for_a_senior(agent_client):
    waiting = aged(review_refund(amount_minor=25000), hours=3)
    half_way = aged(review_refund(amount_minor=26000), hours=2)
    done = aged(review_refund(amount_minor=27000), hours=1)
    aged(review_refund(amount_minor=5000), hours=1)  # one approval is enough
    refund_approve(refund_id=half_way.pk, actor=agent("s1", Role.SENIOR_AGENT))
    refund_approve(refund_id=done.pk, actor=agent("s1", Role.SENIOR_AGENT))
    refund_approve(refund_id=done.pk, actor=agent("s2", Role.SENIOR_AGENT))
    expected = [waiting.public_id, half_way.public_id]
    assert listed(agent_client.get("/console/?second_approval=on")) == expected
    # Even on "all refunds": the approved one needs nobody any more.
    assert listed(agent_client.get("/console/?view=all&second_approval=on")) == expected


def test_search_by_part_of_an_email_or_its_domain(agent_client):
    target = review_refund()
    review_refund()
    Customer.objects.filter(pk=target.order.customer_id).update(email="mara.lindqvist@example.org")
    for term in ["mara.lind", "@example.org", "lindqvist@EXAMPLE.org", "LINDQVIST"]:
        assert listed(agent_client.get("/console/", {"q": term})) == [target.public_id], term


@pytest.mark.parametrize(
    ("bound", "error"),
    [
        ("1e30", "no more than 14 digits"),
        ("123456789012345678901234567890", "no more than 14 digits"),
        ("-1", "greater than or equal to 0"),
        ("0.0001", "no more than 3 decimal places"),
    ],
)
def test_an_out_of_range_amount_filter_is_refused_on_the_form_not_a_server_error(agent_client, bound, error):
    refund = review_refund()
    response = agent_client.get("/console/", {"amount_max": bound})
    assert response.status_code == 200
    assert listed(response) == [refund.public_id]
    assert error in response.content.decode()


def test_page_links_keep_every_filter_and_view(agent_client):
    for hours in range(27, 0, -1):
        aged(review_refund(amount_minor=20000 + hours), hours=hours)
    query = "view=all&reason=goodwill&amount_min=200&second_approval=on&q=ORD"
    first = agent_client.get(f"/console/?{query}")
    assert len(listed(first)) == 25
    next_link = f"?{query.replace('&', '&amp;')}&amp;page=2"
    assert f'href="{next_link}"' in first.content.decode()
    second = agent_client.get(f"/console/?{query}&page=2")
    assert len(listed(second)) == 2
    assert f"?{query.replace('&', '&amp;')}&amp;page=1" in second.content.decode()  # and back


def test_htmx_refresh_also_updates_the_tabs_out_of_band(agent_client):
    review_refund()
    html = agent_client.get("/console/?reason=goodwill", **htmx_headers("queue-results")).content.decode()
    tabs = html[html.index('<nav id="queue-tabs"') :]
    assert 'hx-swap-oob="true"' in tabs.split(">", 1)[0]
    # Fresh counts, and tab links that carry the filters the agent just chose.
    assert '<span class="count">1</span>' in tabs
    assert 'href="/console/?reason=goodwill&amp;view=overrides"' in tabs
    # A full page renders the tabs once, in place, not out of band.
    page = agent_client.get("/console/?reason=goodwill").content.decode()
    assert page.count('id="queue-tabs"') == 1 and 'hx-swap-oob="true"' not in page


def test_an_empty_filtered_page_never_claims_the_queue_is_clear_while_refunds_wait(agent_client):
    """The bug: "No refunds match. The queue is clear." while the tab counted 23 waiting.

    The empty state only looked at the tab (view), not at the filters and the
    search that had emptied the page; it must say that filters hide them.
    """
    for _ in range(23):
        review_refund()
    response = agent_client.get("/console/", {"q": "no-such-order"})
    html = response.content.decode()
    assert listed(response) == []
    assert "The queue is clear" not in html
    assert "23 refunds are waiting" in html and "Clear the filters" in html


def test_the_queue_is_clear_only_when_nothing_waits(agent_client):
    html = agent_client.get("/console/").content.decode()
    assert "The queue is clear" in html
