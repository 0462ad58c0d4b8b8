"""The same signed request sent at once to several web processes is recorded once: the unique digest decides.

The real app under gunicorn (4 worker processes) on the test database,
with the integration on; the requests are signed by hand.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from integrations.models import SlackInteraction
from tests.integrations.slack.conftest import SECRET, URL, card_click, form, review_refund, sign
from tests.support.live import GunicornServer, app_env, delete_cache_keys, delete_queues, new_namespace

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def slack_web(django_db_setup, django_db_blocker):
    namespace = new_namespace("slackweb")
    env = app_env(
        namespace=namespace,
        SLACK_BOT_TOKEN="xoxb-hand",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_BASE="http://127.0.0.1:9/api/",
    )
    server = GunicornServer(env=env, workers=4)
    server.start()
    yield server
    server.stop()
    delete_queues(namespace)
    delete_cache_keys(namespace)


def test_a_replay_racing_the_original_across_processes_is_recorded_once(slack_web):
    refund = review_refund()
    body = form(card_click(refund))
    headers = {
        "X-Slack-Request-Timestamp": sign(body)["HTTP_X_SLACK_REQUEST_TIMESTAMP"],
        "X-Slack-Signature": sign(body)["HTTP_X_SLACK_SIGNATURE"],
        "Content-Type": "application/x-www-form-urlencoded",
    }

    def send(_: int) -> int:
        return requests.post(slack_web.url + URL, data=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, range(24)))
    assert statuses == [200] * 24
    assert SlackInteraction.objects.count() == 1


def test_the_live_app_refuses_a_forged_request(slack_web):
    refund = review_refund()
    body = form(card_click(refund))
    forged = sign(body, secret="guess")
    response = requests.post(
        slack_web.url + URL,
        data=body,
        headers={
            "X-Slack-Request-Timestamp": forged["HTTP_X_SLACK_REQUEST_TIMESTAMP"],
            "X-Slack-Signature": forged["HTTP_X_SLACK_SIGNATURE"],
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    assert response.status_code == 401
    assert not SlackInteraction.objects.exists()
