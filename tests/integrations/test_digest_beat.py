"""Beat sends last week's digest every Monday; the build runs on the default queue, the post on Slack's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

from config.celery import app
from integrations.digest import IsoWeek
from integrations.digest_send import send_weekly
from integrations.models import DigestRun
from refunds.enums import Role
from tests.integrations.digest_week import clock
from tests.refunds.factories import UserFactory


def test_beat_runs_the_weekly_digest_on_mondays_at_the_configured_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["weekly-digest"]
    schedule = entry["schedule"]

    assert entry["task"] == "integrations.digest.send_weekly"
    assert schedule.day_of_week == {1}
    assert schedule.hour == {settings.DIGEST_SEND_HOUR_UTC}
    assert schedule.minute == {0}
    assert "integrations.digest.send_weekly" in app.tasks
    assert "integrations.slack.post_digest" in app.tasks


def test_the_digest_is_built_on_the_default_queue_and_posted_from_the_slack_queue():
    def queue(name: str) -> str:
        return app.amqp.router.route({}, name)["queue"].name

    assert queue("integrations.digest.send_weekly") == settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue("integrations.slack.post_digest") == settings.CELERY_SLACK_QUEUE


@pytest.mark.django_db
def test_the_weekly_task_sends_the_week_that_just_ended_once():
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)
    monday = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)

    with clock(monday), override_settings(SLACK_BOT_TOKEN=""):
        assert send_weekly() == "sent"
        assert send_weekly() == "already_sent"

    assert DigestRun.objects.get().week == str(IsoWeek(2026, 45))
    assert len(mail.outbox) == 1


def queued_posts() -> list[str]:
    """The `post_digest` messages waiting in this session's Slack queue (kombu's Redis list), as kwargs reprs."""
    import json

    import redis

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in client.lrange(settings.CELERY_SLACK_QUEUE, 0, -1)]
    return [m["headers"]["kwargsrepr"] for m in messages if m["headers"]["task"] == "integrations.slack.post_digest"]


@pytest.mark.django_db
def test_the_weekly_task_queues_again_a_post_an_earlier_week_still_owes(slack_settings):
    owed = DigestRun.objects.create(
        week="2026-W44", sent_at=datetime(2026, 11, 2, 7, tzinfo=UTC), slack_wanted=True, slack_text="digest"
    )
    posted = DigestRun.objects.create(
        week="2026-W43", sent_at=datetime(2026, 10, 26, 7, tzinfo=UTC), slack_wanted=True, slack_ts="1.2"
    )
    before = queued_posts()

    with clock(datetime(2026, 11, 9, 7, 0, tzinfo=UTC)):
        send_weekly()

    new = queued_posts()[len(before) :]
    assert f"{{'run_id': {owed.pk}}}" in new
    assert f"{{'run_id': {posted.pk}}}" not in new
