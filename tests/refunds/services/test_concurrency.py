"""Races between services, with real threads on their own PostgreSQL connections.

Each test starts its callers at one barrier so they really overlap; the row
locks, unique keys and FSM checks of the services are what must keep the
outcome single and consistent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.db.models import Sum
from django.utils import timezone

from audit.models import AuditEvent, AuditSeal
from audit.services import audit_record, audit_seal_pending, audit_verify
from core.actor import Actor
from core.errors import DomainError
from ledger.enums import EntryType
from ledger.models import JournalEntry
from ledger.services import trial_balance
from providers.registry import get_provider
from refunds.enums import ACTIVE_STATES, DecisionKind, OutboxStatus, Reason, RefundState, Role
from refunds.models import Decision, OutboxMessage, Payment, Refund
from refunds.services import outbox
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_approve
from refunds.services.outbox import outbox_deliver
from tests.refunds.factories import agent, captured_order, make_refund, requester

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; return each result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - refusals and crashes are results the test inspects
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing call never finished (deadlock?)"
    return results


def reserved_matches_active_refunds(payment: Payment) -> bool:
    payment.refresh_from_db()
    active = Refund.objects.filter(payment=payment, state__in=ACTIVE_STATES).aggregate(total=Sum("amount_minor"))
    return payment.refund_reserved_minor == (active["total"] or 0)


def test_two_seniors_approving_at_once_approve_exactly_once():
    refund = make_refund(order=captured_order(amount_minor=100000), amount_minor=25000, reason=Reason.GOODWILL)
    assert refund.approvals_required == 2
    seniors = [agent(f"senior{n}", Role.SENIOR_AGENT) for n in range(2)]

    results = race(*[lambda s=s: refund_approve(refund_id=refund.pk, actor=s) for s in seniors for _ in range(3)])

    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED
    assert Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).count() == 2
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_PENDING).count() == 1
    assert OutboxMessage.objects.filter(refund=refund).count() == 1
    # A senior's repeated clicks are refused as "already approved" or absorbed as an idempotent retry.
    assert all(isinstance(r, Refund | DomainError) for r in results)
    audit_seal_pending()
    assert list(audit_verify()) == []


def test_one_senior_racing_themself_counts_once():
    refund = make_refund(order=captured_order(amount_minor=100000), amount_minor=25000, reason=Reason.GOODWILL)
    senior = agent("senior", Role.SENIOR_AGENT)

    race(*[lambda: refund_approve(refund_id=refund.pk, actor=senior) for _ in range(6)])

    refund.refresh_from_db()
    assert refund.state == RefundState.REQUESTED
    assert Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).count() == 1
    assert not JournalEntry.objects.filter(refund=refund).exists()


def test_cancel_racing_an_approval_leaves_one_consistent_outcome():
    order = captured_order(amount_minor=100000)
    refund = make_refund(order=order, amount_minor=60000, reason=Reason.NOT_RECEIVED)  # over the ceiling: review
    assert (refund.state, refund.approvals_required) == (RefundState.REQUESTED, 1)
    approver, canceler = agent("approver"), agent("canceler")

    race(
        lambda: refund_approve(refund_id=refund.pk, actor=approver),
        lambda: refund_cancel(refund_id=refund.pk, actor=canceler, note="customer withdrew"),
    )

    refund.refresh_from_db()
    assert refund.state in {RefundState.APPROVED, RefundState.CANCELED}
    entries = set(JournalEntry.objects.filter(refund=refund).values_list("entry_type", flat=True))
    pending = OutboxMessage.objects.filter(refund=refund, status=OutboxStatus.PENDING).count()
    if refund.state == RefundState.APPROVED:
        assert (entries, pending) == ({EntryType.REFUND_PENDING}, 1)
    elif entries:  # approved first, then canceled: the approval is undone in full
        assert (entries, pending) == ({EntryType.REFUND_PENDING, EntryType.REFUND_REVERSED}, 0)
    assert reserved_matches_active_refunds(refund.payment)
    assert trial_balance() in ({}, {"USD": 0})


def test_concurrent_deliveries_of_one_message_call_the_provider_once(provider_settings, monkeypatch):
    order = captured_order(amount_minor=10000, provider_payment_id=f"pi_sim_ok_race_{timezone.now().timestamp()}")
    refund = make_refund(order=order, amount_minor=4000)
    message = OutboxMessage.objects.get(refund=refund)
    calls: list[str] = []
    real = get_provider

    class Counting:
        def __init__(self, name: str) -> None:
            self.name = name

        def execute_refund(self, **kwargs):
            calls.append(kwargs["idempotency_key"])
            return real(self.name).execute_refund(**kwargs)

    monkeypatch.setattr(outbox, "get_provider", Counting)

    outcomes = race(*[lambda: outbox_deliver(message_id=message.pk) for _ in range(6)])

    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
    assert len(calls) == 1
    assert sorted(o for o in outcomes if o != "skipped") == ["succeeded"]
    assert JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_SETTLED).count() == 1
    assert reserved_matches_active_refunds(refund.payment)


def test_concurrent_creates_on_one_payment_never_over_refund():
    order, actor = captured_order(amount_minor=10000), requester()

    results = race(*[lambda: make_refund(order=order, amount_minor=3000, actor=actor) for _ in range(12)])

    accepted = [r for r in results if isinstance(r, Refund)]
    assert len(accepted) == 3
    assert {type(r) for r in results} == {Refund, DomainError}
    payment = Payment.objects.get(order=order)
    assert payment.remaining_refundable_minor == 1000
    assert reserved_matches_active_refunds(payment)
    assert trial_balance() == {"USD": 0}


def test_concurrent_creates_for_one_customer_auto_approve_no_more_than_the_velocity_allows():
    """A create counts the customer's refunds once it holds the payment's lock: those committed meanwhile count.

    The default policy reviews a customer's sixth refund in 24 hours; twelve
    creates at once on one payment are serialised by its lock, so exactly
    five are approved on their own, whatever order they run in.
    """
    order, actor = captured_order(amount_minor=100000), requester()

    results = race(*[lambda: make_refund(order=order, amount_minor=1000, actor=actor) for _ in range(12)])

    assert all(isinstance(r, Refund) for r in results), results
    outcomes = sorted((r.policy_outcome, r.policy_rule) for r in results)
    assert outcomes == [("auto_approve", "R-AUTO-OTHER")] * 5 + [("review", "R-VELOCITY-24H")] * 7


def test_writers_and_sealers_running_at_once_build_one_unbroken_chain():
    def write(n: int) -> None:
        for i in range(20):
            audit_record(actor=Actor.system(f"writer{n}"), action="test.race", subject=f"{n}-{i}")

    def seal() -> int:
        return sum(audit_seal_pending(batch_size=7) for _ in range(10))

    race(*[lambda n=n: write(n) for n in range(4)], seal, seal)
    audit_seal_pending()

    # Besides the 80 written here, the trail may hold the role groups' creation (reference data
    # restored after the previous transactional test is audited too: audit.access).
    assert AuditEvent.objects.filter(action="test.race").count() == 80
    total = AuditEvent.objects.count()
    assert AuditSeal.objects.count() == total
    assert list(AuditSeal.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, total + 1))
    assert list(audit_verify()) == []


def test_two_copies_of_one_console_form_create_one_refund():
    order, actor = captured_order(amount_minor=10000), agent("agent")

    results = race(*[lambda: make_refund(order=order, amount_minor=1000, actor=actor, request_token="f" * 32)] * 4)

    assert Refund.objects.filter(order=order).count() == 1
    assert sum(isinstance(r, Refund) for r in results) == 1
    assert all(isinstance(r, Refund | IntegrityError) for r in results)
    assert reserved_matches_active_refunds(Payment.objects.get(order=order))


def test_two_risk_users_approving_one_policy_draft_at_once_decide_it_once():
    from refunds.enums import PolicyStatus
    from refunds.models import RefundPolicy
    from refunds.services.policy import policy_get_active
    from refunds.services.policy_admin import policy_draft_approve, policy_draft_create, policy_draft_reject
    from tests.refunds.factories import UserFactory

    author, first, second, third = (UserFactory(username=f"risk{n}", role=Role.RISK) for n in range(4))
    draft = policy_draft_create(policy=policy_get_active(), user=author)

    results = race(
        lambda: policy_draft_approve(policy_id=draft.pk, user=first),
        lambda: policy_draft_approve(policy_id=draft.pk, user=second),
        lambda: policy_draft_reject(policy_id=draft.pk, user=third, note="No"),
    )

    winners = [r for r in results if isinstance(r, RefundPolicy)]
    assert len(winners) == 1, results
    losers = [r for r in results if not isinstance(r, RefundPolicy)]
    assert all(isinstance(r, DomainError) and r.code == "ERR.CONFLICT.state" for r in losers), losers
    draft.refresh_from_db()
    assert draft.status == winners[0].status != PolicyStatus.DRAFT
    assert AuditEvent.objects.filter(action__in=["policy.approved", "policy.rejected"]).count() == 1
