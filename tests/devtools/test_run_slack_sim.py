"""`manage.py run_slack_sim`: the simulator with the app's own token and signing secret by default."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from tests.support.slack_sim import ROOT, InteractionReceiver


@pytest.fixture
def receiver():
    running = InteractionReceiver()
    yield running
    running.close()


def _announced(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if select.select([process.stdout], [], [], 0.5)[0]:
            return process.stdout.readline().decode()
    return ""


def test_the_command_takes_token_and_secret_from_settings(receiver: InteractionReceiver) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SLACK_BOT_TOKEN": "xoxb-from-settings",
        "SLACK_SIGNING_SECRET": "secret-from-settings",
    }
    args = [sys.executable, "manage.py", "run_slack_sim", "--port", "0", "--interactions-url", receiver.url]
    args += ["--user", "U1:alice@example.com:alice"]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = _announced(process)
        assert "slack simulator listening on http://127.0.0.1:" in line
        url = line.split("listening on ", 1)[1].strip()
        client = WebClient(token="xoxb-from-settings", base_url=url + "/api/", retry_handlers=[])
        ts = client.chat_postMessage(
            channel="C1",
            text="card",
            blocks=[
                {
                    "type": "actions",
                    "elements": [{"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}],
                }
            ],
        )["ts"]
        requests.post(
            url + "/_sim/click", json={"user": "U1", "channel": "C1", "ts": ts, "action_id": "go"}, timeout=30
        )

        [(headers, body)] = receiver.requests
        assert SignatureVerifier("secret-from-settings").is_valid_request(body, headers)
        assert client.users_info(user="U1")["user"]["profile"]["email"] == "alice@example.com"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
