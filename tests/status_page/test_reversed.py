"""The status page of a refund the provider failed after it completed (issue 12): returned, in every language."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from notifications.messages import MSG_REVERSED, message_get
from refunds.enums import RefundState
from refunds.models import Refund
from tests.support.customer_states import LANGUAGES, refund_in_state

pytestmark = pytest.mark.django_db


def reversed_refund(**order_fields) -> Refund:
    refund = refund_in_state("completed", **order_fields)
    Refund.objects.filter(pk=refund.pk).update(
        state=RefundState.FAILED,
        failure_code="expired_or_canceled_card",
        failure_retryable=False,
        updated_at=timezone.now(),
    )
    return Refund.objects.select_related("order__customer", "payment").get(pk=refund.pk)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reversed_refund_says_the_bank_returned_it_in_every_language(client, language):
    refund = reversed_refund(locale=language)
    body = client.get(f"/r/{refund.status_token}/").content.decode()
    message = message_get(MSG_REVERSED)
    with translation.override(language):
        title, text = str(message.title), str(message.body)
    assert f'<h2 id="status-title" class="status-title">{title}</h2>' in body
    assert text in body
    assert "expired_or_canceled_card" not in body  # provider codes are for agents
    if language != "en":
        assert title != str(message.title)


def test_a_reversed_refund_keeps_refunded_done_and_stops_at_returned():
    from status_page.presenters import refund_by_status_token, status_view

    refund = reversed_refund()
    with translation.override("en"):
        view = status_view(refund_by_status_token(refund.status_token), language="en")

    shown = [f"{s.key}:{s.status}" + (f":{s.tone}" if s.tone != "ok" else "") for s in view.steps]
    assert shown == ["requested:done", "processing:done", "refunded:done", "returned:current:problem"]
    assert view.message.id == MSG_REVERSED
    assert (view.poll, view.duration_text, view.tone) == (False, "", "problem")
