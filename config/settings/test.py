"""Test settings: the real PostgreSQL and Redis of SPEC §2, never SQLite.

`DATABASE_URL` and `REDIS_URL` default to the local services at 127.0.0.1 and
can be overridden; a test that needs them stops the run with a clear message
if they do not answer (tests/conftest.py), pure tests run without them.
"""

import os
import uuid

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refund_desk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# The broker gets its own Redis database: tests delete cache keys, never queues.
os.environ.setdefault("CELERY_BROKER_URL", os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/9")
os.environ.setdefault("DEVTOOLS", "1")
# The tests run with DEBUG=0, so the settings refuse the demo's published secrets
# (config/settings/guard.py): these are the tests' own, set in os.environ so the
# gunicorn and Celery processes a test starts (tests/support/live.py) inherit them.
os.environ.setdefault("SECRET_KEY", "refund-desk-tests-only-" + "k3y-" * 10)
os.environ.setdefault("PROVIDER_API_KEY", "sk_test_refund_desk_tests")
os.environ.setdefault("PROVIDER_WEBHOOK_SECRET", "whsec_refund_desk_tests")
# Fernet keys are 32 bytes, URL-safe base64.
os.environ.setdefault("STATUS_TOKEN_ENCRYPTION_KEY", "cmVmdW5kLWRlc2stdGVzdHMtc3RhdHVzLXRva2VucyE=")
os.environ.setdefault("EVIDENCE_ENCRYPTION_KEY", "cmVmdW5kLWRlc2stdGVzdHMtZXZpZGVuY2UtZmlsZSE=")
os.environ.setdefault("WEBHOOK_SECRET_ENCRYPTION_KEY", "cmVmdW5kLWRlc2stdGVzdHMtd2ViaG9vay1zZWNyZXQ=")
os.environ.setdefault("STORE_CREDIT_ENCRYPTION_KEY", "cmVmdW5kLWRlc2stdGVzdHMtc3RvcmUtY3JlZGl0LWM=")
os.environ.setdefault("PORTAL_CODE_ENCRYPTION_KEY", "cmVmdW5kLWRlc2stdGVzdHMtcG9ydGFsLWFjY2Vzcy0=")
# Plain http on loopback: the live server and test stacks have no TLS proxy in front.
os.environ.setdefault("SECURE_HTTPS", "0")

# A namespace per process set: its Celery queues and its cache keys. A test
# session (each xdist worker is one) names its own after its pid; the web and
# worker processes a test starts are handed theirs (tests/support/live.py).
# The random part keeps a recycled pid from meeting what a killed session left in Redis.
# Deliberately not written back to os.environ: xdist workers inherit the
# environment of the session that spawns them and must not share its name.
TEST_NAMESPACE = os.environ.get("TEST_NAMESPACE") or f"refunds-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = TEST_NAMESPACE

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import CACHES  # noqa: E402

CACHES["default"]["KEY_PREFIX"] = TEST_NAMESPACE

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-process tests read mail.outbox; the processes a test starts send to a sink the test
# counts: files (TEST_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend with
# TEST_EMAIL_FILE_PATH, tests/support/mailbox.py) or SMTP (tests/support/faults.py SmtpSink).
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND") or "django.core.mail.backends.locmem.EmailBackend"
EMAIL_FILE_PATH = os.environ.get("TEST_EMAIL_FILE_PATH", "")
RATE_LIMIT_CREATE_PER_MINUTE = 100_000
RATE_LIMIT_DECIDE_PER_MINUTE = 100_000
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Existing tests sign staff in with a password alone; the two-factor tests turn this on.
MFA_REQUIRED = False
# No collectstatic in tests: static files come straight from the app directories.
WHITENOISE_USE_FINDERS = True
# Every probe of a test runs its checks: tests change what the checks see between two probes
# (tests/core/test_readyz.py sets it where the kept answer is the subject).
READINESS_CACHE_SECONDS = 0.0
