"""The outbox relay (issue 17): queues the outboxes' tasks for the changes that committed, off the request path.

With OUTBOX_HANDOFF=relay (core.handoff) a web request or a worker writes
its outbox rows (provider calls, customer emails, webhook deliveries)
unmarked and publishes nothing. This loop publishes them:

1. wait — for a NOTIFY on `core.handoff.CHANNEL` (an outbox INSERT's
   trigger, or `relay_wake` from a retry, a replay, an endpoint enabled), or
   until the next row comes due (a retry's `available_at`, a delivery's
   `next_attempt_at`), at most OUTBOX_RELAY_POLL_SECONDS;
2. drain — every notification already received: a burst of commits costs
   one pass, not one pass each (notifications that arrive during a pass wait
   in the socket and make exactly one more). Under load, a pass follows the
   one before by OUTBOX_RELAY_MIN_PASS_SECONDS at least, and what is heard
   meanwhile joins it: at 20 refunds/s a pass per commit cost the relay
   16-22 ms of CPU per refund (benchmarks/results/stack_load-after.json);
   an idle relay still passes the moment a notification comes;
3. pass — the existing sweeps' queueing (`outbox_sweep`, `email_sweep`,
   `deliveries_queue_due`) of the outboxes the notifications named (their
   payload is the table), or of all three after a wait that no notification
   ended (a due time, the poll interval, a reconnect). Each selects what is
   due and unmarked FOR UPDATE SKIP LOCKED and marks it in one transaction,
   then publishes: two relays, or a relay and beat's sweeps, never queue one
   row twice.

LISTEN needs one server session for the relay's whole life, so it runs on
its own psycopg connection to `core.databases.session_alias()`: the `direct`
alias (DATABASE_DIRECT_URL) behind PgBouncer in transaction pooling, where a
LISTEN would be left on a server session other clients then use. The sweeps
use `default` as any task does (through the pooler is fine: one transaction each).

Losing that connection (a restart, a failover, pg_terminate_backend) turns
the relay into a poller until it listens again, reconnecting with backoff
(RECONNECT_BASE_SECONDS doubling to RECONNECT_MAX_SECONDS); then it sweeps
at once, for what committed while nobody listened. On SQLite (the demo)
there is no NOTIFY: it polls every OUTBOX_RELAY_POLL_SECONDS.

SIGTERM or SIGINT (`manage.py outbox_relay`) ends the loop after the pass
under way; a relay that dies leaves nothing behind but rows to queue, and
beat's sweeps queue them within OUTBOX_SWEEP_SECONDS, EMAIL_SWEEP_SECONDS and
WEBHOOK_SWEEP_SECONDS (docs/operations.md "Hand-off to the workers").
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from core.databases import session_alias
from core.handoff import CHANNEL, OUTBOX_TABLES
from events.delivery import deliveries_queue_due
from events.enums import DeliveryStatus
from events.models import WebhookDelivery
from notifications.models import CustomerEmail, EmailStatus
from notifications.outbox import email_sweep
from operations.metrics import (
    OUTBOX_RELAY_LAST_SUCCESS,
    OUTBOX_RELAY_PASSES_TOTAL,
    OUTBOX_RELAY_QUEUED_TOTAL,
    OUTBOX_RELAY_RECONNECTS_TOTAL,
)
from refunds.enums import OutboxStatus
from refunds.models import OutboxMessage
from refunds.services.outbox import outbox_sweep

logger = logging.getLogger("operations.relay")

SWEEP_LIMIT = 500  # rows per outbox per pass: a backlog is worked off in passes, each one short
RECONNECT_BASE_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
# A LISTEN connection that hears nothing for this long is asked a question: a silently dead one
# (a dropped network path, no RST) is found and replaced instead of leaving the relay deaf.
LISTEN_CHECK_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.25  # how soon a wait notices a stop (SIGTERM): a select() timeout, no query


@dataclass
class PassResult:
    """What one pass queued, per outbox (provider, email, webhook)."""

    queued: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.queued.values())

    @property
    def full(self) -> bool:
        """A sweep took as many rows as it may: more may be due, so the next pass follows at once."""
        return self.queued.get("provider", 0) >= SWEEP_LIMIT or self.queued.get("email", 0) >= SWEEP_LIMIT


def relay_pass(tables: Collection[str] | None = None) -> PassResult:
    """Queue what is due in the outboxes of `tables` (all three when None), each with its sweep's marked,
    SKIP LOCKED queueing."""
    result = PassResult()
    if tables is None or OutboxMessage._meta.db_table in tables:
        result.queued["provider"] = len(outbox_sweep(limit=SWEEP_LIMIT))
    if tables is None or CustomerEmail._meta.db_table in tables:
        result.queued["email"] = email_sweep(limit=SWEEP_LIMIT)
    if tables is None or WebhookDelivery._meta.db_table in tables:
        result.queued["webhook"] = deliveries_queue_due()
    for outbox, count in result.queued.items():
        if count:
            OUTBOX_RELAY_QUEUED_TOTAL.labels(outbox=outbox).inc(count)
    return result


def next_due(*, now: datetime) -> datetime | None:
    """The earliest time after `now` at which a pending row of any outbox comes due; None if none will.

    What is due already and was not queued (held by a pause, locked by a
    worker, leased) is not a reason to wake sooner: the poll interval covers it.
    """
    candidates = [
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING, available_at__gt=now)
        .order_by("available_at")
        .values_list("available_at", flat=True)
        .first(),
        CustomerEmail.objects.filter(status=EmailStatus.PENDING, available_at__gt=now)
        .order_by("available_at")
        .values_list("available_at", flat=True)
        .first(),
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__gt=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first(),
    ]
    due = [at for at in candidates if at is not None]
    return min(due) if due else None


class Listener:
    """The relay's LISTEN: one psycopg connection in autocommit, of its own, on `alias` (PostgreSQL only)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.connection: psycopg.Connection | None = None
        self.last_heard = time.monotonic()

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN session (for pg_terminate_backend in tests and by hand)."""
        return self.connection.info.backend_pid if self.connected else None

    def connect(self) -> None:
        """Open the connection and LISTEN; raises psycopg.OperationalError when the server does not answer."""
        self.close()
        params = connections[self.alias].get_connection_params()
        connection = psycopg.connect(**params, autocommit=True)
        try:
            connection.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            connection.close()
            raise
        self.connection, self.last_heard = connection, time.monotonic()

    def wait(self, timeout: float) -> list[str]:
        """The payloads (table names) received within `timeout` seconds: after the first, only those already there.

        Raises psycopg.OperationalError when the connection is lost.
        """
        if self.connection is None:
            raise psycopg.OperationalError("not listening")
        payloads = [n.payload for n in self.connection.notifies(timeout=max(timeout, 0.0), stop_after=1)]
        if payloads:
            payloads += [n.payload for n in self.connection.notifies(timeout=0.0)]
            self.last_heard = time.monotonic()
        elif time.monotonic() - self.last_heard > LISTEN_CHECK_SECONDS:
            self.connection.execute("SELECT 1")
            self.last_heard = time.monotonic()
        return payloads

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(psycopg.Error):  # lost already: nothing to close cleanly
                self.connection.close()
            self.connection = None


class OutboxRelay:
    """The loop of the module docstring; `stop` (an Event) ends it after the pass under way.

    Threads may run several in one process (tests do): each has its own
    listener connection and its own Django connections.
    """

    def __init__(
        self,
        *,
        poll_seconds: float | None = None,
        min_pass_seconds: float | None = None,
        stop: threading.Event | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        # Called once, after the first pass that followed a LISTEN (or, without one, after the first pass):
        # from then on every commit wakes this relay (a readiness probe, a test waiting to start).
        self.on_ready = on_ready
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.OUTBOX_RELAY_POLL_SECONDS
        self.min_pass_seconds = (
            min_pass_seconds if min_pass_seconds is not None else settings.OUTBOX_RELAY_MIN_PASS_SECONDS
        )
        self.last_pass_at = 0.0  # monotonic time the last pass ended
        self.full_pass_due = 0.0  # monotonic time by which the next pass sweeps all three outboxes
        self.stop = stop or threading.Event()
        self.listener: Listener | None = None
        if connections["default"].vendor == "postgresql":
            self.listener = Listener(session_alias())
        self.reconnect_wait = RECONNECT_BASE_SECONDS
        self.reconnect_at = 0.0  # monotonic time of the next attempt to listen (0: now)
        self.listened = False  # listened once already: the next connect is a reconnect
        self.listening_since = 0.0  # monotonic time of the last successful LISTEN
        self.passes = 0
        self.woken = 0  # waits ended by a notification (tests wait on it)

    def run(self) -> None:
        """Listen, then pass after every wake until `stop` is set; closes its connections on the way out."""
        logger.info(
            "outbox relay started",
            extra={"message_id": "MSG.relay.started", "poll_seconds": self.poll_seconds, "listen": bool(self.listener)},
        )
        try:
            tables: set[str] | None = None  # the first pass, and any after a reconnect, sweeps all three
            while not self.stop.is_set():
                if self._listen_if_due():
                    tables = None
                result = self.run_pass(tables)
                if (
                    result is not None
                    and self.on_ready is not None
                    and (self.listener is None or self.listener.connected)
                ):
                    self.on_ready()
                    self.on_ready = None
                if self.stop.is_set():
                    break
                if result is None or not result.full:
                    tables = self._tables_to_sweep(set(self.wait()))
        finally:
            if self.listener is not None:
                self.listener.close()
            connections.close_all()
            logger.info("outbox relay stopped", extra={"message_id": "MSG.relay.stopped", "passes": self.passes})

    def _tables_to_sweep(self, heard: set[str]) -> set[str] | None:
        """The outboxes the next pass sweeps: those the notifications named, or all three (None) when no
        notification ended the wait, one named something else, or a row came due by time or the poll
        interval ran out since the last full pass (a stream of email commits must not keep a provider
        retry whose backoff ran out waiting for beat)."""
        now = time.monotonic()
        if not heard or not heard <= set(OUTBOX_TABLES) or now >= self.full_pass_due:
            return None
        return heard

    def run_pass(self, tables: Collection[str] | None = None) -> PassResult | None:
        """One pass (of `tables`' outboxes, all when None); a database error is logged and counted (the next
        wait ends in a retry), never raised."""
        close_old_connections()  # a connection the database dropped is replaced, as between a worker's tasks
        try:
            result = relay_pass(tables)
        except DatabaseError as error:
            OUTBOX_RELAY_PASSES_TOTAL.labels(outcome="error").inc()
            logger.warning(
                "outbox relay pass failed",
                extra={"message_id": "MSG.relay.pass_failed", "error": f"{error.__class__.__name__}: {error}"[:300]},
            )
            connections["default"].close_if_unusable_or_obsolete()
            return None
        self.passes += 1
        self.last_pass_at = time.monotonic()
        if tables is None:
            self.full_pass_due = self.last_pass_at + self.poll_seconds
        OUTBOX_RELAY_PASSES_TOTAL.labels(outcome="ok").inc()
        OUTBOX_RELAY_LAST_SUCCESS.set_to_current_time()
        if result.total:
            logger.info("outbox relay queued", extra={"message_id": "MSG.relay.queued", **result.queued})
        return result

    def wait_seconds(self) -> float:
        """How long to wait for a notification: until the next row comes due, at most the poll interval."""
        timeout = self.poll_seconds
        try:
            due = next_due(now=timezone.now())
        except DatabaseError:
            return timeout
        if due is not None:
            timeout = min(timeout, max((due - timezone.now()).total_seconds(), 0.0))
            self.full_pass_due = min(self.full_pass_due, time.monotonic() + timeout)
        if self.listener is not None and not self.listener.connected and self.reconnect_at:
            # Down: wake for the next attempt to listen again too.
            timeout = min(timeout, max(self.reconnect_at - time.monotonic(), 0.0))
        return timeout

    def wait(self) -> list[str]:
        """Wait for a wake (a notification, a due time, the poll interval, a reconnect attempt); the payloads heard."""
        timeout = self.wait_seconds()
        if self.listener is None or not self.listener.connected:
            self.stop.wait(timeout)
            return []
        deadline = time.monotonic() + timeout
        payloads: list[str] = []
        # In slices, so a stop (SIGTERM) is seen within STOP_CHECK_SECONDS however long the wait.
        while not payloads and not self.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                payloads = self.listener.wait(min(remaining, STOP_CHECK_SECONDS))
            except psycopg.Error as error:
                self._lost(error)
                return []
        if payloads:
            self.woken += 1
            payloads += self._coalesce()
        return payloads

    def _coalesce(self) -> list[str]:
        """Under load, hold the next pass until OUTBOX_RELAY_MIN_PASS_SECONDS after the last one, taking in
        what is heard meanwhile: many commits, one pass. A relay idle for longer passes at once."""
        payloads: list[str] = []
        hold_until = self.last_pass_at + self.min_pass_seconds
        while not self.stop.is_set() and self.listener is not None and self.listener.connected:
            remaining = hold_until - time.monotonic()
            if remaining <= 0:
                break
            try:
                payloads += self.listener.wait(min(remaining, STOP_CHECK_SECONDS))
            except psycopg.Error as error:
                self._lost(error)
                return [*payloads, *OUTBOX_TABLES]  # what was heard is not lost: sweep everything
        return payloads

    def _lost(self, error: BaseException) -> None:
        assert self.listener is not None
        self.listener.close()
        self.reconnect_at = time.monotonic() + self.reconnect_wait
        logger.warning(
            "outbox relay lost its LISTEN connection",
            extra={
                "message_id": "MSG.relay.listen_lost",
                "error": f"{error.__class__.__name__}: {error}"[:300],
                "retry_in_s": self.reconnect_wait,
            },
        )

    def _listen_if_due(self) -> bool:
        """(Re)connect the listener when it is down and its backoff ran out; a failure doubles the backoff.
        True when it listens again now (what committed meanwhile was heard by nobody)."""
        listener = self.listener
        if listener is None or listener.connected or time.monotonic() < self.reconnect_at:
            return False
        try:
            listener.connect()
        except psycopg.Error as error:
            self._lost(error)
            self.reconnect_wait = min(self.reconnect_wait * 2, RECONNECT_MAX_SECONDS)
            return False
        if self.listened:
            # The pass that follows in `run` is the sweep for what committed while nobody listened.
            OUTBOX_RELAY_RECONNECTS_TOTAL.inc()
            logger.info(
                "outbox relay listening again",
                extra={"message_id": "MSG.relay.reconnected", "alias": listener.alias},
            )
        self.listened, self.reconnect_wait = True, RECONNECT_BASE_SECONDS
        self.listening_since = time.monotonic()
        return True
