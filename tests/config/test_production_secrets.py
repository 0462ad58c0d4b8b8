"""With DEBUG=0 the app refuses to start on a missing or published secret (issue 10, item 11).

The attack: a deploy that followed the README without setting secrets ran
gunicorn with the demo SECRET_KEY (from which the encryption keys derive)
and the README's `whsec_demo_secret`, so anyone could sign webhooks. Each
case starts the settings in a process of its own, as gunicorn would.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from config.settings.guard import FERNET_KEYS
from tests.support.deploy import ROOT, SETUP, clean_env, run_python
from tests.support.live import free_port

REQUIRED = [
    "SECRET_KEY",
    "PROVIDER_WEBHOOK_SECRET",
    "PROVIDER_API_KEY",
    "STATUS_TOKEN_ENCRYPTION_KEY",
    "EVIDENCE_ENCRYPTION_KEY",
    "WEBHOOK_SECRET_ENCRYPTION_KEY",
    "STORE_CREDIT_ENCRYPTION_KEY",
    "PORTAL_CODE_ENCRYPTION_KEY",
]
# The defaults of config/settings/base.py and the values the README publishes.
DEMO_VALUES = [
    ("SECRET_KEY", "insecure-demo-key-change-me-" + "x" * 24),
    ("PROVIDER_WEBHOOK_SECRET", "whsec_demo_secret"),
    # Kept for "rotation". A fixed new secret: test ids must be the same in every xdist worker.
    ("PROVIDER_WEBHOOK_SECRET", "whsec_" + "5e3c" * 8 + ", whsec_demo_secret"),
    ("PROVIDER_API_KEY", "sk_test_simulator"),
]


def configured() -> dict[str, str]:
    """Every secret set to a fresh value: what an operator following docs/operations.md provides."""
    return {
        "DEBUG": "0",
        "SECURE_HTTPS": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PROVIDER": "stripe",
        "PROVIDER_API_KEY": f"sk_live_{secrets.token_hex(16)}",
        "PROVIDER_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(16)}",
        "STATUS_TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "EVIDENCE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "STORE_CREDIT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PORTAL_CODE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def start(tmp_path, values: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python(clean_env(tmp_path, **values), SETUP)


def test_production_with_every_secret_set_starts(tmp_path):
    result = start(tmp_path, configured())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", REQUIRED)
def test_a_missing_secret_refuses_to_start_naming_it(tmp_path, name):
    values = configured()
    del values[name]
    result = start(tmp_path, values)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("name", REQUIRED)
def test_an_empty_secret_counts_as_missing(tmp_path, name):
    result = start(tmp_path, {**configured(), name: "  "})
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(("name", "value"), DEMO_VALUES)
def test_a_published_demo_value_refuses_to_start(tmp_path, name, value):
    result = start(tmp_path, {**configured(), name: value})
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and name in last
    assert value.split(",")[-1].strip() not in last  # the message never echoes a secret


@pytest.mark.parametrize("name", sorted(FERNET_KEYS))
def test_an_encryption_key_that_is_not_a_fernet_key_refuses_to_start(tmp_path, name):
    result = start(tmp_path, {**configured(), name: "not-a-fernet-key"})
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]


def test_the_manual_provider_needs_no_provider_api_key(tmp_path):
    values = {**configured(), "PROVIDER": "manual"}
    del values["PROVIDER_API_KEY"]
    result = start(tmp_path, values)
    assert result.returncode == 0, result.stderr


def test_the_console_email_backend_is_refused_in_production(tmp_path):
    """It prints every customer email, address and all, into the worker's log."""
    result = start(tmp_path, {**configured(), "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"})
    assert result.returncode != 0
    assert "EMAIL_BACKEND" in result.stderr.splitlines()[-1]


def test_the_file_email_backend_is_refused_in_production(tmp_path):
    """The demo's mailbox backend keeps every customer email, one-time codes included, in files."""
    result = start(
        tmp_path,
        {
            **configured(),
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        },
    )
    assert result.returncode != 0
    assert "EMAIL_BACKEND is the file backend" in result.stderr.splitlines()[-1]


def test_production_sends_email_over_smtp_unless_told_otherwise(tmp_path):
    result = run_python(
        clean_env(tmp_path, **configured()), SETUP + "; from django.conf import settings; print(settings.EMAIL_BACKEND)"
    )
    assert result.stdout.strip() == "django.core.mail.backends.smtp.EmailBackend", result.stderr


def test_the_demo_still_starts_with_no_configuration_at_all(tmp_path):
    result = run_python(
        clean_env(tmp_path, DEBUG="1"), SETUP + "; from django.conf import settings; print(settings.EMAIL_BACKEND)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.slow
def test_gunicorn_does_not_start_without_the_webhook_secret(tmp_path):
    """The reproduction: gunicorn with DEBUG=0 and no PROVIDER_WEBHOOK_SECRET used to serve requests."""
    values = configured()
    del values["PROVIDER_WEBHOOK_SECRET"]
    env = clean_env(tmp_path, **values)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is not None, "gunicorn is serving with no webhook secret"
        assert process.returncode != 0
        assert "PROVIDER_WEBHOOK_SECRET" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


# --- Slack (issue 13): its interactions approve refunds ---------------------------------------------------


def test_slack_on_without_a_signing_secret_refuses_to_start(tmp_path):
    """An empty signing secret is an HMAC key anyone has: every forged tap would verify."""
    result = start(tmp_path, {**configured(), "SLACK_BOT_TOKEN": f"xoxb-{secrets.token_hex(8)}"})
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "value"),
    [("SLACK_BOT_TOKEN", "xoxb-demo-slack-sim"), ("SLACK_SIGNING_SECRET", "demo-slack-signing-secret")],
)
def test_slack_demo_values_refuse_to_start(tmp_path, name, value):
    values = {
        **configured(),
        "SLACK_BOT_TOKEN": f"xoxb-{secrets.token_hex(8)}",
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        name: value,
    }
    result = start(tmp_path, values)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert name in last and value not in last


def test_slack_with_its_own_secrets_starts(tmp_path):
    values = {**configured(), "SLACK_BOT_TOKEN": f"xoxb-{secrets.token_hex(8)}", "SLACK_SIGNING_SECRET": "s" * 32}
    result = start(tmp_path, values)
    assert result.returncode == 0, result.stderr
