"""The digest's post is made once even when the database or the connection fails around it.

A database failure after Slack took the post used to fail the task with the
run still unposted, so the next queueing posted the digest a second time;
an `http.client` error that slack_sdk lets through escaped the backoff. Now
the task retries only the record (the message's ts in its arguments) and a
cut connection backs off like a 5xx.
"""

from __future__ import annotations

import socket
import threading
from unittest import mock

import pytest
from django.db import OperationalError
from django.db.models.query import QuerySet
from django.test import override_settings

from integrations.digest_send import digest_send
from integrations.models import DigestRun
from integrations.slack.digest import DONE, POSTED, RETRY, digest_post_attempt, post_digest
from refunds.enums import Role
from tests.integrations.digest_week import WEEK
from tests.refunds.factories import UserFactory
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(slack_settings, django_capture_on_commit_callbacks):
    UserFactory(username="sally", email="sally@example.com", role=Role.SENIOR_AGENT)
    with django_capture_on_commit_callbacks():
        digest_send(WEEK)
    return DigestRun.objects.get(week=str(WEEK))


def test_a_database_failure_after_the_post_retries_the_record_never_the_post(run, slack_sim):
    real_update = QuerySet.update
    failures = []

    def update(queryset, **fields):
        # The database goes away just as the post's ts is written, once.
        if queryset.model is DigestRun and "slack_ts" in fields and not failures:
            failures.append(fields["slack_ts"])
            raise OperationalError("server closed the connection unexpectedly")
        return real_update(queryset, **fields)

    with mock.patch.object(QuerySet, "update", update):
        assert post_digest.apply(kwargs={"run_id": run.pk}).get() == POSTED

    (message,) = slack_sim.messages(APPROVALS_CHANNEL)
    run.refresh_from_db()
    assert failures == [message["ts"]] and (run.slack_channel, run.slack_ts) == (APPROVALS_CHANNEL, message["ts"])
    assert len(slack_sim.calls("chat.postMessage")) == 1
    # Queued again later (send_weekly's sweep, send_digest): nothing more is posted.
    assert post_digest.apply(kwargs={"run_id": run.pk}).get() == DONE
    assert len(slack_sim.calls("chat.postMessage")) == 1


def test_a_record_retried_after_a_forced_resend_does_not_claim_the_new_round(run, slack_sim):
    from integrations.slack.digest import digest_post_record

    stale = {"run_id": run.pk, "sends": run.sends - 1, "channel": APPROVALS_CHANNEL, "ts": "1.000001", "week": run.week}
    assert digest_post_record(stale) == DONE
    run.refresh_from_db()
    assert run.slack_ts == ""


class CutShort:
    """A loopback HTTP server that promises a body and hangs up after one byte (http.client.IncompleteRead)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.hits += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")

    def close(self) -> None:
        self.sock.close()


def test_a_connection_cut_mid_answer_backs_off_instead_of_failing_the_task(run, slack_sim):
    server = CutShort()
    try:
        with override_settings(SLACK_API_BASE=f"http://127.0.0.1:{server.port}/api/"):
            result = digest_post_attempt(run_id=run.pk)
    finally:
        server.close()

    assert server.hits >= 1
    assert result.status == RETRY and result.retry_in > 0
    run.refresh_from_db()
    assert run.slack_attempts == 1 and run.slack_lease_until is None
    assert run.slack_last_error.startswith("IncompleteRead")
