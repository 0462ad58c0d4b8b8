"""Resolving several exceptions of a run at once: each through the single resolve, audited, with its own result."""

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_ROLE, ERR_VALIDATION, DomainError
from reconciliation.enums import ItemKind, ResolutionKind, RunSource
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_item_resolve, reconciliation_items_resolve, reconciliation_run
from tests.reconciliation.factories import provider_report, provider_row, refund_settled, today
from tests.reconciliation.finance_factories import finance
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(system_actor):
    matched, off = refund_settled(), refund_settled()
    rows = [
        provider_row(matched),
        provider_row(off, amount=off.amount_minor + 1),
        provider_row(None),
        provider_row(None),
    ]
    return reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=system_actor
    )


def test_selected_exceptions_are_resolved_one_by_one_with_one_note_and_kind(run):
    exceptions = list(run.items.exclude(kind=ItemKind.MATCHED).order_by("id"))
    assert len(exceptions) == 3
    alice = finance("alice")

    results = reconciliation_items_resolve(
        run_id=run.pk,
        item_ids=[item.pk for item in exceptions],
        note="Test refunds of the provider sandbox",
        kind=ResolutionKind.WRITTEN_OFF,
        actor=alice,
    )

    assert [(r.item_id, r.resolved) for r in results] == [(item.pk, True) for item in exceptions]
    stored = ReconciliationItem.objects.filter(pk__in=[item.pk for item in exceptions])
    assert set(stored.values_list("resolved", "resolution_kind", "resolved_by")) == {
        (True, ResolutionKind.WRITTEN_OFF, alice.user.pk)
    }
    # Audited per exception, as a single resolve is.
    events = AuditEvent.objects.filter(action=AuditAction.RECONCILIATION_ITEM_RESOLVED)
    assert events.count() == 3
    assert {event.after["resolution_kind"] for event in events} == {ResolutionKind.WRITTEN_OFF}


def test_refused_rows_say_why_and_do_not_stop_the_others(run, system_actor):
    matched = run.items.get(kind=ItemKind.MATCHED)
    first, second, third = run.items.exclude(kind=ItemKind.MATCHED).order_by("id")
    reconciliation_item_resolve(item_id=first.pk, note="done earlier", actor=finance("bob"))

    results = reconciliation_items_resolve(
        run_id=run.pk,
        item_ids=[first.pk, matched.pk, second.pk, 999_999_999, third.pk],
        note="explained",
        kind=ResolutionKind.TIMING,
        actor=finance("alice"),
    )

    outcome = {r.item_id: (r.resolved, r.message) for r in results}
    assert outcome[first.pk] == (False, "Already resolved by bob.")
    assert outcome[matched.pk] == (False, "A matched item has nothing to resolve.")
    assert outcome[999_999_999] == (False, "Not an item of this run.")
    assert outcome[second.pk] == outcome[third.pk] == (True, "Resolved.")
    first.refresh_from_db()
    assert first.resolution_note == "done earlier"


def test_a_bulk_resolve_needs_a_note_a_kind_and_the_finance_role(run):
    ids = list(run.items.exclude(kind=ItemKind.MATCHED).values_list("pk", flat=True))
    for note, kind in [("", ResolutionKind.TIMING), ("explained", "")]:
        with pytest.raises(DomainError) as refused:
            reconciliation_items_resolve(run_id=run.pk, item_ids=ids, note=note, kind=kind, actor=finance("alice"))
        assert refused.value.code == ERR_VALIDATION
    with pytest.raises(DomainError) as refused:
        reconciliation_items_resolve(run_id=run.pk, item_ids=ids, note="x", kind="timing", actor=agent("agent"))
    assert refused.value.code == ERR_AUTHZ_ROLE
    assert not ReconciliationItem.objects.filter(resolved=True).exists()
