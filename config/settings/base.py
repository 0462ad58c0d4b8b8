"""Settings shared by every way of running Refund desk.

Everything that differs between the embedded demo, tests and production comes
from environment variables (see README "Configuration"); there is no settings
module per host to keep in sync.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config.settings import databases, guard

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEBUG = env_bool("DEBUG", False)
# The embedded demo runs without any configuration; production must set its own
# (with DEBUG=0 the demo value refuses to start: see the end of this module).
SECRET_KEY = os.environ.get("SECRET_KEY") or guard.DEMO_SECRET_KEY
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
APP_BASE_URL = os.environ.get("APP_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = [APP_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files for /v1/docs, served as our own static files (no CDN, the CSP allows 'self' only).
    "drf_spectacular_sidecar",
    "django_fsm",
    "simple_history",
    "django_htmx",
    "template_partials",
    # Records and the domain (docs/architecture.md): audit trail, ledger, refunds, then what reacts to refunds.
    "audit",
    "ledger",
    "refunds",
    # Store credit, issued by refunds paid as a code (issue 15).
    "credits",
    "reconciliation",
    "notifications",
    # One app per audience.
    "api",
    "console",
    "status_page",
    # Where the team already works: the Slack approval card and the weekly digest (issue 13).
    "integrations",
    # What merchants' systems are told: refund events and signed webhooks (issue 14).
    "events",
    # Customers ask for refunds themselves (issue 15).
    "portal",
    "operations",
]
# Development tools (the provider simulator's `manage.py run_provider_sim`) are never part of a
# production deployment: installed only with DEBUG, or when DEVTOOLS=1 (the test settings).
DEVTOOLS = env_bool("DEVTOOLS", DEBUG)
if DEVTOOLS:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    # First, so the request's time includes every middleware below (core/request_metrics.py).
    "core.request_metrics.RequestMetricsMiddleware",
    "core.middleware.CorrelationIdMiddleware",
    # With DATABASE_REPLICA_URL: after one's own write, one's screens read the primary for a while.
    "core.middleware.ReadYourWritesMiddleware",
    # Under /v1/ and /webhooks/ every error answer is the error JSON, whoever produced it.
    "core.middleware.ErrorJsonMiddleware",
    # Before anything reads the database: a NUL in path or query is a 404/400, never a psycopg error.
    "core.middleware.RejectNulMiddleware",
    # A body over DATA_UPLOAD_MAX_MEMORY_SIZE under /v1/ and /webhooks/ is a 413 before any view reads it.
    "core.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The kill switches in force: the banner of every staff page (issue 16).
                "console.context_processors.operations_pauses",
            ],
        },
    }
]

# DATABASE_URL unset means the embedded demo: a SQLite file under var/. DATABASE_POOLER,
# DATABASE_DIRECT_URL and DATABASE_REPLICA_URL add what config/settings/databases.py describes.
DATABASES = databases.databases(os.environ, var_dir=VAR_DIR)
# Writes always go to the primary; a replica is read only where a screen asks for it (core.databases.read_alias).
DATABASE_ROUTERS = ["core.databases.PrimaryReplicaRouter"]
# After a staff member's own write, their screens read the primary this long: more than the replica's
# lag ever is in normal running (docs/operations.md "Read replica" says what happens beyond it).
REPLICA_PIN_SECONDS = float(os.environ.get("REPLICA_PIN_SECONDS", "5"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Bounded waits: an unreachable Redis (no reset, or paused) costs a request about a
    # second, and the rate limiter then fails open (api/throttling.py), instead of hanging it.
    _cache_timeout = float(os.environ.get("CACHE_SOCKET_TIMEOUT", "1"))
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": _cache_timeout, "socket_timeout": _cache_timeout},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# /readyz gives each of its checks (database, cache, broker, breakers) this long, side by side,
# and reports one still running as "timeout": a probe never hangs on a dependency (core.health).
READINESS_TIMEOUT_SECONDS = float(os.environ.get("READINESS_TIMEOUT_SECONDS", "2"))
# Each process keeps its /readyz answer this long (and runs one set of checks at a time): an anonymous
# flood of probes costs the database and Redis at most one set of checks per that many seconds.
READINESS_CACHE_SECONDS = float(os.environ.get("READINESS_CACHE_SECONDS", "1"))

LOGIN_URL = "/console/login/"
# The fallback after signing in; the console sends each role to its own home (console.views.auth.role_home).
LOGIN_REDIRECT_URL = "/console/"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# How staff pages write numbers, amounts and dates (docs/console.md "Money and time"); each
# person's time zone is their own (Account page), TIME_ZONE until they choose one.
STAFF_LOCALE = os.environ.get("STAFF_LOCALE", "en_GB")
# Django's own date output (the admin) in the same shape, with the zone named: config/formats/.
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The demo serves straight from the app directories, without collectstatic (the test settings too).
# Production serves what `manage.py collectstatic` wrote to STATIC_ROOT: the hashed names the
# manifest storage puts in every page, cached for ever by browsers (docs/operations.md).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", VAR_DIR / "private"))

# --- JSON API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a nesting limit and no NUL (a RecursionError or a psycopg error was a 500).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Refund desk API",
    "DESCRIPTION": "Create, decide and follow refunds on captured payments. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets of the events API (issue 14) whose field names other components use too.
    "ENUM_NAME_OVERRIDES": {
        "EventTypeEnum": "events.enums.EventType",
        "EndpointStatusEnum": "events.enums.EndpointStatus",
        "DeliveryStatusEnum": "events.enums.DeliveryStatus",
        "CreditStatusEnum": "credits.enums.CreditStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.require_polymorphic_bodies",
    ],
    # /v1/docs (api/docs.py): Swagger UI from drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {
        "deepLinking": True,
        # Swagger UI's default sends the schema to an outside validator and shows its badge image.
        "validatorUrl": None,
        # The key typed into "Authorize" stays in the tab's memory, never in localStorage.
        "persistAuthorization": False,
    },
}

# Idempotency keys are kept at least 24 h (SPEC §9); purged after this many hours.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 48)
# The purge deletes this many expired keys per transaction (docs/operations.md "Retention").
IDEMPOTENCY_PURGE_BATCH = env_int("IDEMPOTENCY_PURGE_BATCH", 5000)
# Requests per API key per minute; 0 disables the limit.
RATE_LIMIT_CREATE_PER_MINUTE = env_int("RATE_LIMIT_CREATE_PER_MINUTE", 600)
RATE_LIMIT_DECIDE_PER_MINUTE = env_int("RATE_LIMIT_DECIDE_PER_MINUTE", 300)
# A requested refund waiting longer than this for a decision is overdue: red in the console's
# queue, listed in the weekly digest (refunds.selectors.decision_overdue). A day is what the
# customer's "we received your request" email leads them to expect.
REFUND_DECISION_SLA_HOURS = env_int("REFUND_DECISION_SLA_HOURS", 24)

# --- Provider ----------------------------------------------------------------
PROVIDER = os.environ.get("PROVIDER", "stripe")
PROVIDER_API_BASE = os.environ.get("PROVIDER_API_BASE", "http://127.0.0.1:8765")
PROVIDER_API_KEY = os.environ.get("PROVIDER_API_KEY") or guard.DEMO_PROVIDER_API_KEY
PROVIDER_WEBHOOK_SECRET = os.environ.get("PROVIDER_WEBHOOK_SECRET") or guard.DEMO_PROVIDER_WEBHOOK_SECRET
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "5"))
# Outbox delivery (SPEC §6): bounded attempts with exponential backoff and full
# jitter, then a dead letter. A worker's lease on a message must outlast one
# provider call; when it dies mid-call the lease runs out and the sweeper
# hands the message to another worker, which asks again with the same key.
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_BACKOFF_BASE_SECONDS = float(os.environ.get("OUTBOX_BACKOFF_BASE_SECONDS", "2"))
OUTBOX_BACKOFF_MAX_SECONDS = float(os.environ.get("OUTBOX_BACKOFF_MAX_SECONDS", "300"))
OUTBOX_LEASE_SECONDS = float(os.environ.get("OUTBOX_LEASE_SECONDS", str(PROVIDER_TIMEOUT_SECONDS * 2 + 20)))
OUTBOX_SWEEP_SECONDS = float(os.environ.get("OUTBOX_SWEEP_SECONDS", "10"))
# How long a queued delivery task is trusted to arrive after its countdown: until then the
# sweeper queues no second one (one task per message); after it, the task is taken as lost.
# It bounds recovery after a broker restart lost the queue (benchmarks/faults.py broker_down);
# a provider queue backlogged longer than this gets a second task per message (harmless: the
# claim delivers once).
OUTBOX_QUEUED_TTL_SECONDS = float(os.environ.get("OUTBOX_QUEUED_TTL_SECONDS", "30"))
# How a committed change hands its outbox rows (provider calls, customer emails, merchants' webhooks)
# to the workers (core.handoff, docs/operations.md "Hand-off to the workers"): `publish` queues a task
# from each transaction's on-commit; `relay` writes the rows alone and `manage.py outbox_relay` queues
# them, woken by a NOTIFY at commit, or after OUTBOX_RELAY_POLL_SECONDS at the latest.
OUTBOX_HANDOFF = os.environ.get("OUTBOX_HANDOFF", "publish").strip().lower() or "publish"
if OUTBOX_HANDOFF not in ("publish", "relay"):
    raise ImproperlyConfigured("OUTBOX_HANDOFF must be publish or relay")
OUTBOX_RELAY_POLL_SECONDS = float(os.environ.get("OUTBOX_RELAY_POLL_SECONDS", "1.0"))
# Under load the relay passes at most this often, each pass taking every commit heard since the last:
# a pass per commit cost it 16-22 ms of CPU per refund at 20 refunds/s. An idle relay passes at once.
OUTBOX_RELAY_MIN_PASS_SECONDS = float(os.environ.get("OUTBOX_RELAY_MIN_PASS_SECONDS", "0.05"))
PROVIDER_POLL_PENDING_AFTER_SECONDS = env_int("PROVIDER_POLL_PENDING_AFTER_SECONDS", 300)
# Circuit breaker per provider (providers/breaker.py): it opens when, over the last
# BREAKER_WINDOW_SECONDS, at least BREAKER_MIN_CALLS calls were made and the share of
# them that could not reach the provider is BREAKER_FAILURE_RATE or more; it stays open
# BREAKER_COOLDOWN_SECONDS, then BREAKER_HALF_OPEN_CALLS trial calls decide together.
# BREAKER_FAILURE_THRESHOLD (a count of consecutive failures before) is read as the minimum volume.
BREAKER_WINDOW_SECONDS = env_int("BREAKER_WINDOW_SECONDS", 30)
BREAKER_MIN_CALLS = env_int("BREAKER_MIN_CALLS", env_int("BREAKER_FAILURE_THRESHOLD", 10))
BREAKER_FAILURE_RATE = float(os.environ.get("BREAKER_FAILURE_RATE", "0.5"))
BREAKER_COOLDOWN_SECONDS = float(os.environ.get("BREAKER_COOLDOWN_SECONDS", "30"))
BREAKER_HALF_OPEN_CALLS = env_int("BREAKER_HALF_OPEN_CALLS", 5)
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300)
# Audit events are linked into the hash chain by a beat task this often (audit/services.py).
AUDIT_SEAL_SECONDS = float(os.environ.get("AUDIT_SEAL_SECONDS", "2"))
# Customer emails (notifications/outbox.py): a row per email, written with the refund's change, sent by
# a task. Transient SMTP errors back off exponentially with full jitter (30 s doubling to 10 min, nine
# attempts: about 45 minutes) before the email is marked failed. A worker owns an email it is sending
# for the lease; a queued task is given EMAIL_REQUEUE_AFTER_SECONDS to start before the sweeper
# (every EMAIL_SWEEP_SECONDS) takes it for lost and queues another: lower it and a slow queue gets
# a second task (harmless: the claim sends once), raise it and a lost email waits longer.
EMAIL_MAX_ATTEMPTS = env_int("EMAIL_MAX_ATTEMPTS", 9)
EMAIL_BACKOFF_BASE_SECONDS = float(os.environ.get("EMAIL_BACKOFF_BASE_SECONDS", "30"))
EMAIL_BACKOFF_MAX_SECONDS = float(os.environ.get("EMAIL_BACKOFF_MAX_SECONDS", "600"))
EMAIL_LEASE_SECONDS = float(os.environ.get("EMAIL_LEASE_SECONDS", "300"))
EMAIL_REQUEUE_AFTER_SECONDS = float(os.environ.get("EMAIL_REQUEUE_AFTER_SECONDS", "60"))
EMAIL_SWEEP_SECONDS = float(os.environ.get("EMAIL_SWEEP_SECONDS", "15"))

# --- Celery ------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Exchange tables; kombu's default is ./control relative to whatever directory the process started in.
        "control_folder": str(_broker_dir / "control"),
    }
elif CELERY_BROKER_URL.split("://", 1)[0] in ("amqp", "amqps", "pyamqp"):
    # RabbitMQ (docs/operations.md "Choosing a broker"). It has no visibility timeout: a task a
    # worker took is redelivered when that worker's connection closes, never because it is slow.
    # Its bound is consumer_timeout (RabbitMQ's default 30 minutes): a delivery held unacknowledged
    # longer closes the worker's channel. Our longest countdown is EMAIL_BACKOFF_MAX_SECONDS (10 min).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # basic_publish returns once RabbitMQ has the message (publisher confirms): a publish it could
        # not take raises, and core.queueing counts it, instead of vanishing into a dropped socket.
        "confirm_publish": True,
        # Bounded as on Redis: a publish to a broker that is down or hung holds a request seconds, not for ever.
        "connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
        "read_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "5")),
        "write_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "5")),
    }
else:
    # Longer than any countdown we schedule, so Redis never re-delivers a task
    # that is merely waiting for its ETA.
    # The socket timeouts bound how long a publish waits on a broker that is down
    # or unreachable without a reset (redis-py's default is to wait for ever); above
    # brpop_timeout (1 s), so a worker's idle BRPOP is never cut short.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600),
        "socket_connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
        "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "5")),
    }
# Requests queue tasks after COMMIT (core.queueing): one retry (a pooled connection
# the broker dropped reconnects), then give up, logged and counted — the outbox and
# its sweeper deliver later. Celery's default would hold a request through four attempts.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# The money path gets a queue of its own: a provider delivery never waits behind
# a backlog of customer emails (or a reconciliation run). A worker started
# without -Q consumes all three, taking from each in turn; in production run a
# worker per queue (`-Q <default>.provider`) to give deliveries their own processes.
CELERY_PROVIDER_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.provider"
CELERY_EMAIL_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.email"
# Slack calls (cards, ephemeral answers, the digest): Slack being slow or rate-limiting us
# never holds up a provider delivery or a customer email.
CELERY_SLACK_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.slack"
# Merchants' webhook deliveries (events.delivery): HTTP to endpoints we do not control, each up to
# WEBHOOK_TIMEOUT_SECONDS. Run them in a worker of their own (`-Q <default>.webhooks -P threads`) and
# keep them out of the others (`-X <default>.webhooks`): a slow endpoint never delays a provider
# delivery, an email, or another merchant's webhooks (docs/webhooks.md "Running the deliveries").
CELERY_WEBHOOKS_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.webhooks"
CELERY_TASK_QUEUES = [
    Queue(CELERY_TASK_DEFAULT_QUEUE, routing_key=CELERY_TASK_DEFAULT_QUEUE),
    Queue(CELERY_PROVIDER_QUEUE, routing_key=CELERY_PROVIDER_QUEUE),
    Queue(CELERY_EMAIL_QUEUE, routing_key=CELERY_EMAIL_QUEUE),
    Queue(CELERY_SLACK_QUEUE, routing_key=CELERY_SLACK_QUEUE),
    Queue(CELERY_WEBHOOKS_QUEUE, routing_key=CELERY_WEBHOOKS_QUEUE),
]
CELERY_TASK_ROUTES = {
    "refunds.deliver_outbox": {"queue": CELERY_PROVIDER_QUEUE, "routing_key": CELERY_PROVIDER_QUEUE},
    "refunds.send_refund_email": {"queue": CELERY_EMAIL_QUEUE, "routing_key": CELERY_EMAIL_QUEUE},
    "notifications.deliver_email": {"queue": CELERY_EMAIL_QUEUE, "routing_key": CELERY_EMAIL_QUEUE},
    "portal.send_access_code": {"queue": CELERY_EMAIL_QUEUE, "routing_key": CELERY_EMAIL_QUEUE},
    "integrations.slack.*": {"queue": CELERY_SLACK_QUEUE, "routing_key": CELERY_SLACK_QUEUE},
    "events.*": {"queue": CELERY_WEBHOOKS_QUEUE, "routing_key": CELERY_WEBHOOKS_QUEUE},
    # The weekly digest is built and emailed on the default queue; only its Slack post
    # (integrations.slack.post_digest) goes through the Slack queue.
    "integrations.digest.*": {"queue": CELERY_TASK_DEFAULT_QUEUE, "routing_key": CELERY_TASK_DEFAULT_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Without it Celery's Django fixup closes every database connection before and after each task
# (celery.fixups.django.close_database): a new PostgreSQL session, a fork and an authentication, per
# task, about 2 sessions per refund (1,275 for 600, stack_load-before.json). With it a worker process keeps its
# connection as a web process does: closed when older than DB_CONN_MAX_AGE or found unusable
# (config/celery.py runs Django's close_old_connections around each task), at the latest after this
# many tasks. Behind PgBouncer DB_CONN_MAX_AGE is 0, so each task still takes a fresh pooled one.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
# Keep our JSON log lines (message ids, correlation ids) in workers too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Monday's hour (CELERY_TIMEZONE, UTC) at which beat sends the weekly digest of the ISO week just ended.
DIGEST_SEND_HOUR_UTC = env_int("DIGEST_SEND_HOUR_UTC", 7)
# PostgreSQL: how many months after the current one have their partitions ready (beat, hourly).
PARTITION_MONTHS_AHEAD = env_int("PARTITION_MONTHS_AHEAD", 3)
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "refunds.purge_idempotency_keys", "schedule": 3600.0},
    "sweep-outbox": {"task": "refunds.sweep_outbox", "schedule": OUTBOX_SWEEP_SECONDS},
    "poll-provider-pending": {"task": "refunds.poll_provider_pending", "schedule": 60.0},
    "seal-audit-chain": {"task": "audit.seal_chain", "schedule": AUDIT_SEAL_SECONDS},
    "sweep-emails": {"task": "notifications.sweep_emails", "schedule": EMAIL_SWEEP_SECONDS},
    # Slack approvals whose task was lost (integrations.slack.decisions): queued again, or given up.
    "sweep-slack-interactions": {"task": "integrations.slack.sweep_interactions", "schedule": 60.0},
    # Trial balance, then yesterday's reconciliation (docs/reconciliation.md), late enough
    # for the day's refunds to have settled; CELERY_TIMEZONE (UTC) sets the hour.
    "reconcile-yesterday": {"task": "ledger.reconcile_yesterday", "schedule": crontab(hour=2, minute=30)},
    # The coming months' partitions of the tables that only grow (docs/operations.md "Partitions").
    "ensure-partitions": {"task": "operations.ensure_partitions", "schedule": crontab(minute=17)},
    # Last week's digest to the seniors and the approvals channel (docs/slack.md "The weekly digest").
    "weekly-digest": {
        "task": "integrations.digest.send_weekly",
        "schedule": crontab(day_of_week=1, hour=DIGEST_SEND_HOUR_UTC, minute=0),
    },
}

# --- The synthetic refund (issue 16, docs/operations.md "Synthetic refund") ---------------------
# `manage.py synthetic_refund` / the task `operations.synthetic_refund`: a test-mode refund taken end
# to end. Beat runs it every SYNTHETIC_INTERVAL_SECONDS only with SYNTHETIC_ENABLED=1, and it refuses
# to run unless the provider client is in test mode (an sk_test_ key, the simulator).
SYNTHETIC_ENABLED = env_bool("SYNTHETIC_ENABLED", False)
SYNTHETIC_INTERVAL_SECONDS = float(os.environ.get("SYNTHETIC_INTERVAL_SECONDS", "300"))
# How long each step waits for its condition (the worker's delivery, the webhook, the sealer).
SYNTHETIC_STEP_TIMEOUT_SECONDS = float(os.environ.get("SYNTHETIC_STEP_TIMEOUT_SECONDS", "60"))
# The provider whose test mode it uses ("" = PROVIDER), and the test payment's amount.
SYNTHETIC_PROVIDER = os.environ.get("SYNTHETIC_PROVIDER", "")
SYNTHETIC_AMOUNT_MINOR = env_int("SYNTHETIC_AMOUNT_MINOR", 100)
SYNTHETIC_CURRENCY = os.environ.get("SYNTHETIC_CURRENCY", "USD")
if SYNTHETIC_ENABLED:
    CELERY_BEAT_SCHEDULE["synthetic-refund"] = {
        "task": "operations.synthetic_refund",
        "schedule": SYNTHETIC_INTERVAL_SECONDS,
        # A run still queued when the next is due is dropped: runs never pile up behind a stuck worker.
        "options": {"expires": SYNTHETIC_INTERVAL_SECONDS},
    }

# --- Slack (issue 13, docs/slack.md) ------------------------------------------
# Without a bot token the integration is off: no card is posted, the interactions URL answers 404.
SLACK_BOT_TOKEN = os.environ.get("SLACK_BOT_TOKEN", "")
SLACK_SIGNING_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")
SLACK_APPROVALS_CHANNEL = os.environ.get("SLACK_APPROVALS_CHANNEL", "")
# Slack's Web API; the simulator (`manage.py run_slack_sim`) serves the same method paths under /api/.
SLACK_API_BASE = os.environ.get("SLACK_API_BASE", "https://slack.com/api/")
SLACK_TIMEOUT_SECONDS = float(os.environ.get("SLACK_TIMEOUT_SECONDS", "5"))
# How long a Slack user's console account (users.info -> profile.email) is remembered for the taps and
# modal submissions answered within Slack's 3 seconds; an approval decided in Celery always asks Slack
# again. Short: a Slack account turned guest, deactivated or given another email must stop soon.
SLACK_USER_CACHE_SECONDS = env_int("SLACK_USER_CACHE_SECONDS", 60)
# The card outbox (integrations.slack.sync, docs/slack.md "The card and its outbox"): a 429 waits
# exactly Retry-After; a 5xx or a network error backs off from the base, doubling with jitter, to
# the cap; a refusal that needs a fix (channel_not_found, invalid_auth …) is retried at the cap, so
# fixing the configuration is enough to bring every card back. The worker holds a card for
# SLACK_LEASE_SECONDS (more than one call's timeout); a queued task is taken for lost once it has
# not started SLACK_QUEUED_TTL_SECONDS after it was due, and the sweeper (every
# SLACK_SWEEP_SECONDS) queues cards that are behind and have none.
SLACK_BACKOFF_BASE_SECONDS = float(os.environ.get("SLACK_BACKOFF_BASE_SECONDS", "2"))
SLACK_BACKOFF_MAX_SECONDS = float(os.environ.get("SLACK_BACKOFF_MAX_SECONDS", "60"))
SLACK_LEASE_SECONDS = float(os.environ.get("SLACK_LEASE_SECONDS", str(SLACK_TIMEOUT_SECONDS * 2 + 20)))
SLACK_QUEUED_TTL_SECONDS = float(os.environ.get("SLACK_QUEUED_TTL_SECONDS", "60"))
SLACK_SWEEP_SECONDS = float(os.environ.get("SLACK_SWEEP_SECONDS", "15"))
# Does nothing without SLACK_BOT_TOKEN (integrations.slack.sync.card_sweep).
CELERY_BEAT_SCHEDULE["sweep-slack-cards"] = {"task": "integrations.slack.sweep_cards", "schedule": SLACK_SWEEP_SECONDS}

# --- Merchant events and webhooks (issue 14, docs/webhooks.md) ---------------
# Tests and the demo only: webhook URLs may be http:// and point at private or loopback addresses.
# Production refuses them (SSRF, events.ssrf); `check --deploy` warns when this is on.
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", False)
# Comma-separated Fernet keys for the endpoints' signing secrets at rest (first encrypts, all decrypt).
WEBHOOK_SECRET_ENCRYPTION_KEY = os.environ.get("WEBHOOK_SECRET_ENCRYPTION_KEY") or None
# A 2xx within the timeout is delivered; anything else is retried, backing off from the base, doubling
# with jitter to the cap, for the retry window (about 3 days); then the delivery is failed. An endpoint
# failing for WEBHOOK_DISABLE_AFTER_SECONDS (5 days) is disabled and the merchant's contact emailed.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS", "5"))
WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("WEBHOOK_RETRY_MAX_SECONDS", str(6 * 3600)))
WEBHOOK_RETRY_WINDOW_SECONDS = float(os.environ.get("WEBHOOK_RETRY_WINDOW_SECONDS", str(3 * 24 * 3600)))
WEBHOOK_DISABLE_AFTER_SECONDS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_SECONDS", str(5 * 24 * 3600)))
# One worker sends to an endpoint at a time and holds it this long; a queued task is taken for lost
# once it has not started WEBHOOK_QUEUED_TTL_SECONDS after it was due; the sweeper runs every
# WEBHOOK_SWEEP_SECONDS.
WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", str(WEBHOOK_TIMEOUT_SECONDS * 3 + 30)))
WEBHOOK_QUEUED_TTL_SECONDS = float(os.environ.get("WEBHOOK_QUEUED_TTL_SECONDS", "60"))
WEBHOOK_SWEEP_SECONDS = float(os.environ.get("WEBHOOK_SWEEP_SECONDS", "15"))
# How much of an endpoint's answer each attempt keeps, for staff and `GET …/deliveries`.
WEBHOOK_RESPONSE_EXCERPT_CHARS = env_int("WEBHOOK_RESPONSE_EXCERPT_CHARS", 500)
WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = env_int("WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT", 16)
CELERY_BEAT_SCHEDULE["sweep-webhooks"] = {"task": "events.sweep_deliveries", "schedule": WEBHOOK_SWEEP_SECONDS}

# --- Customer status page (SPEC §8, docs/customer.md) ------------------------
STATUS_PAGE_RATE_LIMIT_PER_MINUTE = env_int("STATUS_PAGE_RATE_LIMIT_PER_MINUTE", 60)  # per client IP; 0 disables
STATUS_PAGE_POLL_SECONDS = env_int("STATUS_PAGE_POLL_SECONDS", 15)
STATUS_PAGE_BRAND = os.environ.get("STATUS_PAGE_BRAND", "Refund desk")
# Expected timing per rail shown to customers; empty keeps the defaults of
# refunds/messages.py (card 5–10 business days, PayNow minutes, bank 1–3 days).
RAIL_TIMING: dict = {}

# --- Customer request portal (/request/, issue 15, docs/customer.md) ----------
# One-time codes: valid this long; each budget per hour (0 disables it). Signed links: valid this many days.
PORTAL_CODE_TTL_MINUTES = env_int("PORTAL_CODE_TTL_MINUTES", 15)
PORTAL_ACCESS_MINUTES = env_int("PORTAL_ACCESS_MINUTES", 30)
PORTAL_CODES_PER_ADDRESS_PER_HOUR = env_int("PORTAL_CODES_PER_ADDRESS_PER_HOUR", 5)
PORTAL_CODES_PER_ORDER_PER_HOUR = env_int("PORTAL_CODES_PER_ORDER_PER_HOUR", 5)
PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = env_int("PORTAL_REQUESTS_PER_CLIENT_PER_HOUR", 30)
PORTAL_LINK_MAX_AGE_DAYS = env_int("PORTAL_LINK_MAX_AGE_DAYS", 30)
# Fernet keys for the codes kept until their email is sent (unset: derived from SECRET_KEY).
PORTAL_CODE_ENCRYPTION_KEY = os.environ.get("PORTAL_CODE_ENCRYPTION_KEY") or None
CELERY_BEAT_SCHEDULE["sweep-portal-codes"] = {"task": "portal.sweep_access_codes", "schedule": 60.0}

# --- Evidence files (encrypted at rest under PRIVATE_MEDIA_ROOT/evidence) ------
EVIDENCE_MAX_BYTES = env_int("EVIDENCE_MAX_BYTES", 5 * 1024 * 1024)
EVIDENCE_MAX_FILES = env_int("EVIDENCE_MAX_FILES", 5)
# Comma-separated Fernet keys (first encrypts, all decrypt); unset: derived from SECRET_KEY.
EVIDENCE_ENCRYPTION_KEY = os.environ.get("EVIDENCE_ENCRYPTION_KEY") or None
# The same for the customers' status-link tokens kept at rest (refunds/models/refund.py).
STATUS_TOKEN_ENCRYPTION_KEY = os.environ.get("STATUS_TOKEN_ENCRYPTION_KEY") or None

# --- Store credit (issue 15, docs/instruments.md "Store credit") ----------------
# Comma-separated Fernet keys sealing the credit codes at rest (first encrypts, all decrypt); unset: derived.
STORE_CREDIT_ENCRYPTION_KEY = os.environ.get("STORE_CREDIT_ENCRYPTION_KEY") or None
# Per API key and minute: every credit call, and the lookups of codes that do not exist (guessing); 0 disables.
RATE_LIMIT_CREDIT_PER_MINUTE = env_int("RATE_LIMIT_CREDIT_PER_MINUTE", 600)
RATE_LIMIT_CREDIT_MISSES_PER_MINUTE = env_int("RATE_LIMIT_CREDIT_MISSES_PER_MINUTE", 20)
STORE_CREDIT_EXPIRY_SWEEP_SECONDS = float(os.environ.get("STORE_CREDIT_EXPIRY_SWEEP_SECONDS", "300"))
CELERY_BEAT_SCHEDULE["expire-store-credits"] = {
    "task": "credits.expire_due",
    "schedule": STORE_CREDIT_EXPIRY_SWEEP_SECONDS,
}

# --- Email -------------------------------------------------------------------
# The demo prints emails on the console; production sends them (the console backend is refused there).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    guard.CONSOLE_EMAIL_BACKEND if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
# The file backend's folder: `make demo` writes there and shows it on the demo mailbox (devtools/mailbox.py).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Refund desk <refunds@example.com>")

# --- Logging: one JSON object per line, message ids and correlation ids -------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation": {"()": "core.logging.CorrelationIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["correlation"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Celery's "received"/"succeeded" line for every task (the audit sealer runs every 2 s)
        # drowns our own message-id lines; failures and retries are still logged as warnings.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# --- Staff sign-in: login throttling and two-factor (issue 10, item 10) -------
# One block, kept apart from the security headers and deploy checks above, so
# the two can be merged independently. docs/console.md and docs/runbooks.md
# describe what people see; README "Configuration" lists the variables.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]
# OTPMiddleware tells whether the session passed the second factor (it needs request.user);
# StaffMfaMiddleware then sends staff who must pass it, and have not, to enrolment or verification.
_AUTH_MIDDLEWARE = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
MIDDLEWARE[_AUTH_MIDDLEWARE + 1 : _AUTH_MIDDLEWARE + 1] = [
    "django_otp.middleware.OTPMiddleware",
    "console.middleware.StaffMfaMiddleware",
    "console.middleware.StaffTimeZoneMiddleware",
]
# Last, as axes asks: it turns a lockout flagged during authentication into the lockout page.
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# axes' backend refuses a locked-out account or address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted in PostgreSQL (every web process sees the same counts), per account and,
# separately, per client address: either one reaching the limit locks, for the cool-off.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Never reset the counts on a successful login: axes deletes every failure of the *address* then,
# so an insider with an account of their own could sign in between guesses at a colleague's.
AXES_RESET_ON_SUCCESS = False
# The lockout page in the console's chrome (templates/console/lockout.html), answered with HTTP 429.
AXES_LOCKOUT_CALLABLE = "console.views.auth.lockout"
AXES_HTTP_RESPONSE_CODE = 429
# The client address for the per-address count: REMOTE_ADDR, or a header the proxy sets (core/client_ip.py).
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
# Empty: trust only the TCP peer. Behind a reverse proxy, the header it sets (e.g. X-Real-IP); never
# a header the client can send through the proxy unchanged.
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "").strip()
# axes' own log lines mask the username and address; ours (MSG.auth.*) carry a digest of the username.
AXES_VERBOSE = False
# The second factor (TOTP, recovery codes) for seniors, finance, risk and admins
# (refunds.permissions.requires_mfa). The demo (DEBUG=1) keeps it off.
MFA_REQUIRED = env_bool("MFA_REQUIRED", not DEBUG)
# The name authenticator apps show beside the code.
OTP_TOTP_ISSUER = "Refund desk"
MFA_RECOVERY_CODES = 10
# Never show an authenticator's key or the recovery codes in the admin (console/admin/accounts.py).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# === Deploy hardening (issue 10, items 11-13, 15) ===========================================
# One block on purpose: HTTPS, headers, the metrics token and the production guard. Other
# branches edit INSTALLED_APPS and MIDDLEWARE above; this block only appends to them.

# --- HTTPS (docs/operations.md "Production environment") ---------------------
# SECURE_HTTPS=1 (the default with DEBUG=0): the app is reached over https, through a proxy
# that terminates TLS and sets X-Forwarded-Proto (it must overwrite whatever the client sent).
# SECURE_HTTPS=0 serves plain http: the demo, the tests, a loopback-only process.
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # the status page answers no-referrer (status_page/views.py)
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# SECURE_COOKIES=1 is the deprecated way to ask for Secure cookies alone; SECURE_HTTPS includes it.
SESSION_COOKIE_SECURE = SECURE_HTTPS or env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SECURE_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and the Prometheus scrape reach a process directly, over plain http, from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# --- Response headers -----------------------------------------------------------
INSTALLED_APPS += ["core.apps.CoreConfig", "csp"]
# Right after SecurityMiddleware: every answer gets the headers, error pages and redirects included.
MIDDLEWARE[MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1 : 0] = [
    "csp.middleware.CSPMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
]
# No inline script or style anywhere (templates/, the admin's own): everything is a file of ours.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), fullscreen=(self)"
# Pages showing customer data (staff screens, the admin, the customer's status page) are never cached.
NO_STORE_PATH_PREFIXES = ("/console/", "/finance/", "/admin/", "/r/", "/request/")

# --- /metrics -------------------------------------------------------------------
# Set in production: the scrape must send `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- Production refuses the demo's secrets (config/settings/guard.py) ----------
if not DEBUG:
    guard.refuse_demo_configuration(os.environ, provider=PROVIDER, email_backend=EMAIL_BACKEND)
