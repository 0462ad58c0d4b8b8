"""The webhook receiver: records every request, answers per path as told, checks signatures."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import requests
from standardwebhooks import Webhook

from tests.support.child_process import ROOT

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="


def _signed(secret: str, body: str, msg_id: str = "evt_1") -> dict[str, str]:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def _post(url: str, body: str, headers: dict[str, str], **kwargs) -> requests.Response:
    return requests.post(url, data=body.encode(), headers=headers, allow_redirects=False, timeout=30, **kwargs)


def test_it_records_method_path_headers_and_the_raw_body(merchant_receiver) -> None:
    body = '{"id":"evt_1","type":"refund.created"}'
    response = _post(merchant_receiver.endpoint_url("/a?x=1"), body, {"X-Test": "yes"})

    assert response.status_code == 200
    (got,) = merchant_receiver.requests("/a")
    assert (got["method"], got["path"], got["query"], got["body"]) == ("POST", "/a", "x=1", body)
    assert got["headers"]["X-Test"] == "yes"
    assert got["received_at"]
    assert merchant_receiver.requests("/b") == []


def test_each_path_answers_by_its_own_mode(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=500)
    merchant_receiver.set_mode("/b", status=204)

    assert _post(merchant_receiver.endpoint_url("/a"), "{}", {}).status_code == 500
    assert _post(merchant_receiver.endpoint_url("/b"), "{}", {}).status_code == 204
    assert _post(merchant_receiver.endpoint_url("/c"), "{}", {}).status_code == 200
    assert [r["answered_status"] for r in merchant_receiver.requests()] == [500, 204, 200]


def test_a_redirect_mode_answers_3xx_with_a_location(merchant_receiver) -> None:
    target = merchant_receiver.endpoint_url("/elsewhere")
    merchant_receiver.set_mode("/a", redirect_to=target)

    response = _post(merchant_receiver.endpoint_url("/a"), "{}", {})

    assert response.status_code == 307
    assert response.headers["Location"] == target
    assert merchant_receiver.requests("/elsewhere") == []


def test_a_delay_outlasts_a_client_timeout(merchant_receiver) -> None:
    merchant_receiver.set_mode("/slow", delay_seconds=5)

    with pytest.raises(requests.Timeout):
        requests.post(merchant_receiver.endpoint_url("/slow"), data=b"{}", timeout=0.5)
    assert len(merchant_receiver.requests("/slow")) == 1


def test_signatures_are_checked_with_the_secrets_given(merchant_receiver) -> None:
    merchant_receiver.set_secrets([SECRET], path="/a")
    body = '{"id":"evt_1"}'

    _post(merchant_receiver.endpoint_url("/a"), body, _signed(SECRET, body))
    _post(merchant_receiver.endpoint_url("/a"), body, _signed(OTHER, body))
    _post(merchant_receiver.endpoint_url("/b"), body, _signed(SECRET, body))

    good, forged = merchant_receiver.requests("/a")
    assert good["signature_verified"] is True and good["verified_by"] == [0]
    assert forged["signature_verified"] is False and forged["verify_error"]
    assert merchant_receiver.requests("/b")[0]["signature_verified"] is None  # no secret for /b
    page = merchant_receiver.page()
    assert "✓" in page and "✗" in page


def test_a_webhook_id_seen_again_is_marked_as_a_duplicate(merchant_receiver) -> None:
    for _ in range(2):
        _post(merchant_receiver.endpoint_url("/a"), "{}", {"webhook-id": "evt_same"})

    assert [r["duplicate"] for r in merchant_receiver.requests("/a")] == [False, True]


def test_reset_forgets_requests_and_modes(merchant_receiver) -> None:
    merchant_receiver.set_mode("/a", status=500)
    _post(merchant_receiver.endpoint_url("/a"), "{}", {})

    merchant_receiver.reset()

    assert merchant_receiver.requests() == []
    assert _post(merchant_receiver.endpoint_url("/a"), "{}", {}).status_code == 200


def test_a_bad_mode_is_refused(merchant_receiver) -> None:
    response = requests.post(merchant_receiver.url + "/_recv/mode", json={"status": 42}, timeout=30)

    assert response.status_code == 400


def test_it_comes_back_on_the_same_port_after_a_stop(merchant_receiver) -> None:
    url = merchant_receiver.endpoint_url("/a")
    merchant_receiver.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(url, data=b"{}", timeout=5)

    merchant_receiver.start()

    assert merchant_receiver.endpoint_url("/a") == url
    assert _post(url, "{}", {}).status_code == 200


def test_the_manage_command_starts_it_with_secrets() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    args = [sys.executable, "manage.py", "run_webhook_receiver", "--port", "0", "--secret", SECRET]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while not line and time.monotonic() < deadline and process.poll() is None:
            if select.select([process.stdout], [], [], 0.5)[0]:
                line = process.stdout.readline().decode()
        assert "webhook receiver listening on http://127.0.0.1:" in line
        url = line.split("listening on ", 1)[1].strip()
        body = '{"id":"evt_9"}'
        _post(url + "/hooks", body, _signed(SECRET, body, "evt_9"))
        got = requests.get(url + "/_recv/requests", timeout=30).json()
        assert got[0]["signature_verified"] is True
        assert json.loads(got[0]["body"]) == {"id": "evt_9"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_receiver_imports_no_django_and_none_of_our_apps() -> None:
    ours = ("django", "config", "core", "refunds", "events", "integrations", "providers", "notifications")
    code = (
        "import json, sys; import devtools.webhook_receiver.server; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {ours!r})))"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)

    assert json.loads(done.stdout) == []


def test_a_held_request_answers_once_released(merchant_receiver) -> None:
    import threading

    merchant_receiver.set_mode("/held", status=202, delay_seconds=60, hold=True)
    answers: list[int] = []
    caller = threading.Thread(
        target=lambda: answers.append(_post(merchant_receiver.endpoint_url("/held"), "{}", {}).status_code)
    )
    caller.start()
    assert len(merchant_receiver.wait_for_requests("/held", 1)) == 1
    assert answers == []  # received, still held

    merchant_receiver.release("/held")
    caller.join(timeout=30)

    assert answers == [202]
