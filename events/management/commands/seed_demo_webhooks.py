"""`manage.py seed_demo_webhooks --url URL [--secrets-file PATH]`: the demo merchant's webhook endpoint (DEBUG=1 only).

`make demo` (scripts/demo.sh) runs it after `seed_demo`: the default merchant
gets an endpoint for every refund event at the demo's webhook receiver, once
(a re-run finds it by its URL). Its signing secrets — the current one and any
rotated-out one still in its overlap — are written in clear to
`--secrets-file` (mode 0600), for the receiver to verify each delivery's
signature with: the one place a secret leaves the database after it was shown,
and only in the demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor
from core.errors import DomainError
from events.enums import ALL_REFUND_EVENTS
from events.models import WebhookEndpoint
from events.services.endpoints import endpoint_create
from events.signing import signing_secrets
from refunds.services.merchants import merchant_default


class Command(BaseCommand):
    help = "Register the demo merchant's webhook endpoint (DEBUG=1 only) and write its signing secrets to a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", required=True, help="the endpoint, e.g. http://127.0.0.1:8791/demo-merchant")
        parser.add_argument("--secrets-file", help="where to write its signing secrets, one a line (mode 0600)")

    def handle(self, *args: Any, url: str, secrets_file: str | None, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo_webhooks only runs with DEBUG=1 (the demo): it writes a secret in clear.")
        merchant = merchant_default()
        endpoint = WebhookEndpoint.objects.filter(merchant=merchant, url=url, deleted_at__isnull=True).first()
        if endpoint is None:
            try:
                endpoint, _ = endpoint_create(
                    merchant=merchant,
                    url=url,
                    events=[ALL_REFUND_EVENTS],
                    description="Demo: the webhook receiver of make demo",
                    actor=Actor.system("seed_demo_webhooks"),
                )
            except DomainError as error:  # a loopback URL without WEBHOOKS_ALLOW_PRIVATE_URLS=1
                raise CommandError(f"{url}: {error}") from None
        if secrets_file:
            path = Path(secrets_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.chmod(0o600)
            secrets = signing_secrets(secret_sealed=endpoint.secret_sealed, previous=endpoint.previous_secrets)
            path.write_text("".join(f"{secret}\n" for secret in secrets))
        self.stdout.write(
            f"Webhook endpoint {endpoint.public_id} of the default merchant: {endpoint.url} "
            f"(every refund event, signed; the receiver's page shows each delivery)."
        )
