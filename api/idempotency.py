"""Idempotency-Key handling for API writes (SPEC §9).

Exactly once, in the fewest statements: the record is looked up with the
request's API key (one statement with the key's authentication,
`api.auth`), and written once, at the end of the operation's transaction,
with the answer in it. A retry after the first answer committed finds the
record and replays it without running anything (also when the payment has
no room left by now). Two requests with one key at the same time both miss
the lookup; the second to insert waits on the unique index until the first
commits, gets IntegrityError, rolls its whole transaction back (its refund
with it: nothing of it was committed, its after-commit hooks never run) and
replays the first's answer. If the first rolled back instead, the second's
insert goes through and it is the first. Either way the operation commits
once. The insert is the transaction's last statement, so waiting on it
cannot be part of a deadlock.

An operation with effects outside the database (files written) claims the
key first instead (`claim_first`): the twin waits before doing anything,
as all operations did before.

Business refusals (4xx raised by services) are stored and replayed like
successes — as Stripe does — after the operation's writes are rolled back.
Malformed requests are refused before any record exists.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import nullcontext
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
from core.write_batch import writes_together
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


def lookup_key(request) -> str | None:
    """The key to look up with the request's API key (`api.auth`): a POST's valid key to a view that answers it.

    Views that run `run_idempotent` say so with `idempotent_writes = True`;
    any other request looks nothing up.
    """
    view = (getattr(request, "parser_context", None) or {}).get("view")
    if request.method != "POST" or not getattr(view, "idempotent_writes", False):
        return None
    key = request.headers.get("Idempotency-Key")
    return key if key is not None and _KEY.fullmatch(key) else None


def remember_lookup(api_key: ApiKey, key: str, record: IdempotencyRecord | None) -> None:
    """Keep what the authentication statement found for `key` on the request's API key."""
    api_key._idempotency_lookup = (key, record)


def _recorded(api_key: ApiKey, key: str) -> IdempotencyRecord | None:
    looked_up = getattr(api_key, "_idempotency_lookup", None)
    if looked_up is not None and looked_up[0] == key:
        return looked_up[1]
    # Not looked up with the key (another database than PostgreSQL, or a view not marked): one statement.
    return IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()


class _KeyTaken(Exception):
    """Our insert of the record failed: another request with the key committed first (or the insert is refused)."""


def _insert(*, api_key: ApiKey, key: str, fingerprint: str, status: int | None, body: dict | None) -> IdempotencyRecord:
    try:
        return IdempotencyRecord.objects.create(
            api_key=api_key, key=key, fingerprint=fingerprint, response_status=status, response_body=body
        )
    except IntegrityError as error:
        raise _KeyTaken from error


def _replay(record: IdempotencyRecord, fingerprint: str, replayed: Callable[[dict], dict] | None = None) -> Response:
    if record.fingerprint != fingerprint:
        return error_response(ERR_CONFLICT_IDEMPOTENCY)
    body = replayed(record.response_body) if replayed else record.response_body
    response = Response(body, status=record.response_status)
    response["Idempotency-Status"] = "replayed"
    return response


def _replay_winner(
    taken: _KeyTaken, *, api_key: ApiKey, key: str, fingerprint: str, replayed: Callable[[dict], dict] | None
) -> Response:
    """After losing the race on the unique key (our transaction rolled back): the winner's committed answer."""
    record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
    if record is None or record.response_status is None:
        # Not the key after all (no record committed): the insert's own error, as it was.
        raise taken.__cause__ or taken
    return _replay(record, fingerprint, replayed)


def run_idempotent(
    *,
    api_key: ApiKey,
    key: str,
    fingerprint: str,
    operation: Callable[[], tuple[int, dict]],
    stored: Callable[[dict], dict] | None = None,
    replayed: Callable[[dict], dict] | None = None,
    claim_first: bool = False,
    render_first: bool = False,
) -> Response:
    """Run `operation` at most once per (api_key, key) and answer like the first time.

    A first request (the common case) costs one statement here: the
    record's insert, with the answer, in the operation's transaction.
    `stored` turns the answer into what the record keeps and `replayed`
    turns that back (a webhook endpoint's secret is kept encrypted, never in
    clear). `claim_first`: the operation has effects outside the database
    (files), so the record is inserted before it runs and a concurrent
    request with the key waits there (two statements). `render_first`: the
    operation's writes wait (`core.write_batch`, through its savepoints) while
    its answer is rendered, and go just before the record's INSERT, so the
    rows they lock (the payment's; the merchant's event sequence, which every
    create and completion of the merchant takes) are held from that statement
    to COMMIT, not through the rendering too. Only for an operation whose
    answer needs nothing the writes give back (generated ids): the refund
    create.
    """
    record = _recorded(api_key, key)
    if record is not None:
        return _replay(record, fingerprint, replayed)
    keep = stored or (lambda body: body)
    try:
        try:
            with transaction.atomic(), writes_together(through_release=True) if render_first else nullcontext():
                claim = None
                if claim_first:
                    claim = _insert(api_key=api_key, key=key, fingerprint=fingerprint, status=None, body=None)
                status, body = operation()
                if claim is None:
                    _insert(api_key=api_key, key=key, fingerprint=fingerprint, status=status, body=keep(body))
                else:
                    claim.response_status, claim.response_body = status, keep(body)
                    claim.save(update_fields=["response_status", "response_body"])
        except DomainError as error:
            # A business refusal: the operation's writes (and a claim) are rolled back; the refusal
            # alone is recorded, so a retry gets it again (unless another request's answer won the key).
            response = domain_error_response(error)
            status, body = response.status_code, response.data
            with transaction.atomic():
                _insert(api_key=api_key, key=key, fingerprint=fingerprint, status=status, body=keep(body))
    except _KeyTaken as taken:
        return _replay_winner(taken, api_key=api_key, key=key, fingerprint=fingerprint, replayed=replayed)
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
