"""The synthetic refund (issue 16): a test-mode refund taken through the whole running system.

`synthetic_refund_run` proves, every few minutes, that a refund asked for now would be decided,
paid at the provider, confirmed by its webhook, booked and audited — by doing one, for real, on
the provider's test mode. Each step waits for its real condition (rows written by the web
process, the Celery worker, the provider's webhook, the audit sealer), never for a fixed time,
up to SYNTHETIC_STEP_TIMEOUT_SECONDS:

1. payment  — a captured test payment at the provider (`Provider.create_test_payment`), and its
               order pushed for the `synthetic` merchant (`SYN-<timestamp>`, a customer per run so
               the policy's velocity rule never sees a repeat customer, no e-mail address so no
               customer e-mail is sent);
2. create   — `refund_request`, the service the API's create calls;
3. decision — the policy approved it on its own; sent to review (auto-approval paused, a rule)
               fails here with the rule, and the refund is canceled so no one has to work it;
4. provider — the outbox delivered it (the worker called the provider): a provider refund id;
5. webhook  — the provider's webhook for it arrived, verified, and was applied (or found the
               outcome already applied from the provider's answer: the same pipeline worked);
6. ledger   — REFUND_PENDING and REFUND_SETTLED posted for it, each balanced;
7. audit    — its events sealed into the hash chain, each seal matching its event and linked to
               the seal before it.

Safety: it runs only against a provider client that says it is in test mode (a Stripe
`sk_test_` key, the simulator's keys); anything else is refused before any provider call and
before anything is written but the failed run itself (`SyntheticRefused`).

One run at a time: a run holds a PostgreSQL session advisory lock from start to end
(`synthetic_run_lock`); a second one started meanwhile (beat's and an operator's, a redelivered
task, two beats during a deploy) is refused with `SyntheticBusy` before anything is written.
The lock dies with its session, so a run whose process was killed never blocks the next; that
next run closes the killed one's row as abandoned.

Each run is a `SyntheticRun` row, so every process's /metrics reports the last one
(operations.metrics). Synthetic refunds are real rows of the `synthetic` merchant, which the
journey onboards itself with `Merchant.synthetic` set (the slug is reserved for it): the SLO
histograms and executive volumes leave that merchant's refunds out (refunds.metrics.is_synthetic).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, connections
from django.db.models import Sum
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent, AuditSeal
from audit.models.chain import GENESIS_HASH
from audit.services import seal_hash
from core.actor import Actor
from core.databases import session_alias
from core.errors import DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from operations.models import SyntheticRun
from providers.base import ProviderError
from providers.registry import default_provider_name, get_provider, provider_class
from refunds.enums import OutboxStatus, Reason, RefundState, WebhookStatus
from refunds.models import Merchant, Order, OutboxMessage, Refund, WebhookEvent
from refunds.models.merchant import SYNTHETIC_MERCHANT_SLUG
from refunds.services.cancel import refund_cancel
from refunds.services.merchants import merchant_create
from refunds.services.orders import OrderInput, PaymentInput, order_upsert
from refunds.services.request import refund_request

STEPS = ("payment", "create", "decision", "provider", "webhook", "ledger", "audit")
# The audit events every completed synthetic refund must have in the chain.
_AUDITED = (
    AuditAction.REFUND_REQUESTED,
    AuditAction.REFUND_APPROVED,
    AuditAction.REFUND_SUBMITTED,
    AuditAction.REFUND_COMPLETED,
)
_POLL_SECONDS = 0.2

T = TypeVar("T")


class SyntheticRefused(Exception):
    """The provider is not in test mode (a live key, or no test mode at all): nothing was run."""


class SyntheticBusy(Exception):
    """Another synthetic run is in progress (it holds the lock): nothing was run, nothing written."""


class StepFailed(Exception):
    """A step's condition was refused, or not met within its timeout; the message says why."""


@dataclass(frozen=True)
class StepResult:
    step: str
    seconds: float
    ok: bool
    reason: str = ""

    def line(self) -> str:
        """`step  seconds  ok` or `step  seconds  FAILED reason`, as the command prints it."""
        outcome = "ok" if self.ok else f"FAILED {self.reason}"
        return f"{self.step:<9} {self.seconds:8.2f}  {outcome}"


def synthetic_provider_check(name: str | None = None) -> str:
    """The provider the run would use, or SyntheticRefused when it is not provably in test mode.

    Asks the configured client only (no request is sent): a live key must never get a test payment.
    """
    name = name or settings.SYNTHETIC_PROVIDER or default_provider_name()
    if provider_class(name).settles_by_hand:
        raise SyntheticRefused(f"provider {name} has no API, so no test mode: the synthetic refund needs one")
    if not get_provider(name).in_test_mode():
        raise SyntheticRefused(f"provider {name} is not in test mode (a live key?): refusing to make payments")
    return name


# The advisory lock of "a synthetic run is in progress" (any key unique to it; same derivation as
# refunds.services.pause_reads). Session-level: held across the run's many transactions.
_RUN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"operations:synthetic-refund").digest()[:8], "big", signed=True)


@contextmanager
def synthetic_run_lock() -> Iterator[None]:
    """Hold "the synthetic run" for the block, or raise SyntheticBusy at once if another holds it.

    pg_try_advisory_lock on this thread's session connection (`core.databases.session_alias`): never
    waits (a second run has nothing to wait for), and PostgreSQL releases it when the session ends,
    so a killed run never leaves it held. Behind PgBouncer in transaction mode that connection is
    DATABASE_DIRECT_URL's: through the pooler the lock would be taken on whichever server session ran
    that one statement (and stay there, held for whoever is handed that session next) and the unlock
    sent to another. The embedded SQLite demo has no such lock: one worker, and beat's `expires`,
    keep its runs apart.
    """
    session = connections[session_alias()]
    if session.vendor != "postgresql":
        yield
        return
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_RUN_LOCK_KEY])
        (taken,) = cursor.fetchone()
    if not taken:
        raise SyntheticBusy("another synthetic run is in progress (it holds the lock): not started")
    try:
        yield
    finally:
        try:
            with session.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_RUN_LOCK_KEY])
        except DatabaseError:
            pass  # the connection is gone, and the session's lock with it


def _close_abandoned_runs() -> None:
    """Runs left unfinished by a process that stopped (killed, restarted): failed, so they stop looking live.

    Called under the lock, on PostgreSQL: nobody else is running, so an unfinished row is nobody's.
    """
    if connection.vendor == "postgresql":
        SyntheticRun.objects.filter(ok__isnull=True).update(
            ok=False, finished_at=timezone.now(), error="abandoned: its process stopped before the run finished"
        )


def synthetic_refund_run(
    *,
    provider: str | None = None,
    step_timeout: float | None = None,
    out: Callable[[str], None] | None = None,
) -> SyntheticRun:
    """Run the seven steps once, recording the run; returns it (`ok` False names the failed step).

    Refusal (`SyntheticRefused`) is recorded as a failed run with no steps, then raised: the
    caller exits non-zero, and the metrics show the check failing rather than merely stale.
    Another run in progress: `SyntheticBusy`, nothing written (`synthetic_run_lock`).
    """
    with synthetic_run_lock():
        _close_abandoned_runs()
        return _run(provider=provider, step_timeout=step_timeout, out=out)


def _run(*, provider: str | None, step_timeout: float | None, out: Callable[[str], None] | None) -> SyntheticRun:
    timeout = float(step_timeout if step_timeout is not None else settings.SYNTHETIC_STEP_TIMEOUT_SECONDS)
    out = out or (lambda line: None)
    try:
        name = synthetic_provider_check(provider)
    except SyntheticRefused as refusal:
        SyntheticRun.objects.create(
            provider=provider or settings.SYNTHETIC_PROVIDER or settings.PROVIDER,
            ok=False,
            finished_at=timezone.now(),
            error=f"refused: {refusal}"[:500],
        )
        raise
    run = SyntheticRun.objects.create(provider=name)
    journey = _Journey(run=run, provider=name, timeout=timeout)
    results: list[StepResult] = []
    for step in STEPS:
        started = time.monotonic()
        try:
            getattr(journey, step)()
        except Exception as exc:  # noqa: BLE001 - any failure is the run's result, recorded and printed
            reason = str(exc) if isinstance(exc, StepFailed) else f"{exc.__class__.__name__}: {exc}"
            results.append(StepResult(step, time.monotonic() - started, False, reason[:400]))
            out(results[-1].line())
            break
        results.append(StepResult(step, time.monotonic() - started, True))
        out(results[-1].line())
    failed = next((r for r in results if not r.ok), None)
    run.ok = failed is None
    run.finished_at = timezone.now()
    run.refund_public_id = journey.refund.public_id if journey.refund is not None else ""
    run.steps = [{"step": r.step, "seconds": round(r.seconds, 3), "ok": r.ok} for r in results]
    run.error = f"{failed.step}: {failed.reason}"[:500] if failed else ""
    run.save(update_fields=["ok", "finished_at", "refund_public_id", "steps", "error"])
    return run


def synthetic_merchant() -> Merchant:
    """The synthetic merchant (`Merchant.synthetic`), onboarded (audited) on first use.

    Never a merchant it did not onboard itself: one called `synthetic` without the flag (a real
    tenant onboarded before the slug was reserved) would get test orders, refunds and webhooks, and
    its refunds would leave the SLO measures. StepFailed then, before any provider call.
    """
    merchant = Merchant.objects.filter(synthetic=True).first()
    if merchant is not None:
        return merchant
    try:
        return merchant_create(
            slug=SYNTHETIC_MERCHANT_SLUG,
            name="Synthetic checks",
            actor=Actor.system("synthetic_refund"),
            synthetic=True,
        )
    except (DomainError, IntegrityError):
        merchant = Merchant.objects.filter(synthetic=True).first()  # another run onboarded it meanwhile
        if merchant is not None:
            return merchant
        raise StepFailed(
            f"a merchant '{SYNTHETIC_MERCHANT_SLUG}' exists that the synthetic check did not onboard (a real "
            "tenant?): refusing to put test orders into it; rename that merchant's slug"
        ) from None


def _wait(condition: Callable[[], T], *, timeout: float, waiting_for: Callable[[], str]) -> T:
    """`condition()`'s first truthy value, polled; StepFailed naming what was missing at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(f"timed out after {timeout:g}s: {waiting_for()}")
        time.sleep(_POLL_SECONDS)


class _Journey:
    """The steps' shared state: one method per step, each raising StepFailed on a refusal."""

    def __init__(self, *, run: SyntheticRun, provider: str, timeout: float) -> None:
        self.run, self.provider_name, self.timeout = run, provider, timeout
        self.order: Order | None = None
        self.refund: Refund | None = None

    def _current(self) -> Refund:
        assert self.refund is not None
        return Refund.objects.get(pk=self.refund.pk)

    def payment(self) -> None:
        merchant = synthetic_merchant()
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        order_id = f"SYN-{stamp}-{self.run.pk}"
        amount, currency = settings.SYNTHETIC_AMOUNT_MINOR, settings.SYNTHETIC_CURRENCY
        try:
            payment_id = get_provider(self.provider_name).create_test_payment(
                amount_minor=amount, currency=currency, idempotency_key=f"synthetic-payment-{order_id}"
            )
        except ProviderError as exc:
            raise StepFailed(f"provider {self.provider_name} did not take the test payment: {exc}") from exc
        self.order, _ = order_upsert(
            data=OrderInput(
                order_id=order_id,
                currency=currency,
                customer_id=order_id,  # a customer per run: the velocity rule counts refunds per customer
                customer_name="Synthetic check",
                payment=PaymentInput(
                    provider_payment_id=payment_id,
                    rail="card",
                    amount_minor=amount,
                    status="captured",
                    captured_at=timezone.now(),
                    provider=self.provider_name,
                ),
            ),
            merchant=merchant,
            actor=Actor.system("synthetic_refund"),
        )

    def create(self) -> None:
        assert self.order is not None
        try:
            self.refund = refund_request(
                order=self.order,
                amount_minor=settings.SYNTHETIC_AMOUNT_MINOR,
                currency=settings.SYNTHETIC_CURRENCY,
                reason=Reason.NOT_RECEIVED,
                actor=Actor.system("synthetic_refund"),
                customer_note="Synthetic check (operations.synthetic)",
            )
        except DomainError as exc:
            raise StepFailed(f"refused: {exc}") from exc

    def decision(self) -> None:
        refund = self._current()
        if refund.state == RefundState.APPROVED or refund.state in _PAST_APPROVAL:
            return
        rule = f"{refund.policy_rule}: {refund.policy_rule_text}" if refund.policy_rule else refund.policy_outcome
        if refund.state == RefundState.REQUESTED:
            # Nobody should have to work a synthetic refund: take it out of the review queue.
            refund_cancel(refund_id=refund.pk, actor=Actor.system("synthetic_refund"), note="synthetic check")
            raise StepFailed(f"not auto-approved, sent to review ({rule})")
        raise StepFailed(f"not auto-approved: {refund.state} ({rule})")

    def provider(self) -> None:
        def submitted() -> Refund | None:
            refund = self._current()
            if refund.state in (RefundState.FAILED, RefundState.CANCELED, RefundState.DENIED):
                raise StepFailed(f"refund {refund.state} at the provider: {refund.failure_code or 'no code'}")
            ready = refund.provider_refund_id and refund.state in (RefundState.PROVIDER_PENDING, RefundState.COMPLETED)
            return refund if ready else None

        _wait(submitted, timeout=self.timeout, waiting_for=self._outbox_state)

    def _outbox_state(self) -> str:
        refund = self._current()
        message = OutboxMessage.objects.filter(refund=refund).order_by("-id").first()
        if message is None:
            return f"refund {refund.state}, no outbox message"
        error = f", last error: {message.last_error[:150]}" if message.last_error else ""
        held = " (is submission paused, or no worker running?)" if message.status == OutboxStatus.PENDING else ""
        return f"refund {refund.state}, outbox {message.status} after {message.attempts} attempt(s){error}{held}"

    def webhook(self) -> None:
        def applied() -> bool:
            events = WebhookEvent.objects.filter(refund=self.refund)
            held = events.filter(status=WebhookStatus.HELD).first()
            if held is not None:
                raise StepFailed(f"webhook {held.event_id} held for finance: {held.note}")
            # Ignored = it found its outcome already applied from the provider's answer: verified and matched.
            return events.filter(status__in=[WebhookStatus.PROCESSED, WebhookStatus.IGNORED]).exists()

        _wait(applied, timeout=self.timeout, waiting_for=lambda: "no webhook applied to the refund yet")

    def ledger(self) -> None:
        wanted = {EntryType.REFUND_PENDING, EntryType.REFUND_SETTLED}

        def posted() -> list[JournalEntry]:
            entries = list(JournalEntry.objects.filter(refund=self.refund, entry_type__in=wanted))
            return entries if {e.entry_type for e in entries} == wanted else []

        def missing() -> str:
            return f"entries {sorted(wanted)} (refund {self._current().state})"

        entries = _wait(posted, timeout=self.timeout, waiting_for=missing)
        refund = self._current()
        for entry in entries:
            total = entry.postings.aggregate(total=Sum("amount_minor"))["total"]
            if total != 0:
                raise StepFailed(f"{entry.entry_type} does not balance: postings sum to {total}")
            if entry.amount_minor != refund.amount_minor or entry.currency != refund.currency:
                raise StepFailed(f"{entry.entry_type} is {entry.amount_minor} {entry.currency}, not the refund's")

    def audit(self) -> None:
        def sealed() -> list[AuditEvent]:
            events = list(AuditEvent.objects.filter(refund=self.refund).select_related("seal").order_by("id"))
            actions = {e.action for e in events}
            if not set(_AUDITED) <= actions or any(not hasattr(e, "seal") for e in events):
                return []
            return events

        def missing() -> str:
            events = AuditEvent.objects.filter(refund=self.refund)
            absent = sorted(set(_AUDITED) - set(events.values_list("action", flat=True)))
            unsealed = events.filter(seal__isnull=True).count()
            return f"absent {absent or 'none'}, {unsealed} not sealed yet (is beat running the sealer?)"

        for event in _wait(sealed, timeout=self.timeout, waiting_for=missing):
            problem = _seal_problem(event.seal)
            if problem:
                raise StepFailed(f"audit event {event.pk}: {problem}")


# States a refund reaches only after it was approved (a fast worker may already be there).
_PAST_APPROVAL = frozenset({RefundState.SUBMITTING, RefundState.PROVIDER_PENDING, RefundState.COMPLETED})


def _seal_problem(seal: AuditSeal) -> str:
    """Why this link of the chain does not verify ("" when it does): its hash, and its link to the one before.

    The whole chain is `audit_verify`'s (manage.py verify_audit_chain); here only the refund's own
    links, so the check costs the same however long the chain has grown.
    """
    if seal_hash(seal.event, seq=seal.seq, prev_hash=seal.prev_hash) != seal.hash:
        return f"seq {seal.seq} does not match its event (edited?)"
    previous: Any = GENESIS_HASH
    if seal.seq > 1:
        previous = AuditSeal.objects.filter(seq=seal.seq - 1).values_list("hash", flat=True).first()
    if previous != seal.prev_hash:
        return f"seq {seal.seq} does not link to seq {seal.seq - 1}"
    return ""
