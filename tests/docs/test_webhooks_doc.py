"""The verification snippets of docs/webhooks.md work: run against requests signed by our own signing code.

Both code blocks are read out of the document (the fence after each
`<!-- tested: … -->` marker), so what a merchant copies is what runs here.
Each must accept a request signed by `events.signing.signature_headers` —
with one secret, and with either secret alone during a rotation's overlap —
and refuse a tampered body, a wrong secret and a stale timestamp.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from events.signing import secret_new, signature_headers

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
NODE = shutil.which("node")

EVENT = {
    "id": "evt_docs0test0000000000000001",
    "object": "event",
    "type": "refund.completed",
    "created_at": "2026-12-02T16:40:11.532Z",
    "sequence": 7,
    "data": {"refund_id": "rf_docs", "state": "completed", "amount_minor": 5000, "currency": "USD", "note": "é ✓"},
}


def _snippet(language: str) -> str:
    """The code block right after `<!-- tested: <language> … -->` in docs/webhooks.md."""
    pattern = rf"<!-- tested: {language}\b[^>]*-->\s*```\w+\n(.*?)```"
    found = re.findall(pattern, DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(found) == 1, f"docs/webhooks.md has {len(found)} tested {language} blocks, expected 1"
    return found[0]


def _signed(secrets: list[str], *, at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False)
    headers = signature_headers(message_id=EVENT["id"], body=body, secrets=secrets, at=at or datetime.now(UTC))
    return body.encode(), headers


def _tampered(body: bytes) -> bytes:
    return body.replace(b'"amount_minor":5000', b'"amount_minor":9000')


# --- Python --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def verified_event():
    namespace: dict = {}
    exec(compile(_snippet("python"), str(DOC), "exec"), namespace)  # the document's own code, as merchants copy it
    return namespace["verified_event"]


def test_python_snippet_accepts_a_signed_request(verified_event):
    secret = secret_new()
    body, headers = _signed([secret])
    # Header names as a web framework may hand them over: capitalised.
    assert verified_event(body, {name.title(): value for name, value in headers.items()}, secret) == EVENT


def test_python_snippet_refuses_a_tampered_body_a_wrong_secret_and_a_stale_timestamp(verified_event):
    secret = secret_new()
    body, headers = _signed([secret])
    with pytest.raises(WebhookVerificationError):
        verified_event(_tampered(body), headers, secret)
    with pytest.raises(WebhookVerificationError):
        verified_event(body, headers, secret_new())
    stale_body, stale_headers = _signed([secret], at=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        verified_event(stale_body, stale_headers, secret)


def test_python_snippet_accepts_either_secret_alone_during_a_rotation(verified_event):
    new, old = secret_new(), secret_new()
    body, headers = _signed([new, old])  # as signed during the overlap: current first, then the previous one
    assert verified_event(body, headers, new) == EVENT
    assert verified_event(body, headers, old) == EVENT


# --- Node ----------------------------------------------------------------------------------------

RUNNER = """
const { verifiedEvent } = require(process.argv[2]);
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
try {
  const event = verifiedEvent(Buffer.from(input.body, "base64"), input.headers, input.secret);
  process.stdout.write(JSON.stringify({ ok: true, event }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error.message) }));
}
"""


@pytest.fixture(scope="module")
def node_verify(tmp_path_factory):
    if NODE is None:
        pytest.skip("node is not installed on this machine: the Node.js snippet of docs/webhooks.md is not run")
    directory = tmp_path_factory.mktemp("webhooks_doc_node")
    (directory / "verify.js").write_text(_snippet("node"), encoding="utf-8")
    (directory / "runner.js").write_text(RUNNER, encoding="utf-8")

    def run(body: bytes, headers: dict[str, str], secret: str) -> dict:
        import base64

        given = {"body": base64.b64encode(body).decode(), "headers": headers, "secret": secret}
        done = subprocess.run(
            [NODE, str(directory / "runner.js"), str(directory / "verify.js")],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(done.stdout)

    return run


def test_node_snippet_accepts_a_signed_request(node_verify):
    secret = secret_new()
    body, headers = _signed([secret])
    assert node_verify(body, headers, secret) == {"ok": True, "event": EVENT}


def test_node_snippet_refuses_a_tampered_body_a_wrong_secret_and_a_stale_timestamp(node_verify):
    secret = secret_new()
    body, headers = _signed([secret])
    assert node_verify(_tampered(body), headers, secret)["ok"] is False
    assert node_verify(body, headers, secret_new())["ok"] is False
    stale_body, stale_headers = _signed([secret], at=datetime.now(UTC) - timedelta(minutes=10))
    assert node_verify(stale_body, stale_headers, secret)["ok"] is False


def test_node_snippet_accepts_either_secret_alone_during_a_rotation(node_verify):
    new, old = secret_new(), secret_new()
    body, headers = _signed([new, old])
    assert node_verify(body, headers, new)["event"] == EVENT
    assert node_verify(body, headers, old)["event"] == EVENT
