"""A week of refund work for the digest tests, built through the real services at chosen moments.

The services read the time from `django.utils.timezone.now`; `clock(moment)`
sets it for what runs inside, so a refund is requested, edited and decided at
the minutes a test names (audit events included, which can never be changed
afterwards). The week is 2026-W45: Monday 2 November 2026 00:00 UTC to
Monday 9 November 00:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from unittest import mock

from core.actor import Actor
from integrations.digest import IsoWeek
from refunds.enums import Reason, RefundState, Role
from refunds.models import Refund
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.refunds.factories import UserFactory, captured_order, make_refund, move_refund, requester

WEEK = IsoWeek(2026, 45)
PHOTO = "We need a photo of the damaged item."
ONCE = "Goodwill is only offered once per customer."
ONCE_RATIONALE = "Second goodwill request this quarter."
REWORDED = "Thank you for your request about order {order}. Without a photo we cannot approve it."


def day(days: int, hours: int = 0, minutes: int = 0, seconds: int = 0) -> datetime:
    """A moment counted from the week's Monday 00:00 UTC (negative days: the week before)."""
    return WEEK.start + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# When the digest is built: the Wednesday after the week, at noon.
NOW = day(9, 12)


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def requested(moment: datetime, *, reason: str, amount: int, currency: str = "USD") -> Refund:
    with clock(moment):
        order = captured_order(amount_minor=amount * 2, currency=currency)
        return make_refund(order=order, amount_minor=amount, reason=reason, actor=requester())


def edit(refund: Refund, moment: datetime, actor: Actor, **changes) -> None:
    with clock(moment):
        refund_edit(refund_id=refund.pk, actor=actor, **changes)


def approve(refund: Refund, moment: datetime, actor: Actor) -> None:
    with clock(moment):
        refund_approve(refund_id=refund.pk, actor=actor)


def deny(refund: Refund, moment: datetime, actor: Actor, note: str, rationale: str = "") -> None:
    with clock(moment):
        refund_deny(refund_id=refund.pk, actor=actor, note=note, rationale=rationale)


def move(refund: Refund, moment: datetime, *states: str) -> None:
    with clock(moment):
        for state in states:
            move_refund(refund, state)


@dataclass
class Week:
    alex: Actor  # an agent
    sally: Actor  # a senior agent
    refunds: dict[str, Refund] = field(default_factory=dict)


def build_week() -> Week:
    """The week the digest tests read; what each section must then show is in test_digest.py."""
    week = Week(
        alex=Actor.for_user(UserFactory(username="alex", first_name="Alex", last_name="Agent", role=Role.AGENT)),
        sally=Actor.for_user(
            UserFactory(username="sally", first_name="Sally", last_name="Senior", role=Role.SENIOR_AGENT)
        ),
    )
    alex, sally, r = week.alex, week.sally, week.refunds
    # An override: the policy recommended approving this goodwill refund; Alex declined it (60 min).
    r["override_declined"] = requested(day(1, 9), reason=Reason.GOODWILL, amount=15000)
    deny(r["override_declined"], day(1, 10), alex, ONCE, ONCE_RATIONALE)
    # Goodwill drafts lowered from 100 to 60 USD, then approved (30 min each).
    for n in range(3):
        refund = r[f"lowered_{n}"] = requested(day(2, 9 + n), reason=Reason.GOODWILL, amount=10000)
        edit(refund, day(2, 9 + n, 10), alex, amount_minor=6000)
        approve(refund, day(2, 9 + n, 30), alex)
    # One goodwill draft approved as drafted (120 min).
    r["goodwill_as_drafted"] = requested(day(3, 9), reason=Reason.GOODWILL, amount=10000)
    approve(r["goodwill_as_drafted"], day(3, 11), sally)
    # Quality refunds without evidence (the policy recommends declining): one reworded then declined
    # (180 min), one declined as drafted (300 min), with the same reason.
    r["photo_reworded"] = requested(day(4, 8), reason=Reason.QUALITY, amount=8000)
    edit(r["photo_reworded"], day(4, 9), alex, reply=REWORDED)
    deny(r["photo_reworded"], day(4, 11), alex, PHOTO)
    r["photo"] = requested(day(4, 9), reason=Reason.QUALITY, amount=8000)
    deny(r["photo"], day(4, 14), alex, PHOTO)
    # An override the other way: the policy recommended declining; Sally approved it (45 min).
    r["override_approved"] = requested(day(5, 12), reason=Reason.QUALITY, amount=4000)
    approve(r["override_approved"], day(5, 12, 45), sally)
    # Auto-approved by the policy: Monday 08:00, Tuesday (EUR), and Sunday 23:59:59 — the week's last second.
    r["auto_monday"] = requested(day(0, 8), reason=Reason.NOT_RECEIVED, amount=2000)
    r["auto_eur"] = requested(day(1, 8), reason=Reason.NOT_RECEIVED, amount=1000, currency="EUR")
    r["auto_last_second"] = requested(day(6, 23, 59, 59), reason=Reason.NOT_RECEIVED, amount=2000)
    # Outside the week: the Sunday before (23:59:59) and the Monday after (00:00:00).
    r["auto_week_before"] = requested(day(-1, 23, 59, 59), reason=Reason.NOT_RECEIVED, amount=2000)
    r["auto_week_after"] = requested(day(7), reason=Reason.NOT_RECEIVED, amount=2000)
    # Later outcomes: one completed and one failed in the week, one completed only on the Monday after.
    move(r["auto_monday"], day(0, 10), RefundState.SUBMITTING, RefundState.COMPLETED)
    move(r["auto_eur"], day(1, 10), RefundState.SUBMITTING, RefundState.FAILED)
    move(r["auto_week_before"], day(7), RefundState.SUBMITTING, RefundState.COMPLETED)
    # Canceled while waiting (never decided).
    r["canceled"] = requested(day(3, 15), reason=Reason.GOODWILL, amount=10000)
    with clock(day(3, 16)):
        refund_cancel(refund_id=r["canceled"].pk, actor=alex, note="Customer withdrew the request")
    # Waiting at NOW: one for 27 hours (past the 24 h SLA), one for an hour.
    r["overdue"] = requested(day(8, 9), reason=Reason.GOODWILL, amount=5000)
    r["recent"] = requested(day(9, 11), reason=Reason.GOODWILL, amount=5000)
    for key, refund in r.items():
        r[key] = Refund.objects.get(pk=refund.pk)
    return week
