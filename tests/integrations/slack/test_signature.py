"""The interactions endpoint's door: Slack's signature, the 5-minute window, replays, and what it accepts.

Every refusal here is an attack or a mistake: nothing is recorded, nothing queued, the refund unchanged.
"""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client import REGISTRY
from slack_sdk.signature import SignatureVerifier

from integrations.models import SlackInteraction
from integrations.slack.interactions import interaction_signature
from refunds.enums import RefundState
from refunds.models import Refund
from tests.integrations.slack.conftest import SECRET, card_click, form, review_refund, sign

pytestmark = pytest.mark.django_db


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("slack_interaction_rejected_total", {"reason": reason}) or 0.0


def nothing_happened(refund: Refund, tasks) -> None:
    assert not SlackInteraction.objects.exists()
    assert tasks.names() == []
    refund.refresh_from_db()
    assert refund.state == RefundState.REQUESTED
    assert not refund.decisions.exists()


def test_without_a_bot_token_the_endpoint_is_not_there(settings, signed_post):
    settings.SLACK_BOT_TOKEN = ""
    settings.SLACK_SIGNING_SECRET = SECRET
    refund = review_refund()
    body = form(card_click(refund))
    assert signed_post(body, sign(body)).status_code == 404
    assert not SlackInteraction.objects.exists()


def test_only_post_is_accepted(slack_on, client):
    assert client.get("/integrations/slack/interactions").status_code == 405


def test_a_well_signed_approve_is_recorded_queued_and_acknowledged_at_once(slack_on, signed_post, tasks):
    refund = review_refund()
    body = form(card_click(refund))
    with_commit = signed_post(body, sign(body))
    assert with_commit.status_code == 200
    assert with_commit.content == b""
    row = SlackInteraction.objects.get()
    assert (row.kind, row.action_id, row.refund_public_id, row.slack_user_id) == (
        "block_actions",
        "approve",
        refund.public_id,
        "UALICE",
    )
    refund.refresh_from_db()
    assert refund.state == RefundState.REQUESTED  # decided in Celery, not in the request


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param(lambda body: {}, "missing", id="no-signature"),
        pytest.param(lambda body: sign(body, secret="not-our-secret"), "forged", id="wrong-secret"),
        pytest.param(
            lambda body: {**sign(body), "HTTP_X_SLACK_SIGNATURE": "v0=" + "0" * 64}, "forged", id="forged-digest"
        ),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 6 * 60), "stale", id="six-minutes-old"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 6 * 60), "stale", id="six-minutes-ahead"),
        pytest.param(
            lambda body: {**sign(body), "HTTP_X_SLACK_REQUEST_TIMESTAMP": "1e9"}, "malformed", id="timestamp-not-int"
        ),
    ],
)
def test_unsigned_forged_or_stale_requests_are_refused_with_nothing_recorded(
    slack_on, signed_post, tasks, headers, reason
):
    refund = review_refund()
    body = form(card_click(refund))
    before = rejected(reason)
    assert signed_post(body, headers(body)).status_code == 401
    assert rejected(reason) == before + 1
    nothing_happened(refund, tasks)


def test_a_signature_of_another_body_does_not_verify_this_one(slack_on, signed_post, tasks):
    refund = review_refund()
    other = review_refund()
    harmless = form(card_click(other, "decline"))
    body = form(card_click(refund))
    headers = sign(harmless)
    assert signed_post(body, headers).status_code == 401
    nothing_happened(refund, tasks)


def test_within_the_window_either_way_is_accepted(slack_on, signed_post, tasks):
    refund = review_refund()
    for offset in (-4 * 60, 4 * 60):
        body = form(card_click(refund) | {"action_ts_nonce": offset})
        assert signed_post(body, sign(body, timestamp=int(time.time()) + offset)).status_code == 200
    assert SlackInteraction.objects.count() == 2


def test_a_replay_of_the_same_signed_request_does_nothing_twice(
    slack_on, signed_post, tasks, django_capture_on_commit_callbacks
):
    refund = review_refund()
    body = form(card_click(refund))
    headers = sign(body)
    with django_capture_on_commit_callbacks(execute=True):
        first = signed_post(body, headers)
    before = rejected("replay")
    with django_capture_on_commit_callbacks(execute=True):
        again = signed_post(body, headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert SlackInteraction.objects.count() == 1
    assert tasks.names() == ["integrations.slack.process_interaction"]  # queued once
    assert rejected("replay") == before + 1


def test_slacks_own_retry_is_acknowledged_and_not_done_again(slack_on, signed_post, tasks):
    refund = review_refund()
    body = form(card_click(refund))
    before = rejected("slack_retry")
    response = signed_post(body, sign(body), HTTP_X_SLACK_RETRY_NUM="1", HTTP_X_SLACK_RETRY_REASON="http_timeout")
    assert response.status_code == 200
    assert rejected("slack_retry") == before + 1
    nothing_happened(refund, tasks)


def test_a_forged_retry_is_still_refused(slack_on, signed_post, tasks):
    refund = review_refund()
    body = form(card_click(refund))
    response = signed_post(body, sign(body, secret="nope"), HTTP_X_SLACK_RETRY_NUM="1")
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"payload=%7Bnot-json", id="bad-json"),
        pytest.param(b"nothing=here", id="no-payload"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(form({"type": "message_action", "user": {"id": "UALICE"}}), id="unknown-type"),
        pytest.param(form({"type": "view_closed", "user": {"id": "UALICE"}}), id="view-closed"),
        pytest.param(form({"type": "block_actions", "actions": []}), id="no-user"),
        pytest.param(form(["a", "list"]), id="not-an-object"),
        pytest.param(
            form(
                {
                    "type": "view_submission",
                    "user": {"id": "UALICE"},
                    "view": {"callback_id": "someone_elses", "private_metadata": "{}"},
                }
            ),
            id="unknown-modal",
        ),
    ],
)
def test_payloads_that_are_not_ours_are_400(slack_on, signed_post, tasks, body):
    assert signed_post(body, sign(body)).status_code == 400
    assert not SlackInteraction.objects.exists()


def test_a_button_naming_another_refund_than_its_block_is_400(slack_on, signed_post, tasks):
    refund = review_refund()
    other = review_refund()
    payload = card_click(refund)
    payload["actions"][0]["value"] = other.public_id
    body = form(payload)
    assert signed_post(body, sign(body)).status_code == 400
    nothing_happened(refund, tasks)


def test_a_button_that_is_not_a_decision_is_acknowledged_and_ignored(slack_on, signed_post, tasks):
    refund = review_refund()
    payload = card_click(refund)
    payload["actions"][0].update(action_id="open_in_console", block_id="links")
    body = form(payload)
    assert signed_post(body, sign(body)).status_code == 200
    nothing_happened(refund, tasks)


def test_a_body_over_the_limit_is_refused_before_it_is_read(slack_on, signed_post, tasks):
    payload = {"type": "block_actions", "user": {"id": "UALICE"}, "padding": "x" * (300 * 1024)}
    body = form(payload)
    assert signed_post(body, sign(body)).status_code == 413
    assert not SlackInteraction.objects.exists()


def test_without_a_signing_secret_everything_is_refused(slack_on, signed_post, tasks):
    slack_on.SLACK_SIGNING_SECRET = ""
    refund = review_refund()
    body = form(card_click(refund))
    assert signed_post(body, sign(body)).status_code == 401
    nothing_happened(refund, tasks)


def test_the_signature_is_slack_sdks_own():
    body = form({"type": "block_actions", "text": "Grüße, 返金"})
    ours = interaction_signature(SECRET, "1700000000", body)
    assert ours == SignatureVerifier(SECRET).generate_signature(timestamp="1700000000", body=body)


def test_the_inbox_keeps_what_was_asked(slack_on, signed_post, tasks):
    refund = review_refund()
    payload = card_click(refund, "approve")
    body = form(payload)
    signed_post(body, sign(body))
    row = SlackInteraction.objects.get()
    assert row.payload == json.loads(json.dumps(payload))
    assert row.status == "received"
