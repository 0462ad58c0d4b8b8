"""Sending deliveries to merchants' endpoints (Standard Webhooks): the delivery engine.

On the model of the other outboxes (notifications.outbox, integrations.slack.sync):

1. kick — `endpoints_kick`, in the change's transaction (events.writer): on
   commit, the endpoint's due deliveries are marked queued (`queued_until`)
   and one task per endpoint is queued, best effort.
2. lease — the task takes its endpoint's lease (`lease_expires_at`, one
   UPDATE … WHERE the lease is free): one worker per endpoint at a time, so a
   slow endpoint holds one worker slot, never another endpoint's.
3. send — the endpoint's due pending deliveries, oldest due first, one by one,
   each OUTSIDE any transaction (events.transport: pinned to the checked
   address, WEBHOOK_TIMEOUT_SECONDS, no redirects), the lease renewed before
   each; a batch stops after BATCH_MAX deliveries or BATCH_SECONDS, or after
   FAILURES_IN_ROW failed attempts (the receiver is down: the others keep
   their turn for the sweeper rather than each waiting out a timeout now),
   or after its first timeout: a receiver that hangs holds a worker slot for
   at most one WEBHOOK_TIMEOUT_SECONDS per run.
4. record — each attempt in its own short transaction (endpoint row FOR NO
   KEY UPDATE — never blocking a refund's transaction that inserts a delivery
   for it, which takes KEY SHARE — then delivery row): a 2xx is delivered and clears the endpoint's
   `failing_since`; anything else backs off (core.queueing.backoff_with_jitter,
   WEBHOOK_RETRY_BASE/MAX_SECONDS), or fails once the delivery is older than
   WEBHOOK_RETRY_WINDOW_SECONDS. An endpoint failing for
   WEBHOOK_DISABLE_AFTER_SECONDS is disabled (audited
   `webhook_endpoint.disabled_failing`); its pending deliveries stay pending
   for when it is enabled again, and its merchant's contact is emailed once
   (events.notices). Should the attempt itself fail to be recorded (a
   database refusal), the delivery is still backed off in a transaction of
   its own (`delivery_postpone`): never sent again at once in a loop.
5. release — the lease is given back; if deliveries are still due (the batch
   ran out), the task queues itself again.

The sweeper (`events.sweep_deliveries`, beat every WEBHOOK_SWEEP_SECONDS)
queues a task for every live endpoint with a due delivery that no queued task
or lease covers — a retry whose backoff ran out, a lost task, a dead worker's
endpoint once its lease expires — and sends the disable notices not yet sent.

With OUTBOX_HANDOFF=relay (core.handoff) nothing here publishes from a
change's transaction nor from a worker's run: `endpoints_kick` and a batch
that ran out leave the deliveries unmarked and wake the relay, whose pass
queues them through `deliveries_queue_due` (the sweeper's marking UPDATE).

Delivery is at least once: a worker killed after the receiver answered and
before the attempt was recorded leaves the delivery pending, and it is sent
again. Receivers dedupe by `webhook-id` (the event id). Order is not
guaranteed (a retry comes after later events); receivers order by `sequence`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.handoff import relay_mode, relay_wake
from core.queueing import backoff_with_jitter, enqueue_best_effort
from events.enums import DeliveryStatus, EndpointStatus
from events.metrics import WEBHOOK_ATTEMPT_SECONDS, WEBHOOK_ATTEMPTS_TOTAL
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.notices import disabled_notice_send, disabled_notices_pending
from events.signing import signature_headers, signing_secrets
from events.transport import Sent, webhook_post

logger = logging.getLogger("events.delivery")

BATCH_MAX = 100  # deliveries per task run
BATCH_SECONDS = 30.0  # no new send starts after this long; the task queues itself again
FAILURES_IN_ROW = 3  # a receiver that is down: stop the run, the sweeper comes back
DISABLED_REASON_FAILING = "failing"

_DELIVERY = WebhookDelivery._meta.db_table
_ENDPOINT = WebhookEndpoint._meta.db_table
# Mark every due, unmarked delivery of a live, unleased endpoint as queued; RETURNING says which endpoints
# got a mark now. Row locks make two concurrent sweeps mark (and queue) each delivery once.
_SWEEP_SQL = f"""
UPDATE {_DELIVERY} AS d SET queued_until = %(until)s
FROM {_ENDPOINT} AS e
WHERE d.endpoint_id = e.id
  AND d.status = %(pending)s AND d.next_attempt_at <= %(now)s
  AND (d.queued_until IS NULL OR d.queued_until < %(now)s)
  AND e.status = %(enabled)s AND e.deleted_at IS NULL
  AND (e.lease_expires_at IS NULL OR e.lease_expires_at < %(now)s)
RETURNING endpoint_id
"""  # noqa: S608 - table names come from model metadata, values are parameters


# --- 1. kick ------------------------------------------------------------------------------------


def endpoints_kick(*, endpoint_ids: list[int], inserted: bool = False) -> None:
    """Once the transaction commits, queue a task per endpoint to send what is due to it.

    In relay mode nothing is queued: the relay queues them. `inserted` says the
    caller's transaction inserted the deliveries, whose trigger wakes the relay
    already; otherwise (an endpoint enabled again, a redelivery found pending)
    it is woken here, at commit.
    """
    if relay_mode():
        if not inserted:
            relay_wake(_DELIVERY)
        return
    for endpoint_id in dict.fromkeys(endpoint_ids):
        transaction.on_commit(lambda endpoint_id=endpoint_id: endpoint_enqueue(endpoint_id=endpoint_id))


def endpoint_enqueue(*, endpoint_id: int) -> bool:
    """Mark the endpoint's due deliveries as queued and queue its task, best effort (the sweeper backs it up).

    The mark keeps the sweeper from queueing a second task while this one is
    on its way; if the broker refuses, the mark is taken back so the next
    sweep queues it. A database error only loses the mark (a second task is
    harmless: the lease lets one of them work).
    """
    now = timezone.now()
    until = now + timedelta(seconds=settings.WEBHOOK_QUEUED_TTL_SECONDS)
    with contextlib.suppress(DatabaseError):
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).filter(Q(queued_until__isnull=True) | Q(queued_until__lt=until)).update(queued_until=until)
    if enqueue_best_effort(
        deliver_endpoint,
        kwargs={"endpoint_id": endpoint_id},
        message_id="MSG.webhook.enqueue_failed",
        log={"endpoint_id": endpoint_id},
    ):
        return True
    with contextlib.suppress(DatabaseError):
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id, queued_until=until).update(queued_until=None)
    return False


# --- 2. lease -----------------------------------------------------------------------------------


def _live(queryset):
    return queryset.filter(status=EndpointStatus.ENABLED, deleted_at__isnull=True)


def endpoint_lease_take(*, endpoint_id: int) -> datetime | None:
    """Take the endpoint's lease if it is free and the endpoint live; returns the lease (our token) or None."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    taken = _live(WebhookEndpoint.objects.filter(free, pk=endpoint_id)).update(lease_expires_at=lease)
    return lease if taken else None


def _lease_renew(endpoint_id: int, lease: datetime) -> datetime | None:
    """Extend our lease before a send; None when it is no longer ours (it ran out and another worker took it)."""
    renewed = timezone.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    kept = WebhookEndpoint.objects.filter(pk=endpoint_id, lease_expires_at=lease).update(lease_expires_at=renewed)
    return renewed if kept else None


def _lease_release(endpoint_id: int, lease: datetime) -> None:
    with contextlib.suppress(DatabaseError):  # the database is down: the lease runs out by itself
        WebhookEndpoint.objects.filter(pk=endpoint_id, lease_expires_at=lease).update(lease_expires_at=None)


# --- 3. send ------------------------------------------------------------------------------------


def delivery_body(delivery: WebhookDelivery) -> str:
    """The request body: the event JSON, compact, with keys in the event's own order (stable across retries)."""
    return json.dumps(delivery.event.as_payload(), separators=(",", ":"))


def _due(endpoint_id: int, now: datetime):
    return WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    )


def delivery_attempt(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Sent:
    """Sign and send one delivery now (no transaction may be open), then record the attempt."""
    now = timezone.now()
    body = delivery_body(delivery)
    secrets = signing_secrets(secret_sealed=endpoint.secret_sealed, previous=endpoint.previous_secrets, now=now)
    headers = signature_headers(message_id=delivery.event.public_id, body=body, secrets=secrets, at=now)
    sent = webhook_post(
        url=endpoint.url,
        body=body.encode(),
        headers=headers,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        excerpt_chars=settings.WEBHOOK_RESPONSE_EXCERPT_CHARS,
    )
    WEBHOOK_ATTEMPTS_TOTAL.labels(outcome=sent.kind).inc()
    if sent.latency_ms is not None:
        WEBHOOK_ATTEMPT_SECONDS.observe(sent.latency_ms / 1000)
    try:
        attempt_record(delivery_id=delivery.pk, sent=sent, started_at=now)
    except (DataError, IntegrityError) as error:
        # What the database refuses of this attempt (not an outage: that propagates) must not leave the
        # delivery due now, or every run would send it again at once, first in its endpoint's queue.
        logger.exception(
            "webhook attempt not recorded",
            extra={"message_id": "MSG.webhook.record_failed", "delivery_id": delivery.pk},
        )
        delivery_postpone(delivery_id=delivery.pk, error=f"attempt not recorded: {error.__class__.__name__}")
        return Sent(None, sent.latency_ms, "", "attempt not recorded", "error")
    return sent


def delivery_postpone(*, delivery_id: int, error: str) -> None:
    """Back a pending delivery off as after a failed attempt, when the attempt itself could not be recorded.

    Side effects, in one transaction: the delivery row locked, `attempts`
    counted, `next_attempt_at` pushed back (backoff with jitter), `last_error`
    and `queued_until` cleared. No attempt row, no endpoint change.
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).filter(pk=delivery_id).first()
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return
        delivery.attempts += 1
        delivery.next_attempt_at = delivery_retry_at(attempts=delivery.attempts, now=now)
        delivery.last_error = error[:300]
        delivery.queued_until = None
        delivery.save(update_fields=["attempts", "next_attempt_at", "last_error", "queued_until"])


def endpoint_deliver(*, endpoint_id: int) -> str:
    """One run for an endpoint: what happened — idle, leased, not_live, sent, failing, lost_lease.

    Call it outside any transaction (the task does): it waits on the network.
    Database errors propagate (the task logs them; the lease runs out and the
    sweeper comes back): a delivery sent and not recorded is sent again.
    """
    lease = endpoint_lease_take(endpoint_id=endpoint_id)
    if lease is None:
        return _why_not(endpoint_id)
    outcome, sent, failures_in_row = "idle", 0, 0
    started = time.monotonic()
    try:
        # The queued marks of what is due now are consumed: from here the lease covers it.
        _due(endpoint_id, timezone.now()).filter(queued_until__isnull=False).update(queued_until=None)
        while sent < BATCH_MAX and time.monotonic() - started < BATCH_SECONDS:
            endpoint = _live(WebhookEndpoint.objects.filter(pk=endpoint_id)).first()
            if endpoint is None:
                break  # disabled (by us, a moment ago, or by its merchant) or deleted
            due = _due(endpoint_id, timezone.now()).select_related("event__refund")
            delivery = due.order_by("next_attempt_at", "pk").first()
            if delivery is None:
                break
            renewed = _lease_renew(endpoint_id, lease)
            if renewed is None:
                return "lost_lease"
            lease = renewed
            result = delivery_attempt(endpoint=endpoint, delivery=delivery)
            sent += 1
            outcome = "sent"
            failures_in_row = 0 if result.succeeded else failures_in_row + 1
            # A receiver that hangs: one timeout per run, not FAILURES_IN_ROW of them, holds this slot.
            if failures_in_row >= FAILURES_IN_ROW or result.kind == "timeout":
                outcome = "failing"
                break
    finally:
        _lease_release(endpoint_id, lease)
    if outcome == "sent" and _due(endpoint_id, timezone.now()).exists():
        # The batch ran out with work left: our turn again, queued (by the relay, in relay mode).
        if relay_mode():
            relay_wake(_DELIVERY)
        else:
            endpoint_enqueue(endpoint_id=endpoint_id)
    if WebhookEndpoint.objects.filter(
        pk=endpoint_id, disabled_reason=DISABLED_REASON_FAILING, disabled_notice_sent_at__isnull=True
    ).exists():
        disabled_notice_send(endpoint_id=endpoint_id)
    return outcome


def _why_not(endpoint_id: int) -> str:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return "missing"
    if not endpoint.is_live:
        return "not_live"
    # Another worker sends to it now and takes what is due as it goes. Should it finish just before our
    # deliveries committed, the next sweep queues them: our queued marks are given up, not left to run out.
    with contextlib.suppress(DatabaseError):
        _due(endpoint_id, timezone.now()).filter(queued_until__isnull=False).update(queued_until=None)
    return "leased"


# --- 4. record ----------------------------------------------------------------------------------


def delivery_retry_at(*, attempts: int, now: datetime) -> datetime:
    """When a delivery that failed `attempts` times is tried again (exponential backoff with full jitter)."""
    wait = backoff_with_jitter(
        attempts, base=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS
    )
    return now + timedelta(seconds=wait)


def attempt_record(*, delivery_id: int, sent: Sent, started_at: datetime) -> WebhookAttempt:
    """Record one attempt and its consequences, in one short transaction.

    Side effects, in order: the endpoint row locked FOR NO KEY UPDATE (always
    before the delivery's, like the endpoint services, so the two never
    deadlock; not FOR UPDATE, which would make a refund's transaction that
    inserts a delivery for this endpoint wait on its foreign key check); the
    attempt written; the delivery delivered, rescheduled or failed; the
    endpoint's `failing_since` cleared or set, and the endpoint disabled with
    its audit event when it has been failing WEBHOOK_DISABLE_AFTER_SECONDS.
    """
    now = timezone.now()
    with transaction.atomic():
        endpoint_id = WebhookDelivery.objects.values_list("endpoint_id", flat=True).get(pk=delivery_id)
        endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=endpoint_id)
        delivery = WebhookDelivery.objects.select_for_update(no_key=True).get(pk=delivery_id)
        delivery.attempts += 1
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            number=delivery.attempts,
            started_at=started_at,
            status_code=sent.status,
            latency_ms=sent.latency_ms,
            response_excerpt=sent.excerpt[:1000],
            error=sent.error[:300],
            succeeded=sent.succeeded,
        )
        fields = ["attempts", "last_error", "queued_until"]
        delivery.queued_until = None
        delivery.last_error = sent.error[:300]
        if delivery.status != DeliveryStatus.PENDING:
            pass  # given up meanwhile (the endpoint deleted): the attempt is history, the status stays
        elif sent.succeeded:
            delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
            fields += ["status", "delivered_at"]
        elif now - delivery.created_at >= timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS):
            delivery.status, delivery.failed_at = DeliveryStatus.FAILED, now
            fields += ["status", "failed_at"]
        else:
            delivery.next_attempt_at = delivery_retry_at(attempts=delivery.attempts, now=now)
            fields += ["next_attempt_at"]
        delivery.save(update_fields=fields)
        _endpoint_after_attempt(endpoint, succeeded=sent.succeeded, error=sent.error, now=now)
    log = {"endpoint_id": endpoint.public_id, "event_id": delivery.event_id, "attempt": attempt.number}
    if sent.succeeded:
        logger.info("webhook delivered", extra={"message_id": "MSG.webhook.delivered", **log})
    else:
        message_id = "MSG.webhook.failed" if delivery.status == DeliveryStatus.FAILED else "MSG.webhook.retry"
        logger.warning("webhook attempt failed", extra={"message_id": message_id, "error": sent.error, **log})
    return attempt


def _endpoint_after_attempt(endpoint: WebhookEndpoint, *, succeeded: bool, error: str, now: datetime) -> None:
    """The endpoint's failing clock (locked row): cleared by a success, started by a failure, and the disable."""
    if succeeded:
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since", "updated_at"])
        return
    # An endpoint enabled again after we disabled it starts a fresh clock, even if whoever enabled it left
    # `failing_since` as it was: five more days of failures, not one attempt, before the next disable.
    restarted = endpoint.disabled_at is not None and endpoint.failing_since is not None
    if endpoint.failing_since is None or (restarted and endpoint.failing_since <= endpoint.disabled_at):
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since", "updated_at"])
        return
    failing_for = now - endpoint.failing_since
    if endpoint.status != EndpointStatus.ENABLED or failing_for < timedelta(
        seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS
    ):
        return
    endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = EndpointStatus.DISABLED, "failing", now
    endpoint.disabled_notice_sent_at = None
    endpoint.save(update_fields=["status", "disabled_reason", "disabled_at", "disabled_notice_sent_at", "updated_at"])
    days = failing_for.total_seconds() / 86400
    audit_record(
        actor=Actor.system("webhook delivery"),
        action=AuditAction.WEBHOOK_ENDPOINT_DISABLED_FAILING,
        subject=endpoint.public_id,
        note=f"Failing since {endpoint.failing_since.isoformat()} ({days:.1f} days); last error: {error}"[:1000],
        before={"status": EndpointStatus.ENABLED},
        after={"status": EndpointStatus.DISABLED, "disabled_reason": "failing"},
    )
    logger.warning(
        "webhook endpoint disabled: failing",
        extra={
            "message_id": "MSG.webhook.endpoint_disabled",
            "endpoint_id": endpoint.public_id,
            "days": round(days, 1),
        },
    )


# --- 5. sweep -----------------------------------------------------------------------------------


def deliveries_sweep() -> int:
    """Queue a task for each live endpoint with due deliveries no task covers; send missing disable notices.

    Returns how many endpoint tasks were queued.
    """
    now = timezone.now()
    # An event written while its endpoint was being deleted leaves a delivery that endpoint_delete
    # could not see yet: nothing will ever send it, so it ends here as the others of the endpoint did.
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, endpoint__deleted_at__isnull=False).update(
        status=DeliveryStatus.FAILED, failed_at=now, last_error="endpoint deleted"
    )
    queued = deliveries_queue_due()
    for endpoint_id in disabled_notices_pending():
        disabled_notice_send(endpoint_id=endpoint_id)
    return queued


def deliveries_queue_due() -> int:
    """Mark every due, unmarked delivery of a live, unleased endpoint and queue one task per endpoint.

    The sweeper's queueing alone, without its housekeeping (closing deleted
    endpoints' deliveries, emailing disable notices): what the outbox relay
    runs on every pass (operations.relay). Returns how many tasks were queued.
    """
    now = timezone.now()
    until = now + timedelta(seconds=settings.WEBHOOK_QUEUED_TTL_SECONDS)
    params = {"until": until, "now": now, "pending": DeliveryStatus.PENDING, "enabled": EndpointStatus.ENABLED}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_SWEEP_SQL, params)
        endpoint_ids = sorted({row[0] for row in cursor.fetchall()})
    queued = 0
    for index, endpoint_id in enumerate(endpoint_ids):
        if not enqueue_best_effort(
            deliver_endpoint,
            kwargs={"endpoint_id": endpoint_id},
            message_id="MSG.webhook.enqueue_failed",
            log={"endpoint_id": endpoint_id},
        ):
            with contextlib.suppress(DatabaseError):  # the broker is down: the next sweep tries again
                WebhookDelivery.objects.filter(endpoint_id__in=endpoint_ids[index:], queued_until=until).update(
                    queued_until=None
                )
            break
        queued += 1
    if queued:
        logger.info("webhook endpoints swept", extra={"message_id": "MSG.webhook.swept", "queued": queued})
    return queued


# --- Celery tasks (names are wire contracts: queued messages and beat name them) --------------------


@shared_task(name="events.deliver_endpoint", ignore_result=True)
def deliver_endpoint(endpoint_id: int) -> str:
    """Send what is due to one endpoint (`endpoint_deliver`); a database error leaves it to the sweeper."""
    try:
        return endpoint_deliver(endpoint_id=endpoint_id)
    except DatabaseError:
        logger.exception(
            "webhook delivery run failed", extra={"message_id": "MSG.webhook.run_failed", "endpoint_id": endpoint_id}
        )
        return "error"


@shared_task(name="events.sweep_deliveries", ignore_result=True)
def sweep_deliveries() -> int:
    """Queue the endpoints whose retries are due or whose task was lost; send unsent disable notices."""
    return deliveries_sweep()
