"""What production (DEBUG=0) refuses to start with: missing secrets and the demo's published ones.

The embedded demo runs with no configuration at all, so config/settings/base.py
has a default for every secret. Those defaults are public (README, this
repository), so a process that starts with one of them in production has no
secret: anyone could sign webhooks with `whsec_demo_secret`, and the status
links and evidence files would be encrypted with keys derived from a known
SECRET_KEY. With DEBUG=0 the settings raise ImproperlyConfigured instead,
naming each variable (never its value), before gunicorn, Celery or any
management command can do anything.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# The defaults of config/settings/base.py: the demo's values, published with the code and the README.
DEMO_SECRET_KEY = "insecure-demo-key-change-me-" + "x" * 24
DEMO_PROVIDER_API_KEY = "sk_test_simulator"
DEMO_PROVIDER_WEBHOOK_SECRET = "whsec_demo_secret"
# The Slack simulator's (scripts/demo.sh, `manage.py run_slack_sim`): the demo's "Slack" signs with this.
DEMO_SLACK_BOT_TOKEN = "xoxb-demo-slack-sim"
DEMO_SLACK_SIGNING_SECRET = "demo-slack-signing-secret"
PUBLISHED: dict[str, frozenset[str]] = {
    "SECRET_KEY": frozenset({DEMO_SECRET_KEY}),
    "PROVIDER_API_KEY": frozenset({DEMO_PROVIDER_API_KEY}),
    "PROVIDER_WEBHOOK_SECRET": frozenset({DEMO_PROVIDER_WEBHOOK_SECRET}),
    "SLACK_BOT_TOKEN": frozenset({DEMO_SLACK_BOT_TOKEN}),
    "SLACK_SIGNING_SECRET": frozenset({DEMO_SLACK_SIGNING_SECRET}),
}
FERNET_KEYS = (
    "STATUS_TOKEN_ENCRYPTION_KEY",
    "EVIDENCE_ENCRYPTION_KEY",
    "WEBHOOK_SECRET_ENCRYPTION_KEY",
    # Issue 15: store credit codes (spendable money) and the portal's one-time codes, sealed at rest.
    "STORE_CREDIT_ENCRYPTION_KEY",
    "PORTAL_CODE_ENCRYPTION_KEY",
)
# Prints each email, recipient address included, on the worker's stdout: into the logs.
CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Writes each email into files under EMAIL_FILE_PATH (the demo's mailbox, devtools/mailbox.py): customer data on disk.
FILE_EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


def _parts(value: str) -> list[str]:
    """A setting that rotates holds several values separated by commas; each must stand on its own."""
    return [part.strip() for part in value.split(",") if part.strip()]


def _is_fernet_key(value: str) -> bool:
    try:
        Fernet(value)
    except (ValueError, TypeError):
        return False
    return True


def production_refusals(environ: Mapping[str, str], *, provider: str, email_backend: str) -> list[str]:
    """Why these settings may not run in production, one line per variable; empty when they may."""
    required = ["SECRET_KEY", "PROVIDER_WEBHOOK_SECRET", *FERNET_KEYS]
    if provider == "stripe":
        required.insert(1, "PROVIDER_API_KEY")
    if environ.get("SLACK_BOT_TOKEN", "").strip():
        # Slack on: its interactions approve refunds, so an unsigned (or demo-signed) request must never pass.
        required += ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    refusals = []
    for name in required:
        parts = _parts(environ.get(name, ""))
        if not parts:
            refusals.append(f"{name} is not set")
        elif PUBLISHED.get(name, frozenset()) & set(parts):
            refusals.append(f"{name} is the published demo value")
        elif name in FERNET_KEYS and not all(_is_fernet_key(part) for part in parts):
            refusals.append(f"{name} is not a Fernet key (or a comma-separated list of them)")
    if email_backend == CONSOLE_EMAIL_BACKEND:
        refusals.append("EMAIL_BACKEND is the console backend, which writes customer emails into the logs")
    if email_backend == FILE_EMAIL_BACKEND:
        refusals.append("EMAIL_BACKEND is the file backend, which keeps customer emails in files instead of sending")
    return refusals


def refuse_demo_configuration(environ: Mapping[str, str], *, provider: str, email_backend: str) -> None:
    """Raise ImproperlyConfigured naming every variable production may not run with."""
    refusals = production_refusals(environ, provider=provider, email_backend=email_backend)
    if refusals:
        raise ImproperlyConfigured(
            "With DEBUG=0 Refund desk needs secrets of its own (docs/operations.md): " + "; ".join(refusals) + "."
        )
