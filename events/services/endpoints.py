"""A merchant's webhook endpoints: register, change, delete, rotate the secret (issue 14).

Each service runs in one transaction and writes its audit event there; the
audit trail carries the URL and the subscriptions, never a secret. The URL is
checked (https, public addresses: events.ssrf) before any lock is taken, so a
slow DNS answer never holds a row. The lookup of an endpoint by its public id
for a merchant is events.selectors.endpoint_get: these services take the
primary key it found.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_NOT_FOUND, ERR_VALIDATION, DomainError
from events.delivery import endpoints_kick
from events.enums import SUBSCRIBABLE, DeliveryStatus, EndpointStatus
from events.models import WebhookDelivery, WebhookEndpoint
from events.signing import live_previous, previous_secret_entry, secret_new, secret_seal
from events.ssrf import UnsafeURL, url_resolve
from refunds.models import Merchant

MAX_DESCRIPTION = 500
# Why an endpoint is disabled (WebhookEndpoint.disabled_reason).
DISABLED_BY_MERCHANT = "merchant"


class _NotGiven:
    """The value of an `endpoint_update` argument the caller left out (None means something)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


def endpoint_url_check(url: Any) -> str:
    """The URL if it may receive webhooks (https, public addresses, unless WEBHOOKS_ALLOW_PRIVATE_URLS)."""
    try:
        url_resolve(url)
    except UnsafeURL as error:
        raise DomainError(ERR_VALIDATION, str(error), field="url") from None
    return url


def endpoint_events_check(events: Any) -> list[str]:
    """A non-empty list of distinct subscribable types (`refund.*` or exact ones)."""
    known = ", ".join(SUBSCRIBABLE)
    if not isinstance(events, list | tuple) or not events:
        raise DomainError(ERR_VALIDATION, f"Subscribe to at least one event type: {known}.", field="events")
    unknown = [value for value in events if not isinstance(value, str) or value not in SUBSCRIBABLE]
    if unknown:
        raise DomainError(ERR_VALIDATION, f"Unknown event type {unknown[0]!r}; known: {known}.", field="events")
    if len(set(events)) != len(events):
        raise DomainError(ERR_VALIDATION, "List each event type once.", field="events")
    return list(events)


def endpoint_description_check(description: Any) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise DomainError(
            ERR_VALIDATION, f"A description is text of at most {MAX_DESCRIPTION} characters.", field="description"
        )
    return description


def _lock_merchant(merchant_id: int) -> None:
    """Serialise the endpoint creations of one merchant, so the count below is the count at COMMIT.

    The Merchant row, FOR NO KEY UPDATE: it conflicts with itself (a second
    create waits here until the first commits, then counts its endpoint) and
    not with the FOR KEY SHARE that inserting an order, a key or an event of
    the merchant takes on it. Not the EventSequence row: every refund change
    of the merchant locks that one until its COMMIT (events.writer), so an
    endpoint creation would queue behind refund traffic and hold it up in turn.
    """
    Merchant.objects.select_for_update(no_key=True).filter(pk=merchant_id).values_list("pk", flat=True).first()


def _live_endpoints(merchant_id: int):
    return WebhookEndpoint.objects.filter(merchant_id=merchant_id, deleted_at__isnull=True)


def _subject(endpoint: WebhookEndpoint) -> str:
    return f"webhook endpoint {endpoint.public_id}"


def _public_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit trail keeps of an endpoint: never its secrets."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "status": endpoint.status,
    }


def endpoint_create(
    *, merchant: Merchant, url: str, events: list[str], description: str = "", actor: Actor
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for `merchant`; return it and its secret in clear (shown once, never again).

    Refused with ERR_VALIDATION (`details.field`) for an unsafe URL, unknown
    or repeated event types, a long description, or when the merchant already
    has WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT endpoints that are not deleted.
    Side effects, in one transaction: the merchant's row locked (the limit
    holds under concurrent creates), the endpoint with its sealed secret, a
    `webhook_endpoint.created` audit event (URL and types). It receives the
    events written after it commits.
    """
    url = endpoint_url_check(url)
    events = endpoint_events_check(events)
    description = endpoint_description_check(description)
    limit = settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT
    secret = secret_new()
    with transaction.atomic():
        _lock_merchant(merchant.pk)
        if _live_endpoints(merchant.pk).count() >= limit:
            raise DomainError(
                ERR_VALIDATION,
                f"A merchant has at most {limit} webhook endpoints: delete one you no longer use first.",
                limit=limit,
            )
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, url=url, events=events, description=description, secret_sealed=secret_seal(secret)
        )
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_CREATED,
            subject=_subject(endpoint),
            note=f"merchant {merchant.slug}; {url}; events {', '.join(events)}",
            after=_public_view(endpoint),
        )
    return endpoint, secret


def _lock_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, deleted_at__isnull=True).first()
    if endpoint is None:
        raise DomainError(ERR_NOT_FOUND)
    return endpoint


def endpoint_update(
    *,
    endpoint_id: int,
    actor: Actor,
    url: str = NOT_GIVEN,
    events: list[str] = NOT_GIVEN,
    description: str = NOT_GIVEN,
    disabled: bool | None = NOT_GIVEN,
) -> WebhookEndpoint:
    """Change what is given (url, events, description, disabled); leave the rest. Returns the endpoint.

    `disabled=True` stops deliveries (reason "merchant"); `disabled=False`
    enables it again and forgets its failures (failing_since, reason,
    disabled_at), whoever disabled it. A deleted endpoint is ERR_NOT_FOUND.
    Side effects, in one transaction: the endpoint's row locked and saved
    with what changed, a `webhook_endpoint.updated` audit event with before
    and after. Nothing changed: nothing written.
    """
    changes: dict[str, Any] = {}
    if url is not NOT_GIVEN:
        changes["url"] = endpoint_url_check(url)
    if events is not NOT_GIVEN:
        changes["events"] = endpoint_events_check(events)
    if description is not NOT_GIVEN:
        changes["description"] = endpoint_description_check(description)
    if disabled is not NOT_GIVEN and disabled is not None and not isinstance(disabled, bool):
        raise DomainError(ERR_VALIDATION, "`disabled` is true or false.", field="disabled")
    with transaction.atomic():
        endpoint = _lock_endpoint(endpoint_id)
        before = _public_view(endpoint)
        fields = [name for name, value in changes.items() if getattr(endpoint, name) != value]
        for name in fields:
            setattr(endpoint, name, changes[name])
        if disabled is True and endpoint.status != EndpointStatus.DISABLED:
            endpoint.status = EndpointStatus.DISABLED
            endpoint.disabled_reason = DISABLED_BY_MERCHANT
            endpoint.disabled_at = timezone.now()
            fields += ["status", "disabled_reason", "disabled_at"]
        elif disabled is False and endpoint.status != EndpointStatus.ENABLED:
            endpoint.status = EndpointStatus.ENABLED
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            # A fresh start: the days of failures before it was disabled do not count against it again.
            endpoint.failing_since = None
            endpoint.disabled_notice_sent_at = None
            fields += ["status", "disabled_reason", "disabled_at", "failing_since", "disabled_notice_sent_at"]
        if not fields:
            return endpoint
        endpoint.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_UPDATED,
            subject=_subject(endpoint),
            note=", ".join(dict.fromkeys(fields)),
            before=before,
            after=_public_view(endpoint),
        )
        if endpoint.status == EndpointStatus.ENABLED and "status" in fields:
            # What waited while it was disabled is due now (queued once this commits).
            endpoints_kick(endpoint_ids=[endpoint.pk])
    return endpoint


def endpoint_delete(*, endpoint_id: int, actor: Actor) -> WebhookEndpoint:
    """Delete an endpoint: it receives nothing more and answers 404; its history stays for staff.

    Side effects, in one transaction: the endpoint's row locked, `deleted_at`
    set, its pending deliveries failed ("endpoint deleted"), a
    `webhook_endpoint.deleted` audit event. Already deleted: ERR_NOT_FOUND.
    """
    now = timezone.now()
    with transaction.atomic():
        endpoint = _lock_endpoint(endpoint_id)
        endpoint.deleted_at = now
        endpoint.save(update_fields=["deleted_at", "updated_at"])
        given_up = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, failed_at=now, last_error="endpoint deleted", queued_until=None
        )
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_DELETED,
            subject=_subject(endpoint),
            note=f"{endpoint.url}; {given_up} pending deliveries given up",
            before=_public_view(endpoint),
        )
    return endpoint


def endpoint_rotate_secret(*, endpoint_id: int, actor: Actor) -> str:
    """Give the endpoint a new secret and return it in clear (shown once).

    The old secret keeps signing beside the new one for 24 hours
    (events.signing.ROTATION_OVERLAP), so the receiver can switch over;
    secrets already past their overlap are dropped. Side effects, in one
    transaction: the endpoint's row locked, `secret_sealed` and
    `previous_secrets` saved, a `webhook_endpoint.secret_rotated` audit event
    (when the old secret expires; no secret).
    """
    secret = secret_new()
    with transaction.atomic():
        endpoint = _lock_endpoint(endpoint_id)
        now = timezone.now()
        entry = previous_secret_entry(sealed=endpoint.secret_sealed, now=now)
        endpoint.previous_secrets = [*live_previous(endpoint.previous_secrets, now=now), entry]
        endpoint.secret_sealed = secret_seal(secret)
        endpoint.save(update_fields=["secret_sealed", "previous_secrets", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.WEBHOOK_ENDPOINT_SECRET_ROTATED,
            subject=_subject(endpoint),
            note=f"previous secret signs until {entry['expires_at']}",
        )
    return secret
