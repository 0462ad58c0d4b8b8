"""Live status: htmx polls the card; 204 while nothing changed, the new card (announced) when it did."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from refunds.enums import RefundState
from refunds.models import Refund
from refunds.services.decide import refund_approve, refund_edit
from tests.refunds.factories import agent
from tests.support.customer_states import refund_in_state

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _poll_url(body: str) -> str:
    match = re.search(r'hx-get="([^"]+)"', body)
    assert match, "the card should be polling"
    return match.group(1).replace("&amp;", "&")


def _get(client, refund: Refund, query: str = "", **headers):
    return client.get(f"/r/{refund.status_token}/{query}", **headers)


def test_open_states_poll_at_the_configured_interval(client, settings):
    settings.STATUS_PAGE_POLL_SECONDS = 7
    refund = refund_in_state("requested", locale="de")
    body = _get(client, refund).content.decode()
    assert 'hx-trigger="every 7s"' in body
    assert 'hx-swap="outerHTML"' in body
    assert _poll_url(body).startswith("?lang=de&since=refund.request.accepted~")


@pytest.mark.parametrize("customer_state", ["completed", "denied", "canceled", "failed"])
def test_final_states_stop_polling(client, customer_state):
    body = _get(client, refund_in_state(customer_state)).content.decode()
    assert "hx-get" not in body
    assert "This page updates by itself" not in body


def test_retryable_failure_keeps_polling(client):
    assert "hx-get" in _get(client, refund_in_state("failed_retryable")).content.decode()


def test_poll_without_change_answers_204_with_the_same_protections(client):
    refund = refund_in_state("requested")
    poll = _poll_url(_get(client, refund).content.decode())
    response = _get(client, refund, poll, **HTMX)
    assert response.status_code == 204
    assert response.content == b""
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]


def test_poll_after_a_status_change_returns_only_the_new_card_and_an_announcement(client):
    refund = refund_in_state("requested")
    poll = _poll_url(_get(client, refund).content.decode())
    refund_approve(refund_id=refund.pk, actor=agent("approver"))

    response = _get(client, refund, poll, **HTMX)
    card = response.content.decode()
    assert response.status_code == 200
    assert card.lstrip().startswith('<section id="status-card"')
    assert "<html" not in card
    assert '<h2 id="status-title" class="status-title">Your refund has been approved</h2>' in card
    assert 'data-announce="Your refund has been approved We will send the money back' in card
    # The next poll asks from the new state on, and gets 204 until something changes again.
    assert _get(client, refund, _poll_url(card), **HTMX).status_code == 204


def test_announcement_is_in_the_pages_language(client):
    refund = refund_in_state("requested", locale="ar")
    poll = _poll_url(_get(client, refund).content.decode())
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    card = _get(client, refund, poll, **HTMX).content.decode()
    assert 'data-announce="تمت الموافقة على استرداد المبلغ' in card


def test_a_change_that_keeps_the_headline_updates_the_card_silently(client):
    refund = refund_in_state("requested", refund_minor=4000)
    poll = _poll_url(_get(client, refund).content.decode())
    refund_edit(refund_id=refund.pk, actor=agent("editor"), amount_minor=3000)
    card = _get(client, refund, poll, **HTMX).content.decode()
    assert "$30.00" in card
    assert "data-announce" not in card


def test_reaching_a_final_state_sends_a_card_that_stops_polling(client):
    refund = refund_in_state("provider_pending")
    poll = _poll_url(_get(client, refund).content.decode())
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.COMPLETED, completed_at=timezone.now())
    card = _get(client, refund, poll, **HTMX).content.decode()
    assert "Your refund has been sent" in card
    assert "hx-get" not in card
    assert "data-announce" in card


def test_a_stale_or_forged_version_just_gets_the_current_card(client):
    refund = refund_in_state("approved")
    response = _get(client, refund, "?since=<script>alert(1)</script>", **HTMX)
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
