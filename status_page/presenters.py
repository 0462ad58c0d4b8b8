"""Reads for the customer status page (`/r/<token>/`): the token lookup and what the page shows.

Everything here is rendered for a customer, so it carries no personal data
beyond the masked email, and every text comes from `notifications.messages`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from babel.numbers import format_decimal
from django.db.models import OuterRef, Subquery

from core.databases import read_or_primary
from core.i18n import babel_locale, format_amount, format_when
from notifications.messages import (
    EVENT_LABELS,
    RAIL_LABELS,
    STEP_LABELS,
    STEP_STATUS_TEXT,
    CustomerMessage,
    message_get,
    message_id_for_state,
    rail_duration_text,
)
from notifications.replies import reply_render
from notifications.store_credit import StoreCreditFacts, store_credit_facts
from refunds.enums import RefundInstrument, RefundState
from refunds.models import OrderLine, Refund, RefundLine
from refunds.models.customer import mask_email
from refunds.models.refund import token_digest
from refunds.services.proration import proration_text

S = RefundState

# `secrets.token_urlsafe(32)` gives 43 characters of this alphabet; anything
# else cannot be a token, so it is refused without touching the database.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")
# Compared against when no row matches, so a miss does the same work as a hit.
_ABSENT_DIGEST = token_digest("no refund has this token")
MAX_ITEMS_SHOWN = 5
# Refunds in these states no longer change: the page stops polling.
FINAL_STATES = frozenset({S.COMPLETED, S.DENIED, S.CANCELED})


def refund_by_status_token(token: str) -> Refund | None:
    """The refund whose status token is `token`, or None — the caller cannot tell why.

    The lookup goes through the SHA-256 digest of the token (unique index), never
    the plaintext column: the database compares digests, whose prefixes an
    attacker cannot steer, so index timing leaks nothing about real tokens.
    The digest found is then compared in constant time (`hmac.compare_digest`).
    One query: the refund with its order, customer and payment, on the read replica when there is
    one; a token the replica does not know yet (its refund created a moment ago, the link just
    emailed) is looked up again on the primary, so a new link is never "not found".
    """
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    digest = token_digest(token)

    def fetch(alias: str) -> Refund | None:
        refunds = Refund.objects.using(alias).select_related("order__customer", "payment")
        return refunds.filter(status_token_digest=digest).first()

    refund = read_or_primary(fetch)
    stored = refund.status_token_digest if refund is not None else _ABSENT_DIGEST
    if not hmac.compare_digest(stored, digest) or refund is None:
        return None
    return refund


# --- the page's content -------------------------------------------------------------
@dataclass(frozen=True)
class StepEvent:
    label: str
    iso: str
    text: str


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    status: str  # done | current | upcoming
    tone: str = "ok"  # ok | warning | problem
    current: bool = False
    events: tuple[StepEvent, ...] = ()

    @property
    def status_text(self) -> str:
        # A delayed step (warning) is still running, so it is "current step", not "stopped".
        if self.tone == "problem":
            return str(STEP_STATUS_TEXT["problem"])
        return str(STEP_STATUS_TEXT[self.status])

    @property
    def css(self) -> str:
        return f"step--{self.status} step--{self.tone}"


@dataclass(frozen=True)
class StatusView:
    reference: str
    language: str
    message: CustomerMessage
    tone: str  # ok | success | warning | problem: the card's colour, never its only signal
    steps: tuple[Step, ...]
    amount_text: str
    order_id: str
    items: tuple[str, ...]
    more_items: int
    rail_label: str
    duration_text: str
    decline_reason: str
    masked_email: str
    poll: bool
    version: str
    # Paid as store credit (issue 15): the code, amount, balance and expiry; None otherwise.
    store_credit: StoreCreditFacts | None = None
    # A refund for time not used: its arithmetic in one line ("" otherwise).
    proration_text: str = ""


def _steps(refund: Refund, when) -> tuple[Step, ...]:
    """requested → processing → refunded, or the step where it stopped (declined, canceled, failed)."""
    state = refund.state

    def events(*pairs: tuple[str, datetime | None]) -> tuple[StepEvent, ...]:
        return tuple(
            StepEvent(str(EVENT_LABELS[key]) if key else "", moment.isoformat(), when(moment))
            for key, moment in pairs
            if moment is not None
        )

    def step(key: str, status: str, *pairs, tone: str = "ok", current: bool = False) -> Step:
        return Step(key, str(STEP_LABELS[key]), status, tone, current or status == "current", events(*pairs))

    processing_events = (("approved", refund.decided_at), ("sent", refund.submitted_at))
    # A void ends with its hold released, not with money refunded (issue 15).
    done = "released" if refund.instrument == RefundInstrument.VOID else "refunded"
    if state == S.REQUESTED:
        return (
            step("requested", "current", ("", refund.created_at)),
            step("processing", "upcoming"),
            step(done, "upcoming"),
        )
    requested = step("requested", "done", ("", refund.created_at))
    if state in (S.APPROVED, S.SUBMITTING, S.PROVIDER_PENDING):
        return requested, step("processing", "current", *processing_events), step(done, "upcoming")
    if state == S.COMPLETED:
        return (
            requested,
            step("processing", "done", *processing_events),
            step(done, "done", ("", refund.completed_at), current=True),
        )
    if state == S.DENIED:
        return requested, step("declined", "current", ("", refund.decided_at), tone="problem")
    if state == S.CANCELED:
        canceled = step("canceled", "current", ("", refund.updated_at), tone="problem")
        if refund.decided_at is None:
            return requested, canceled
        return requested, step("processing", "done", *processing_events), canceled
    if refund.failure_retryable:
        # Only delayed: the provider step runs again by itself, so the processing step is
        # still the current one (marked delayed) and "refunded" is still ahead.
        delayed = step("delayed", "current", *processing_events, ("retrying", refund.updated_at), tone="warning")
        return requested, delayed, step(done, "upcoming")
    if refund.reversed_by_provider:
        # It was refunded (the customer was told so), then their bank sent it back: both stay visible.
        return (
            requested,
            step("processing", "done", *processing_events),
            step("refunded", "done", ("", refund.completed_at)),
            step("returned", "current", ("", refund.updated_at), tone="problem"),
        )
    failed = step("failed", "current", ("", refund.updated_at), tone="problem")
    return requested, step("processing", "done", *processing_events), failed


def _version(message_id: str, refund: Refund, steps: tuple[Step, ...]) -> str:
    """Changes exactly when what the page shows changes; the poll sends it back to get a 204."""
    shown = [message_id, refund.amount_minor, refund.decline_reason, [e.iso for s in steps for e in s.events]]
    return f"{message_id}~{hashlib.blake2s(repr(shown).encode(), digest_size=6).hexdigest()}"


def status_view(refund: Refund, *, language: str) -> StatusView:
    """Everything the page shows for `refund`, rendered in the active language.

    Call it inside `translation.override(language)`: durations are plural forms
    resolved here. One query (the order lines, as plain tuples: this page is hot).
    """
    customer = refund.order.customer
    locale = babel_locale(language, customer.locale or "")
    state = refund.state
    message = message_get(
        message_id_for_state(
            state,
            failure_retryable=refund.failure_retryable,
            reversed_by_provider=refund.reversed_by_provider,
            instrument=refund.instrument,
        )
    )
    credit = store_credit_facts(refund, locale) if state == S.COMPLETED else None
    steps = _steps(refund, lambda moment: format_when(moment, locale))
    # A refund by line shows the units it takes back; any other, the order's items. Still one query.
    # Read where the refund was read (the replica, or the primary when the replica lacked it).
    refunded = RefundLine.objects.filter(refund_id=refund.pk, order_line_id=OuterRef("pk")).values("quantity")[:1]
    rows = list(
        OrderLine.objects.using(refund._state.db)
        .filter(order_id=refund.order_id)
        .annotate(refunded=Subquery(refunded))
        .order_by("line_no")
        .values_list("description", "sku", "quantity", "refunded")
    )
    if any(row[3] for row in rows):
        rows = [(description, sku, taken, taken) for description, sku, _quantity, taken in rows if taken]
    lines = [(description or sku, quantity) for description, sku, quantity, _taken in rows if description or sku]
    items = tuple(
        f"{format_decimal(quantity, locale=locale)} × {name}" if quantity > 1 else name
        for name, quantity in lines[:MAX_ITEMS_SHOWN]
    )
    # A retryable failure is only a delay: the money still comes, in the rail's usual time.
    # A void moves no money: its hold's release takes the bank's time, which no rail timing describes;
    # store credit travels nowhere.
    money_moving = (state not in (S.DENIED, S.CANCELED, S.FAILED) or bool(refund.failure_retryable)) and (
        refund.instrument not in (RefundInstrument.VOID, RefundInstrument.STORE_CREDIT)
    )
    rail = refund.payment.rail
    return StatusView(
        reference=refund.public_id,
        language=language,
        message=message,
        tone="success" if state == S.COMPLETED else next((s.tone for s in steps if s.current), "ok"),
        steps=steps,
        amount_text=format_amount(refund.amount_minor, refund.currency, locale),
        order_id=refund.order.order_id,
        items=items,
        more_items=max(len(lines) - MAX_ITEMS_SHOWN, 0),
        rail_label=str(RAIL_LABELS.get(rail, rail)),
        duration_text=(
            rail_duration_text(rail, number_format=lambda n: format_decimal(n, locale=locale)) if money_moving else ""
        ),
        # The decline message is a reply template (issue 12); the decline's internal rationale is never read here.
        decline_reason=reply_render(refund.decline_reason, refund=refund, language=language)
        if state == S.DENIED
        else "",
        # The address the refund was requested under: a later change is not confirmed to the link's holder.
        masked_email=mask_email(refund.customer_email),
        poll=state not in FINAL_STATES and not (state == S.FAILED and not refund.failure_retryable),
        version=_version(message.id, refund, steps),
        store_credit=credit,
        proration_text=proration_text(refund.proration, locale=locale) if refund.proration else "",
    )
