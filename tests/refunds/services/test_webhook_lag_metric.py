"""`provider_webhook_lag_seconds{provider}`: the provider event's created time to its refund here, after commit."""

from __future__ import annotations

import json
import time

import pytest

from refunds.enums import RefundState, WebhookStatus
from refunds.models import Refund
from tests.refunds.factories import captured_order, make_refund
from tests.support.samples import Delta
from tests.support.stripe_events import receive, refund_event, refund_event_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]


def submitted() -> Refund:
    refund = make_refund(order=captured_order(), amount_minor=1000)
    Refund.objects.filter(pk=refund.pk).update(state=RefundState.SUBMITTING)
    return refund


def event_of(refund: Refund, *, event_id: str, created: int | None = None) -> bytes:
    body = refund_event_body(
        event_id=event_id, provider_refund_id=f"re_{refund.pk}", amount=1000, refund_id=refund.public_id
    )
    if created is not None:
        body["created"] = created
    return json.dumps(body).encode()


def test_an_applied_event_is_observed_with_its_lag(django_capture_on_commit_callbacks):
    lag = Delta("provider_webhook_lag_seconds_count", provider="stripe")
    late = Delta("provider_webhook_lag_seconds_bucket", provider="stripe", le="60.0")
    refund = submitted()
    with django_capture_on_commit_callbacks(execute=True):
        result = receive(event_of(refund, event_id="evt_lag", created=int(time.time()) - 120))
    assert result.status == WebhookStatus.PROCESSED
    assert lag.now() == 1
    assert late.now() == 0  # two minutes late: above the 60 s bucket


def test_a_confirmation_of_what_we_knew_counts_a_replay_and_an_unknown_refund_do_not(
    django_capture_on_commit_callbacks,
):
    lag = Delta("provider_webhook_lag_seconds_count", provider="stripe")
    refund = submitted()
    with django_capture_on_commit_callbacks(execute=True):
        assert receive(event_of(refund, event_id="evt_1")).status == WebhookStatus.PROCESSED
        assert receive(event_of(refund, event_id="evt_1")).status == "duplicate"
        # Another event saying the same: nothing changes, but it reached its refund — the webhook path's lag.
        assert receive(event_of(refund, event_id="evt_2")).status == WebhookStatus.IGNORED
        unknown = refund_event(event_id="evt_3", provider_refund_id="re_nobody", refund_id="rf_nobody")
        assert receive(unknown).status == WebhookStatus.UNKNOWN_REFUND
    assert lag.now() == 2


def test_nothing_is_observed_before_the_commit():
    lag = Delta("provider_webhook_lag_seconds_count", provider="stripe")
    receive(event_of(submitted(), event_id="evt_rolled_back"))  # the test's transaction never commits
    assert lag.now() == 0
