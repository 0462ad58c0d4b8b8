"""The simulator's own protocol: auth, idempotency, listing, webhooks, restarts."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from providers.stripe.signature import SignatureError, verify_signature
from tests.support.stripe_sim import (
    API_KEY,
    REPO_ROOT,
    WEBHOOK_SECRET,
    SimulatorProcess,
    WebhookReceiver,
    payment_id,
    wait_until,
)

pytestmark = pytest.mark.slow  # each test starts the simulator process


def _create(sim: SimulatorProcess, pi: str, *, amount: str = "700", key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    data = {"payment_intent": pi, "amount": amount, "metadata[refund_id]": "rf_x"}
    return sim.request("POST", "/v1/refunds", data=data, headers=headers)


def _delivered(sim: SimulatorProcess, refund_id: str) -> list[dict]:
    return [w for w in sim.webhook_log() if w["refund"] == refund_id and w["delivered_at"]]


def test_requests_without_a_valid_bearer_key_are_refused(simulator: SimulatorProcess) -> None:
    url = simulator.url + "/v1/refunds"

    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer sk_other"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5).status_code == 200


def test_replayed_answer_is_the_stored_one_and_says_so(simulator: SimulatorProcess) -> None:
    pi = payment_id("ok")

    first = _create(simulator, pi, key="k-replay")
    second = _create(simulator, pi, key="k-replay")

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Idempotency-Key"] == "k-replay"


def test_same_key_with_other_params_is_a_400_idempotency_error(simulator: SimulatorProcess) -> None:
    pi = payment_id("ok")
    _create(simulator, pi, key="k-mismatch")

    resp = _create(simulator, pi, amount="701", key="k-mismatch")

    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "idempotency_error"


def test_invalid_requests_are_refused_without_burning_the_key(simulator: SimulatorProcess) -> None:
    pi = payment_id("ok")

    for amount in ("0", "-3", "12.5", "ten"):
        resp = _create(simulator, pi, amount=amount, key="k-valid-later")
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "parameter_invalid_integer"
    missing = simulator.request("POST", "/v1/refunds", data={"amount": "5"})
    unknown = simulator.request("POST", "/v1/refunds", data={"payment_intent": pi, "amount": "5", "colour": "red"})

    assert missing.json()["error"]["code"] == "parameter_missing"
    assert unknown.json()["error"]["code"] == "parameter_unknown"
    assert _create(simulator, pi, amount="5", key="k-valid-later").status_code == 200


def test_currency_comes_from_the_param_or_metadata(simulator: SimulatorProcess) -> None:
    as_param = simulator.request(
        "POST", "/v1/refunds", data={"payment_intent": payment_id("ok"), "amount": "5", "currency": "JPY"}
    )
    as_metadata = simulator.request(
        "POST",
        "/v1/refunds",
        data={"payment_intent": payment_id("ok"), "amount": "5", "metadata[currency]": "kwd"},
    )
    default = simulator.request("POST", "/v1/refunds", data={"payment_intent": payment_id("ok"), "amount": "5"})

    assert [r.json()["currency"] for r in (as_param, as_metadata, default)] == ["jpy", "kwd", "usd"]


def test_list_filters_by_payment_intent_and_pages_with_a_cursor(simulator: SimulatorProcess) -> None:
    pi, other = payment_id("ok"), payment_id("ok")
    ids = [_create(simulator, pi).json()["id"] for _ in range(3)]
    _create(simulator, other)

    page1 = simulator.request("GET", "/v1/refunds", params={"payment_intent": pi, "limit": 2}).json()
    page2 = simulator.request(
        "GET", "/v1/refunds", params={"payment_intent": pi, "limit": 2, "starting_after": page1["data"][-1]["id"]}
    ).json()

    assert page1["object"] == "list"
    assert (page1["has_more"], page2["has_more"]) == (True, False)
    assert [r["id"] for r in page1["data"] + page2["data"]] == list(reversed(ids))


def test_list_refuses_bad_limits_and_unknown_cursors(simulator: SimulatorProcess) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"starting_after": "re_missing"}, {"nope": 1}):
        assert simulator.request("GET", "/v1/refunds", params=params).status_code == 400


def test_webhooks_are_signed_stripe_events(simulator: SimulatorProcess, webhook_receiver: WebhookReceiver) -> None:
    refund = _create(simulator, payment_id("ok"), key="k-webhook").json()

    wait_until(lambda: webhook_receiver.events(refund["id"]))
    headers, body = webhook_receiver.requests[0]
    event = json.loads(body)

    assert verify_signature(body, headers["Stripe-Signature"], WEBHOOK_SECRET) > 0
    with pytest.raises(SignatureError):
        verify_signature(body, headers["Stripe-Signature"], "whsec_not_ours")
    assert event["id"].startswith("evt_")
    assert (event["object"], event["type"]) == ("event", "refund.created")
    assert event["data"]["object"] == refund
    assert event["request"]["idempotency_key"] == "k-webhook"


def test_a_succeeded_refund_can_be_failed_afterwards_and_its_webhooks_say_so(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    # Issue 12: a provider reversal after success, for end-to-end tests of `completed → failed`.
    refund = _create(simulator, payment_id("ok")).json()
    wait_until(lambda: webhook_receiver.events(refund["id"]))

    failed = simulator.request("POST", f"/_sim/refunds/{refund['id']}/fail", data={"failure_reason": "declined"})
    again = simulator.request("POST", f"/_sim/refunds/{refund['id']}/fail")
    unknown = simulator.request("POST", "/_sim/refunds/re_nobody/fail")

    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["failure_reason"]) == ("failed", "declined")
    assert (again.status_code, unknown.status_code) == (400, 404)

    def reversal_events() -> list[dict] | None:
        events = [e for e in webhook_receiver.events(refund["id"]) if e["type"] != "refund.created"]
        return events if len(events) >= 2 else None

    events = wait_until(reversal_events)
    assert sorted(e["type"] for e in events) == ["charge.refund.updated", "refund.updated"]
    for event in events:
        assert event["data"]["object"]["status"] == "failed"
        assert event["data"]["previous_attributes"] == {"status": "succeeded"}
    read = simulator.request("GET", f"/v1/refunds/{refund['id']}").json()
    assert read["status"] == "failed"


def test_webhook_is_retried_until_the_receiver_accepts_it(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.fail_next = 2
    refund_id = _create(simulator, payment_id("ok")).json()["id"]

    delivered = wait_until(lambda: _delivered(simulator, refund_id))

    assert delivered[0]["attempts"] == 3
    attempts = [(h, b) for h, b in webhook_receiver.requests if json.loads(b)["data"]["object"]["id"] == refund_id]
    assert len({json.loads(b)["id"] for _, b in attempts}) == 1  # the same event, three times
    for headers, body in attempts:
        verify_signature(body, headers["Stripe-Signature"], WEBHOOK_SECRET)


def test_shifted_clock_changes_created_but_not_webhook_timing(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    now = simulator.request("POST", "/_sim/clock", data={"offset": 86400}).json()["now"]

    refund = _create(simulator, payment_id("ok")).json()

    assert refund["created"] >= now
    assert wait_until(lambda: webhook_receiver.events(refund["id"]), timeout=5)


def test_refunds_and_idempotency_keys_survive_a_restart(simulator: SimulatorProcess) -> None:
    pi = payment_id("ok")
    refund = _create(simulator, pi, key="k-restart").json()

    simulator.restart()

    assert simulator.request("GET", f"/v1/refunds/{refund['id']}").json() == refund
    replay = _create(simulator, pi, key="k-restart")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == refund["id"]
    assert [r["id"] for r in simulator.refunds_for(pi)] == [refund["id"]]


def test_webhook_delivery_resumes_after_a_restart(
    simulator: SimulatorProcess, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.fail_all = True
    refund_id = _create(simulator, payment_id("ok")).json()["id"]
    wait_until(lambda: [w for w in simulator.webhook_log() if w["refund"] == refund_id and w["attempts"] >= 1])

    simulator.stop()
    webhook_receiver.fail_all = False
    simulator.start()

    assert wait_until(lambda: _delivered(simulator, refund_id))


def test_pending_refund_settles_after_a_restart(simulator: SimulatorProcess) -> None:
    refund = _create(simulator, payment_id("async")).json()
    assert refund["status"] == "pending"

    simulator.restart()

    wait_until(lambda: simulator.request("GET", f"/v1/refunds/{refund['id']}").json()["status"] == "succeeded")


def test_reset_wipes_everything(simulator: SimulatorProcess) -> None:
    pi = payment_id("ok")
    _create(simulator, pi, key="k-reset")

    assert requests.post(simulator.url + "/_sim/reset", timeout=5).status_code == 200

    assert requests.get(simulator.url + "/_sim/health", timeout=5).json()["refunds"] == 0
    assert "Idempotent-Replayed" not in _create(simulator, pi, key="k-reset").headers


def test_manage_py_run_provider_sim_signs_with_the_settings_secret(
    tmp_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    """The Django command is the same server, configured from settings."""
    secret = f"whsec_{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "PROVIDER_WEBHOOK_SECRET": secret,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "manage.py", "run_provider_sim", "--port", "0", "--db", str(tmp_path / "cmd.sqlite3")]
    cmd += ["--webhook-url", webhook_receiver.url]
    with open(tmp_path / "cmd.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=log)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""  # type: ignore[union-attr]
        assert "listening on " in line, (tmp_path / "cmd.log").read_text()
        url = line.rsplit(" ", 1)[1].strip()
        resp = requests.post(
            url + "/v1/refunds",
            data={"payment_intent": payment_id("ok"), "amount": "100"},
            headers={"Authorization": "Bearer sk_test_any"},
            timeout=5,
        )
        assert resp.status_code == 200
        wait_until(lambda: webhook_receiver.requests)
        headers, body = webhook_receiver.requests[0]
        assert verify_signature(body, headers["Stripe-Signature"], secret)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
