"""Telling a merchant its webhook endpoint was disabled for failing: one email to its contact, never lost.

The endpoint is disabled in the attempt's transaction (events.delivery);
the email goes after, outside any transaction, through Django's email API.
Only one sender at a time: the notice takes the endpoint's lease (a disabled
endpoint has no delivery run to hold it). Sent: `disabled_notice_sent_at`
and an audit event. The mail server failing: the lease is given back and the
sweeper (events.sweep_deliveries) tries again; a sender that dies mid-send
leaves a lease that runs out, then the same. So the notice may, rarely, go
twice — never zero times. A merchant without a contact email is logged and
recorded (audit) as not told, and not retried.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from events.enums import EndpointStatus
from events.models import WebhookEndpoint

logger = logging.getLogger("events.delivery")

FAILING = "failing"


def _unsent():
    return WebhookEndpoint.objects.filter(
        status=EndpointStatus.DISABLED,
        disabled_reason=FAILING,
        disabled_notice_sent_at__isnull=True,
        deleted_at__isnull=True,
    )


def disabled_notices_pending(*, limit: int = 100) -> list[int]:
    """Endpoints disabled for failing whose merchant was not told yet and that nobody is telling now."""
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    return list(_unsent().filter(free).order_by("disabled_at").values_list("pk", flat=True)[:limit])


def _message(endpoint: WebhookEndpoint) -> tuple[str, str]:
    since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC") if endpoint.failing_since else "several days"
    subject = f"Refund desk: your webhook endpoint {endpoint.public_id} was disabled"
    body = (
        f"Hello {endpoint.merchant.name or endpoint.merchant.slug},\n\n"
        f"We disabled your webhook endpoint {endpoint.public_id}\n  {endpoint.url}\n"
        f"because every delivery to it has failed since {since}.\n\n"
        "Events are kept: the deliveries not yet made stay pending and are sent once you enable the endpoint "
        "again (those older than the retry window are then given up after one more try). Until then you can "
        "read every event with GET /v1/events.\n\n"
        "To enable it, fix the receiver so it answers 2xx within "
        f"{settings.WEBHOOK_TIMEOUT_SECONDS:g} seconds, then PATCH /v1/webhook_endpoints/{endpoint.public_id} "
        'with {"disabled": false}, or ask your Refund desk contact.\n\n'
        "Each attempt, with its status and error, is listed at "
        f"GET /v1/webhook_endpoints/{endpoint.public_id}/deliveries.\n"
    )
    return subject, body


def disabled_notice_send(*, endpoint_id: int) -> str:
    """Email the merchant's contact that the endpoint was disabled: sent, no_contact, retry, or busy (not ours)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    if not _unsent().filter(free, pk=endpoint_id).update(lease_expires_at=lease):
        return "busy"
    endpoint = WebhookEndpoint.objects.select_related("merchant").get(pk=endpoint_id)
    log = {"endpoint_id": endpoint.public_id, "merchant": endpoint.merchant.slug}
    contact = endpoint.merchant.contact_email
    if contact:
        subject, body = _message(endpoint)
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [contact], fail_silently=False)
        except Exception as error:  # noqa: BLE001 - any mail failure: the sweeper tries again
            with contextlib.suppress(DatabaseError):
                WebhookEndpoint.objects.filter(pk=endpoint_id, lease_expires_at=lease).update(lease_expires_at=None)
            logger.warning(
                "webhook disabled notice not sent",
                extra={"message_id": "MSG.webhook.disabled_notice_retry", "error": error.__class__.__name__, **log},
            )
            return "retry"
        note, outcome = "Emailed the merchant's contact.", "sent"
    else:
        note, outcome = (
            "Not sent: the merchant has no contact email (set it with create_merchant --email).",
            "no_contact",
        )
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            disabled_notice_sent_at=timezone.now(), lease_expires_at=None
        )
        audit_record(
            actor=Actor.system("webhook delivery"),
            action=AuditAction.WEBHOOK_ENDPOINT_DISABLED_NOTICE,
            subject=endpoint.public_id,
            note=note,
        )
    level = logging.INFO if outcome == "sent" else logging.WARNING
    logger.log(level, "webhook disabled notice", extra={"message_id": f"MSG.webhook.disabled_notice_{outcome}", **log})
    return outcome
