"""The digest's Slack post, against the Slack simulator over HTTP: it lands once, and waits as Slack asks."""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from integrations.digest_send import digest_send
from integrations.models import DigestRun
from integrations.slack.digest import BUSY, DONE, FAILED, NOT_YET, OFF, POSTED, RETRY, digest_post_attempt, post_digest
from refunds.enums import Role
from tests.integrations.digest_week import WEEK
from tests.refunds.factories import UserFactory
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(slack_settings, django_capture_on_commit_callbacks):
    """The week sent by email, its post queued after commit (run here by the test instead of a worker)."""
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)
    with django_capture_on_commit_callbacks() as queued:
        result = digest_send(WEEK)
    assert result.slack == "queued" and len(queued) == 1
    return DigestRun.objects.get(week=str(WEEK))


def test_the_digest_lands_in_the_approvals_channel_once(run, slack_sim):
    assert post_digest.apply(kwargs={"run_id": run.pk}).get() == POSTED
    assert post_digest.apply(kwargs={"run_id": run.pk}).get() == DONE

    (message,) = slack_sim.messages(APPROVALS_CHANNEL)
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Weekly refund digest 2026-W45"},
    }
    assert "Refund desk weekly digest 2026-W45" in message["text"]
    run.refresh_from_db()
    assert (run.slack_channel, run.slack_ts) == (APPROVALS_CHANNEL, message["ts"])


def test_a_429_is_retried_no_earlier_than_retry_after(run, slack_sim):
    slack_sim.fault("chat.postMessage", 429, count=1, retry_after=2)

    first = digest_post_attempt(run_id=run.pk)
    assert first.status == RETRY and first.retry_in >= 2
    # Asked again at once (a task delivered early, a second task): Slack is not called.
    assert digest_post_attempt(run_id=run.pk).status == NOT_YET
    assert len(slack_sim.calls("chat.postMessage")) == 1

    deadline = time.monotonic() + 30
    while (result := digest_post_attempt(run_id=run.pk)).status == NOT_YET and time.monotonic() < deadline:
        time.sleep(0.1)

    assert result.status == POSTED
    limited, posted = slack_sim.calls("chat.postMessage")
    assert (limited["status"], posted["ok"]) == (429, True)
    assert posted["time"] - limited["time"] >= 2
    assert len(slack_sim.messages(APPROVALS_CHANNEL)) == 1
    run.refresh_from_db()
    assert (run.slack_attempts, run.slack_last_error) == (0, "")


def test_a_5xx_backs_off_then_posts(run, slack_sim):
    slack_sim.fault("chat.postMessage", 503, count=1)

    failed = digest_post_attempt(run_id=run.pk)

    assert failed.status == RETRY and failed.retry_in > 0
    run.refresh_from_db()
    assert (run.slack_attempts, run.slack_last_error) == (1, "HTTP 503 service_unavailable")
    assert slack_sim.messages(APPROVALS_CHANNEL) == []


def test_an_error_retrying_cannot_fix_is_kept_and_not_retried(run, slack_sim):
    with override_settings(SLACK_BOT_TOKEN="xoxb-revoked"):
        result = digest_post_attempt(run_id=run.pk)

    assert (result.status, result.retry_in) == (FAILED, None)
    run.refresh_from_db()
    assert run.slack_last_error == "HTTP 200 invalid_auth"
    assert run.slack_pending


def test_an_attempt_while_another_holds_the_lease_does_not_post(run, slack_sim):
    from django.utils import timezone

    DigestRun.objects.filter(pk=run.pk).update(slack_lease_until=timezone.now() + timezone.timedelta(seconds=60))

    assert digest_post_attempt(run_id=run.pk).status == BUSY
    assert slack_sim.calls("chat.postMessage") == []


def test_nothing_is_posted_while_slack_is_off(run, slack_sim):
    with override_settings(SLACK_BOT_TOKEN=""):
        assert digest_post_attempt(run_id=run.pk).status == OFF
    assert slack_sim.calls() == []
