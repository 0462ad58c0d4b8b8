"""Merchants' webhook endpoints as staff read them: status in words, the last attempt, the attempts log,
and on the refund card whether the merchant was told (issue 14).

Reads only; every page's queries are bounded (a handful per page, never one
per row): the last attempt of every endpoint is one DISTINCT ON query, a
refund's deliveries one query beside its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Min, Q

from console.presenters.formatting import when
from events.enums import DeliveryStatus, DeliveryTrigger, EndpointStatus
from events.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.selectors import endpoint_attempts
from refunds.models import Merchant, Refund

ATTEMPTS_PER_PAGE = 25
MERCHANTS_PER_PAGE = 50
# A refund has a handful of events; these only bound a pathological one.
CARD_EVENTS_MAX = 50
CARD_DELIVERIES_MAX = 200
# Why an endpoint is disabled (WebhookEndpoint.disabled_reason, events.services.endpoints / events.delivery).
DISABLED_FAILING = "failing"


def days_text(seconds: int) -> str:
    """A duration in whole days, as staff read it: "5 days"."""
    days = round(seconds / 86400)
    return f"{days} day{'s' if days != 1 else ''}"


# --- merchants ----------------------------------------------------------------


def merchants_page(*, page: str | int | None) -> Page:
    """Every merchant with its endpoints counted: live ones, failing ones, disabled ones (one query per page)."""
    live = Q(webhook_endpoints__deleted_at__isnull=True)
    merchants = Merchant.objects.annotate(
        endpoint_count=Count("webhook_endpoints", filter=live),
        failing_count=Count("webhook_endpoints", filter=live & Q(webhook_endpoints__failing_since__isnull=False)),
        disabled_count=Count("webhook_endpoints", filter=live & Q(webhook_endpoints__status=EndpointStatus.DISABLED)),
    ).order_by("slug")
    return Paginator(merchants, MERCHANTS_PER_PAGE).get_page(page)


# --- endpoints ----------------------------------------------------------------


@dataclass(frozen=True)
class EndpointRow:
    """One endpoint as its merchant's page and its own page show it."""

    endpoint: WebhookEndpoint
    last_attempt: WebhookAttempt | None

    @property
    def deleted(self) -> bool:
        return self.endpoint.deleted_at is not None

    @property
    def status_label(self) -> str:
        if self.deleted:
            return "Deleted"
        if self.endpoint.status == EndpointStatus.DISABLED:
            return "Disabled"
        return "Failing" if self.endpoint.failing_since else "Enabled"

    @property
    def status_class(self) -> str:
        """The CSS class of the status pill (console.css `.ep-…`)."""
        return "ep-" + self.status_label.lower()

    @property
    def status_text(self) -> str:
        """Why it is in that state, in a sentence."""
        endpoint = self.endpoint
        if self.deleted:
            return f"Deleted {when(endpoint.deleted_at)}: it receives nothing; its attempts stay listed."
        if endpoint.status == EndpointStatus.DISABLED:
            if endpoint.disabled_reason == DISABLED_FAILING:
                told = " The merchant's contact was emailed." if endpoint.disabled_notice_sent_at else ""
                return (
                    f"Disabled {when(endpoint.disabled_at)} after "
                    f"{days_text(settings.WEBHOOK_DISABLE_AFTER_SECONDS)} of failed deliveries.{told} "
                    "Events wait until it is enabled again."
                )
            return f"Disabled {when(endpoint.disabled_at)} by the merchant or staff. Events wait until it is enabled."
        if endpoint.failing_since:
            return (
                f"Failing since {when(endpoint.failing_since)}: retried with backoff; disabled after "
                f"{days_text(settings.WEBHOOK_DISABLE_AFTER_SECONDS)} of failures."
            )
        return "Receiving events."


def _last_attempts(endpoint_ids: list[int]) -> dict[int, WebhookAttempt]:
    """Each endpoint's newest attempt, in one query (PostgreSQL DISTINCT ON, index webhook_attempt_endpoint)."""
    if not endpoint_ids:
        return {}
    attempts = (
        WebhookAttempt.objects.filter(endpoint_id__in=endpoint_ids)
        .order_by("endpoint_id", "-started_at", "-pk")
        .distinct("endpoint_id")
    )
    return {attempt.endpoint_id: attempt for attempt in attempts}


def merchant_endpoints(*, merchant: Merchant) -> tuple[list[EndpointRow], list[EndpointRow]]:
    """The merchant's endpoints, live ones then deleted ones (kept for their history); two queries."""
    endpoints = list(WebhookEndpoint.objects.filter(merchant=merchant).order_by("created_at", "pk"))
    last = _last_attempts([endpoint.pk for endpoint in endpoints])
    rows = [EndpointRow(endpoint, last.get(endpoint.pk)) for endpoint in endpoints]
    return [row for row in rows if not row.deleted], [row for row in rows if row.deleted]


def staff_endpoint(*, public_id: str) -> WebhookEndpoint | None:
    """An endpoint of any merchant (staff see every merchant), deleted ones too, with its merchant."""
    return WebhookEndpoint.objects.select_related("merchant").filter(public_id=public_id).first()


def endpoint_row(endpoint: WebhookEndpoint) -> EndpointRow:
    return EndpointRow(endpoint, _last_attempts([endpoint.pk]).get(endpoint.pk))


@dataclass(frozen=True)
class Backlog:
    """What waits for an endpoint: pending deliveries and when the next one is due."""

    pending: int
    next_at: object  # datetime | None


def endpoint_backlog(endpoint: WebhookEndpoint) -> Backlog:
    stats = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).aggregate(
        pending=Count("pk"), next_at=Min("next_attempt_at")
    )
    return Backlog(pending=stats["pending"], next_at=stats["next_at"])


def attempts_page(endpoint: WebhookEndpoint, *, page: str | int | None) -> Page:
    """The endpoint's attempts, newest first, each with its delivery and event (a count and one query per page)."""
    attempts = endpoint_attempts(endpoint=endpoint).defer("delivery__event__data")
    return Paginator(attempts, ATTEMPTS_PER_PAGE).get_page(page)


@dataclass(frozen=True)
class AttemptLine:
    attempt: WebhookAttempt
    outcome: str
    # The event's newest attempt on this page carries its "Redeliver" button (one button per event).
    redeliver: bool


def attempt_lines(page: Page) -> list[AttemptLine]:
    seen: set[int] = set()
    lines = []
    for attempt in page:
        event_id = attempt.delivery.event_id
        lines.append(AttemptLine(attempt, attempt_outcome(attempt), redeliver=event_id not in seen))
        seen.add(event_id)
    return lines


def attempt_outcome(attempt: WebhookAttempt) -> str:
    """'HTTP 200', 'HTTP 500', or the error when no answer came ('timed out after 10 s')."""
    if attempt.status_code is not None:
        return f"HTTP {attempt.status_code}"
    return attempt.error or "no answer"


# --- the refund card: was the merchant told? ----------------------------------


@dataclass(frozen=True)
class DeliveryLine:
    endpoint: WebhookEndpoint
    state: str  # delivered, queued, retrying, waiting (endpoint disabled or deleted), failed
    text: str
    redelivery: bool


@dataclass(frozen=True)
class EventLine:
    event: Event
    deliveries: list[DeliveryLine] = field(default_factory=list)


def _delivery_line(delivery: WebhookDelivery) -> DeliveryLine:
    """The state as a word (the pill) and the detail after the endpoint's URL, never saying the state twice."""
    endpoint = delivery.endpoint
    redelivery = delivery.trigger == DeliveryTrigger.REDELIVER
    if delivery.status == DeliveryStatus.DELIVERED:
        attempts = f" (attempt {delivery.attempts})" if delivery.attempts > 1 else ""
        return DeliveryLine(endpoint, "delivered", f"{when(delivery.delivered_at)}{attempts}", redelivery)
    if delivery.status == DeliveryStatus.FAILED:
        why = f": {delivery.last_error}" if delivery.last_error else ""
        text = f"{when(delivery.failed_at)}, after {delivery.attempts} attempts{why}"
        return DeliveryLine(endpoint, "failed", text, redelivery)
    if not endpoint.is_live:
        state = "deleted" if endpoint.deleted_at else "disabled"
        return DeliveryLine(endpoint, "waiting", f"the endpoint is {state}", redelivery)
    if delivery.attempts:
        why = f" ({delivery.last_error})" if delivery.last_error else ""
        text = f"attempt {delivery.attempts} failed{why}; next at {when(delivery.next_attempt_at)}"
        return DeliveryLine(endpoint, "retrying", text, redelivery)
    return DeliveryLine(endpoint, "queued", "not tried yet", redelivery)


def refund_event_deliveries(refund: Refund) -> list[EventLine]:
    """The merchant events of `refund`, oldest first, each with its delivery state per endpoint (two queries)."""
    events = list(Event.objects.filter(refund=refund).defer("data").order_by("sequence")[:CARD_EVENTS_MAX])
    if not events:
        return []
    deliveries = (
        WebhookDelivery.objects.filter(event_id__in=[event.pk for event in events])
        .select_related("endpoint")
        .order_by("created_at", "pk")[:CARD_DELIVERIES_MAX]
    )
    by_event: dict[int, list[DeliveryLine]] = {event.pk: [] for event in events}
    for delivery in deliveries:
        by_event[delivery.event_id].append(_delivery_line(delivery))
    return [EventLine(event, by_event[event.pk]) for event in events]
