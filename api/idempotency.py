"""Idempotency-Key handling for API writes (SPEC §9).

The record is inserted as the first statement of the request's transaction.
PostgreSQL makes a concurrent insert of the same (api key, key) wait on the
unique index until the first transaction ends: if it committed, the waiter
gets IntegrityError and replays the stored answer; if it rolled back, the
waiter proceeds as the first. Either way the operation runs once.

Business refusals (4xx raised by services) are stored and replayed like
successes — as Stripe does — but the service's writes are rolled back to a
savepoint first. Malformed requests are refused before any record exists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from api.errors import domain_error_response, error_response
from api.models import IdempotencyRecord
from core.errors import (
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_IDEMPOTENCY_KEY_INVALID,
    ERR_IDEMPOTENCY_KEY_MISSING,
    DomainError,
)
from refunds.models import ApiKey

MAX_KEY_LENGTH = 255
# 1-255 visible ASCII characters, spaces only inside: what every proxy passes unchanged (a header's
# leading and trailing blanks are stripped on the way, and anything else arrives as latin-1 guesswork).
# The OpenAPI schema publishes this pattern (api/views.py IDEMPOTENCY_HEADER).
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)


def request_fingerprint(method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotency_key_from(request) -> str | None:
    """The request's key; None when the header is absent. Raises DomainError when present but unusable."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        # Blank, too long or odd characters: say so, not "missing" (the caller did send one).
        raise DomainError(ERR_IDEMPOTENCY_KEY_INVALID, max_length=MAX_KEY_LENGTH)
    return key


def missing_key_response() -> Response:
    return error_response(ERR_IDEMPOTENCY_KEY_MISSING)


def _replay(record: IdempotencyRecord, fingerprint: str, replayed: Callable[[dict], dict] | None = None) -> Response:
    if record.fingerprint != fingerprint:
        return error_response(ERR_CONFLICT_IDEMPOTENCY)
    body = replayed(record.response_body) if replayed else record.response_body
    response = Response(body, status=record.response_status)
    response["Idempotency-Status"] = "replayed"
    return response


def run_idempotent(
    *,
    api_key: ApiKey,
    key: str,
    fingerprint: str,
    operation: Callable[[], tuple[int, dict]],
    stored: Callable[[dict], dict] | None = None,
    replayed: Callable[[dict], dict] | None = None,
) -> Response:
    """Run `operation` at most once per (api_key, key) and answer like the first time.

    No read before the insert: a first request (the common case) costs one
    statement, and a replay finds out from the unique index. `stored` turns
    the answer into what the record keeps and `replayed` turns that back
    (a webhook endpoint's secret is kept encrypted, never in clear).
    """
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(api_key=api_key, key=key, fingerprint=fingerprint)
            try:
                with transaction.atomic():
                    status, body = operation()
            except DomainError as error:
                response = domain_error_response(error)
                status, body = response.status_code, response.data
            record.response_status = status
            record.response_body = stored(body) if stored else body
            record.save(update_fields=["response_status", "response_body"])
    except IntegrityError:
        # Lost the race on the unique key: the winner has committed its answer.
        record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if record is None or record.response_status is None:
            raise
        return _replay(record, fingerprint, replayed)
    response = Response(body, status=status)
    response["Idempotency-Status"] = "created"
    return response


def idempotency_records_purge(
    *, now: datetime | None = None, batch_size: int | None = None, max_batches: int = 1000
) -> int:
    """Delete the records older than IDEMPOTENCY_KEY_TTL_HOURS, oldest first, in batches; return how many.

    Each batch is one DELETE of at most `batch_size` rows (IDEMPOTENCY_PURGE_BATCH) in its own
    transaction, so a purge of a busy day's keys never holds a long transaction or a table's worth of
    row locks, and a request's own insert is never waited on. `max_batches` bounds one run; beat's
    next run (hourly) carries on. Records are why a retried create replays instead of refunding
    twice, so nothing younger than the TTL is touched: the table is not partitioned by month
    (docs/operations.md "Retention" says why) and expires row by row.
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    batch_size = batch_size or settings.IDEMPOTENCY_PURGE_BATCH
    expired = IdempotencyRecord.objects.filter(created_at__lt=cutoff)
    deleted = 0
    for _ in range(max_batches):
        with transaction.atomic():
            batch = expired.order_by("created_at").values("pk")[:batch_size]
            count, _ = IdempotencyRecord.objects.filter(pk__in=batch).delete()
        deleted += count
        if count < batch_size:
            break
    return deleted
