"""Deploy checks of our own (`manage.py check --deploy`), and the one gunicorn runs before serving.

The static files check exists because a deploy that skipped `collectstatic`
started fine and then answered 500 on every page: with DEBUG=0 the manifest
storage puts hashed names in pages and has no manifest to look them up in.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages

COLLECTSTATIC = "run `manage.py collectstatic --noinput` (docs/operations.md, deploy steps)"


def static_manifest_missing() -> bool:
    """True when pages would name hashed static files that no manifest maps: every page a 500."""
    if settings.DEBUG:
        return False  # the manifest storage serves plain names with DEBUG
    storage = storages["staticfiles"]
    return isinstance(storage, ManifestFilesMixin) and storage.read_manifest() is None


def require_static_manifest() -> None:
    """Refuse to serve (config/wsgi.py) rather than answer 500 on every page with a static file."""
    if static_manifest_missing():
        raise ImproperlyConfigured(f"No staticfiles manifest in STATIC_ROOT ({settings.STATIC_ROOT}): {COLLECTSTATIC}.")


@register(deploy=True)
def check_static_manifest(app_configs: Any, **kwargs: Any) -> list[Error]:
    if static_manifest_missing():
        return [
            Error(
                f"No staticfiles manifest in STATIC_ROOT ({settings.STATIC_ROOT}); every page would answer 500.",
                hint=COLLECTSTATIC,
                id="refund_desk.E001",
            )
        ]
    return []


@register(deploy=True)
def check_app_base_url(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Customer emails carry status links built on APP_BASE_URL: over https, or the bearer link travels in clear."""
    if getattr(settings, "SECURE_HTTPS", False) and not settings.APP_BASE_URL.startswith("https://"):
        return [
            Warning(
                "APP_BASE_URL is not an https:// URL while SECURE_HTTPS is on.",
                hint="Set APP_BASE_URL to the public https address; status links in emails are built on it.",
                id="refund_desk.W001",
            )
        ]
    return []


@register(deploy=True)
def check_metrics_token(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if not settings.DEBUG and not getattr(settings, "METRICS_TOKEN", ""):
        return [
            Warning(
                "METRICS_TOKEN is not set: /metrics answers anyone who can reach it.",
                hint="Set METRICS_TOKEN and give Prometheus the same bearer token (docs/operations.md).",
                id="refund_desk.W002",
            )
        ]
    return []


@register(deploy=True)
def check_webhooks_private_urls(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """With private URLs allowed, a merchant's webhook can be pointed at our own network (SSRF): tests and demo only."""
    if not settings.DEBUG and getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_URLS", False):
        return [
            Warning(
                "WEBHOOKS_ALLOW_PRIVATE_URLS is on: merchants' webhooks may be sent over http:// and to private, "
                "loopback and link-local addresses (the cloud metadata service included).",
                hint="Unset WEBHOOKS_ALLOW_PRIVATE_URLS in production (tests and the demo only, docs/webhooks.md).",
                id="refund_desk.W003",
            )
        ]
    return []
