"""Starting the settings in a process of their own, as a deploy would: the environment decides everything.

The test session's own environment carries the test settings' values
(config/settings/test.py sets them with os.environ.setdefault), so every
variable a deploy decides is removed first; each test then says what it sets.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"

# Everything a deploy decides; none of it leaks in from the test session.
DEPLOY_VARIABLES = {
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "APP_BASE_URL", "DEVTOOLS", "VAR_DIR", "PRIVATE_MEDIA_ROOT",
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_TASK_DEFAULT_QUEUE", "TEST_NAMESPACE",
    "PROVIDER", "PROVIDER_API_BASE", "PROVIDER_API_KEY", "PROVIDER_WEBHOOK_SECRET",
    "STATUS_TOKEN_ENCRYPTION_KEY", "EVIDENCE_ENCRYPTION_KEY", "WEBHOOK_SECRET_ENCRYPTION_KEY",
    "STORE_CREDIT_ENCRYPTION_KEY", "PORTAL_CODE_ENCRYPTION_KEY",
    "EMAIL_BACKEND", "EMAIL_HOST",
    "SECURE_HTTPS", "SECURE_COOKIES", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE",
    # Set by the browser tests' conftest for Playwright; a deployment never has it (check async.E001).
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}  # fmt: skip
FERNET_VARIABLES = {
    "STATUS_TOKEN_ENCRYPTION_KEY",
    "EVIDENCE_ENCRYPTION_KEY",
    "WEBHOOK_SECRET_ENCRYPTION_KEY",
    "STORE_CREDIT_ENCRYPTION_KEY",
    "PORTAL_CODE_ENCRYPTION_KEY",
}


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The test process's environment without any deploy variable, plus `values` (base settings, files under tmp)."""
    env = {key: value for key, value in os.environ.items() if key not in DEPLOY_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    env.update(values)
    return env


def documented_production_env() -> dict[str, str]:
    """The production environment docs/operations.md lists, with its `<placeholders>` filled with fresh secrets.

    The block sits between `<!-- production-env -->` and the end of its code
    fence: KEY=value lines, `#` comments.
    """
    text = OPERATIONS.read_text()
    match = re.search(r"<!-- production-env -->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert match, "docs/operations.md has no <!-- production-env --> block"
    env: dict[str, str] = {}
    for line in match.group(1).splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if value.startswith("<") and value.endswith(">"):
            value = Fernet.generate_key().decode() if key in FERNET_VARIABLES else secrets.token_urlsafe(50)
        env[key] = value
    return env


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The documented production environment, its directories moved under `tmp_path`."""
    env = documented_production_env()
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    (tmp_path / "metrics").mkdir(exist_ok=True)
    env.update(overrides)
    return clean_env(tmp_path, **env)


def run_python(env: dict[str, str], code: str, *, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


SETUP = "import django; django.setup()"
