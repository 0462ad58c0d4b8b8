"""Sending the weekly digest: to the senior agents only, once per week, and again only when forced."""

from __future__ import annotations

import threading
from email import message_from_bytes
from smtplib import SMTPRecipientsRefused

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings

from integrations.digest_send import ALREADY_SENT, SENT, digest_send
from integrations.models import DigestRun
from refunds.enums import Role
from tests.integrations.digest_week import WEEK
from tests.refunds.factories import UserFactory
from tests.support.faults import SmtpSink

pytestmark = pytest.mark.django_db


def staff() -> None:
    """Two seniors who get it; a senior who left, a senior without an address, an agent, a superuser who do not."""
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)
    UserFactory(username="sam", email="sam@example.com", role=Role.SENIOR_AGENT)
    left = UserFactory(username="olga", email="olga@example.com", role=Role.SENIOR_AGENT)
    left.is_active = False
    left.save()
    UserFactory(username="nomail", email="", role=Role.SENIOR_AGENT)
    UserFactory(username="alex", email="alex@example.com", role=Role.AGENT)
    admin = UserFactory(username="root", email="root@example.com")
    admin.is_superuser = admin.is_staff = True
    admin.save()


def test_the_digest_is_emailed_to_each_active_senior_with_an_address_and_nobody_else():
    staff()

    result = digest_send(WEEK)

    assert result.status == SENT
    assert sorted(m.to[0] for m in mail.outbox) == ["sally@example.com", "sam@example.com"]
    for message in mail.outbox:
        assert len(message.to) == 1 and not message.bcc and not message.cc
        assert "weekly digest 2026-W45" in message.subject
        assert "OVERRIDES" in message.body or "No overrides" in message.body
        ((html, kind),) = message.alternatives
        assert kind == "text/html" and "Drafts edited, by policy rule" in html
    run = DigestRun.objects.get(week="2026-W45")
    assert run.recipients == ["sally@example.com", "sam@example.com"]
    assert (run.sends, run.sent_at is not None, run.claimed_until) == (1, True, None)


def test_sending_a_week_twice_sends_it_once():
    staff()

    first = digest_send(WEEK)
    second = digest_send(WEEK)

    assert (first.status, second.status) == (SENT, ALREADY_SENT)
    assert len(mail.outbox) == 2
    assert DigestRun.objects.get().sends == 1


def test_force_sends_a_week_again():
    staff()
    digest_send(WEEK)

    result = digest_send(WEEK, force=True)

    assert result.status == SENT
    assert len(mail.outbox) == 4
    assert DigestRun.objects.get().sends == 2


def test_a_dry_run_sends_and_records_nothing():
    staff()

    result = digest_send(WEEK, dry_run=True)

    assert "DRAFTS EDITED, BY POLICY RULE" in result.text
    assert result.recipients == ["sally@example.com", "sam@example.com"]
    assert mail.outbox == []
    assert not DigestRun.objects.exists()


def test_without_slack_the_email_is_the_whole_digest():
    staff()

    with override_settings(SLACK_BOT_TOKEN=""):
        result = digest_send(WEEK)

    assert result.slack == "off"
    run = DigestRun.objects.get()
    assert (run.slack_wanted, run.slack_blocks) == (False, [])


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_the_same_moment_send_once():
    """Beat firing twice, or the command run while beat sends: real threads, each its own connection."""
    staff()
    start = threading.Barrier(2)
    results = []

    def send() -> None:
        try:
            start.wait()
            results.append(digest_send(WEEK).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) in (["already_sent", "sent"], ["in_progress", "sent"])
    assert len(mail.outbox) == 2


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=sink.port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_TIMEOUT=10,
    ):
        yield sink
    sink.stop()


def recipients(sink: SmtpSink) -> list[str]:
    return [message_from_bytes(raw)["To"] for raw in sink.messages]


def test_a_send_that_fails_part_way_is_retried_for_those_not_reached_only(smtp):
    staff()
    smtp.refuse["sam@example.com"] = 451  # try later

    with pytest.raises(SMTPRecipientsRefused):
        digest_send(WEEK)
    run = DigestRun.objects.get()
    assert (run.recipients, run.sent_at, run.claimed_until) == (["sally@example.com"], None, None)

    smtp.refuse.clear()
    result = digest_send(WEEK)

    assert result.status == SENT
    assert recipients(smtp) == ["sally@example.com", "sam@example.com"]
    assert DigestRun.objects.get().recipients == ["sally@example.com", "sam@example.com"]


def test_an_address_refused_for_good_does_not_stop_the_others(smtp):
    UserFactory(username="aaron", email="aaron@example.com", role=Role.SENIOR_AGENT)
    staff()
    smtp.refuse["aaron@example.com"] = 550

    result = digest_send(WEEK)

    assert result.status == SENT
    assert recipients(smtp) == ["sally@example.com", "sam@example.com"]
