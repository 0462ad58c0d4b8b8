"""Test settings: the real PostgreSQL and Redis of SPEC §2, never SQLite.

`DATABASE_URL` and `REDIS_URL` default to the local services at 127.0.0.1 and
can be overridden; the test runner refuses to start if they do not answer.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refund_desk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# The broker gets its own Redis database: tests clear the cache database.
os.environ.setdefault("CELERY_BROKER_URL", os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/9")
# One queue per test session, shared with the workers that session starts,
# so parallel or earlier sessions never consume each other's tasks.
os.environ.setdefault("DEVTOOLS", "1")
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"refunds-test-{os.getpid()}")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
RATE_LIMIT_CREATE_PER_MINUTE = 100_000
RATE_LIMIT_DECIDE_PER_MINUTE = 100_000
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
