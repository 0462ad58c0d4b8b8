"""Runs as a whole: re-running a day, failing cleanly, Stripe's report layout, lookups, who may run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from providers.base import Provider, ProviderRejected, ReportFormatError, ReportRow
from reconciliation.enums import ItemKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem, ReconciliationRun
from reconciliation.services import (
    reconciliation_item_resolve,
    reconciliation_run,
    reconciliation_run_create,
    reconciliation_run_execute,
)
from refunds.enums import Reason, RefundState, Role
from tests.reconciliation.factories import (
    new_provider_id,
    provider_report,
    provider_row,
    refund_answered,
    refund_settled,
    today,
)
from tests.refunds.factories import UserFactory, captured_order, make_refund

pytestmark = pytest.mark.django_db
K = ItemKind


def run_file(actor, rows, **kwargs):
    return reconciliation_run(
        day=today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=actor, **kwargs
    )


@pytest.fixture
def finance_actor():
    return Actor.for_user(UserFactory(username="fiona", role=Role.FINANCE))


def test_rerunning_a_day_supersedes_the_current_run_and_keeps_it_as_history(system_actor):
    refund = refund_settled()
    rows = [provider_row(refund, amount=refund.amount_minor + 5)]
    first = run_file(system_actor, rows)

    second = run_file(system_actor, rows)

    first.refresh_from_db()
    assert (first.is_current, first.superseded_by_id, second.is_current) == (False, second.pk, True)
    assert ReconciliationRun.objects.filter(day=today(), provider="stripe", is_current=True).get() == second
    assert (first.counts, first.totals) == (second.counts, second.totals)
    assert ReconciliationItem.objects.filter(run=first).count() == ReconciliationItem.objects.filter(run=second).count()


def test_rerun_carries_resolutions_of_the_same_exceptions_over(system_actor, finance_actor):
    refund = refund_settled()
    stranger = provider_row(None)
    rows = [provider_row(refund, amount=refund.amount_minor + 5), stranger]
    first = run_file(system_actor, rows)
    item = ReconciliationItem.objects.get(run=first, kind=K.AMOUNT_MISMATCH)
    reconciliation_item_resolve(item_id=item.pk, note="Provider fee, booked by hand", actor=finance_actor)

    second = run_file(system_actor, rows)

    carried = ReconciliationItem.objects.get(run=second, kind=K.AMOUNT_MISMATCH)
    assert (carried.resolved, carried.resolution_note) == (True, "Provider fee, booked by hand")
    assert carried.resolved_by == finance_actor.user
    assert not ReconciliationItem.objects.get(run=second, provider_refund_id=stranger["id"]).resolved


def test_a_corrected_report_replaces_the_result_of_the_day(system_actor):
    refund = refund_settled()
    wrong = run_file(system_actor, [provider_row(refund, currency="EUR")])

    fixed = run_file(system_actor, [provider_row(refund)])

    assert (wrong.exception_count, fixed.exception_count) == (1, 0)
    assert ReconciliationRun.objects.get(is_current=True).pk == fixed.pk


def test_an_unreadable_report_fails_the_run_and_leaves_the_current_result(system_actor):
    refund = refund_settled()
    good = run_file(system_actor, [provider_row(refund)])

    with pytest.raises(ReportFormatError):
        run_file(system_actor, [provider_row(refund, amount="12.50")])

    failed = ReconciliationRun.objects.latest("id")
    assert failed.status == RunStatus.FAILED and "line 2" in failed.error
    assert not ReconciliationItem.objects.filter(run=failed).exists()
    good.refresh_from_db()
    assert good.is_current


def test_a_refund_listed_twice_fails_the_run(system_actor):
    refund = refund_settled()

    with pytest.raises(ReportFormatError, match="more than once"):
        run_file(system_actor, [provider_row(refund), provider_row(refund)])


def test_stripe_balance_report_is_reconciled_including_failed_refunds(system_actor):
    ok = refund_settled(amount_minor=1250)
    failed_at_provider = refund_settled(amount_minor=990)
    created = int(timezone.now().timestamp())
    columns = ["created_utc", "currency", "gross", "reporting_category", "source_id"]

    def line(refund, gross, category):
        return {
            "created_utc": created,
            "currency": "usd",
            "gross": gross,
            "reporting_category": category,
            "source_id": refund.provider_refund_id,
        }

    report = provider_report(
        [
            line(ok, "-12.50", "refund"),
            line(failed_at_provider, "-9.90", "refund"),
            line(failed_at_provider, "9.90", "refund_failure"),
            {**line(ok, "100.00", "charge"), "source_id": "ch_1"},
        ],
        columns=columns,
    )

    run = reconciliation_run(day=today(), provider="stripe", source=RunSource.FILE, file=report, actor=system_actor)

    kinds = dict(ReconciliationItem.objects.filter(run=run).values_list("refund_id", "kind"))
    assert kinds == {ok.pk: K.MATCHED, failed_at_provider.pk: K.STATE_MISMATCH}
    assert run.totals["USD"]["provider_minor"] == 1250 and run.totals["USD"]["ledger_minor"] == 2240


class _FakeListProvider(Provider):
    """The provider is not the subject here: a listing and a lookup table, no wire protocol."""

    name = "fake"
    label = "Fake"
    lists_refunds = True

    def __init__(self, listed, by_id):
        self.listed, self.by_id, self.fetched = listed, by_id, []

    def execute_refund(self, **kwargs):
        raise NotImplementedError

    def fetch_refund(self, *, provider_refund_id):
        raise NotImplementedError

    def fetch_refund_row(self, *, provider_refund_id):
        self.fetched.append(provider_refund_id)
        if provider_refund_id not in self.by_id:
            raise ProviderRejected("No such refund", code="not_found", http_status=404)
        return self.by_id[provider_refund_id]

    def iter_refunds(self, *, created_gte, created_lt, page_size=100):
        return iter([r for r in self.listed if created_gte <= r.created_unix < created_lt])


def _record(refund, created):
    return ReportRow(
        provider_refund_id=refund.provider_refund_id,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        status="succeeded",
        created_unix=int(created.timestamp()),
        payment_id=refund.payment.provider_payment_id,
        refund_public_id=refund.public_id,
    )


def test_api_run_looks_up_refunds_the_provider_created_on_another_day(system_actor, monkeypatch):
    on_time = refund_settled()
    late = refund_settled()  # pending at the provider for days, settled today
    gone = refund_settled()
    long_ago = timezone.now() - timedelta(days=5)
    fake = _FakeListProvider(
        listed=[_record(on_time, timezone.now()), _record(late, long_ago)],
        by_id={late.provider_refund_id: _record(late, long_ago)},
    )
    monkeypatch.setattr("reconciliation.services.get_provider", lambda name=None: fake)

    run = reconciliation_run(day=today(), provider="stripe", source=RunSource.API, actor=system_actor)

    kinds = dict(ReconciliationItem.objects.filter(run=run).values_list("refund_id", "kind"))
    assert kinds == {on_time.pk: K.MATCHED, late.pk: K.MATCHED, gone.pk: K.MISSING_AT_PROVIDER}
    assert sorted(fake.fetched) == sorted([late.provider_refund_id, gone.provider_refund_id])


def test_pending_refund_of_an_earlier_day_belongs_to_that_day(system_actor):
    pending = refund_answered(status="pending")
    two_days_ago = int((timezone.now() - timedelta(days=2)).timestamp())

    run = run_file(system_actor, [provider_row(pending, created=two_days_ago)])

    assert run.item_count == 0  # not settled here, created there: the provider's day reconciles it


def test_people_without_the_finance_role_cannot_run_or_resolve(system_actor):
    agent = Actor.for_user(UserFactory(username="agnes", role=Role.AGENT))
    with pytest.raises(DomainError) as refused:
        reconciliation_run_create(day=today(), provider="stripe", source=RunSource.API, actor=agent)
    assert refused.value.code == ERR_AUTHZ_ROLE

    run = run_file(system_actor, [provider_row(None)])
    item = ReconciliationItem.objects.get(run=run)
    with pytest.raises(DomainError) as refused:
        reconciliation_item_resolve(item_id=item.pk, note="mine", actor=agent)
    assert refused.value.code == ERR_AUTHZ_ROLE


def test_a_day_in_the_future_is_refused(finance_actor):
    with pytest.raises(DomainError) as refused:
        reconciliation_run_create(
            day=today() + timedelta(days=2), provider="stripe", source=RunSource.API, actor=finance_actor
        )
    assert refused.value.code == ERR_VALIDATION


def test_resolving_needs_a_note_is_audited_and_happens_once(system_actor, finance_actor):
    run = run_file(system_actor, [provider_row(None)])
    item = ReconciliationItem.objects.get(run=run)

    with pytest.raises(DomainError) as refused:
        reconciliation_item_resolve(item_id=item.pk, note="  ", actor=finance_actor)
    assert refused.value.code == ERR_VALIDATION
    reconciliation_item_resolve(item_id=item.pk, note="Refund made in the dashboard", actor=finance_actor)
    reconciliation_item_resolve(item_id=item.pk, note="again", actor=finance_actor)

    item.refresh_from_db()
    assert (item.resolved, item.resolution_note, item.resolved_by) == (
        True,
        "Refund made in the dashboard",
        finance_actor.user,
    )
    events = AuditEvent.objects.filter(action="reconciliation.item_resolved")
    assert events.count() == 1
    assert events.get().note == "Refund made in the dashboard" and events.get().actor_label == "fiona"


def test_matched_items_cannot_be_resolved(system_actor, finance_actor):
    refund = refund_settled()
    run = run_file(system_actor, [provider_row(refund)])

    with pytest.raises(DomainError) as refused:
        reconciliation_item_resolve(
            item_id=ReconciliationItem.objects.get(run=run).pk, note="nothing to do", actor=finance_actor
        )
    assert refused.value.code == ERR_CONFLICT_STATE


def test_executing_a_finished_run_again_changes_nothing(system_actor):
    run = run_file(system_actor, [provider_row(None)])

    again = reconciliation_run_execute(run_id=run.pk)

    assert again.status == RunStatus.SUCCEEDED
    assert ReconciliationItem.objects.filter(run=run).count() == 1


def test_a_run_asked_for_earlier_that_finishes_later_does_not_replace_the_later_one(system_actor):
    refund = refund_settled()
    slow = reconciliation_run_create(day=today(), provider="stripe", source=RunSource.FILE, actor=system_actor)
    corrected = run_file(system_actor, [provider_row(refund)])  # asked for later, finished first

    reconciliation_run_execute(run_id=slow.pk, file=provider_report([provider_row(refund, currency="EUR")]))

    slow.refresh_from_db()
    corrected.refresh_from_db()
    assert (slow.status, slow.is_current, slow.superseded_by_id) == (RunStatus.SUCCEEDED, False, corrected.pk)
    assert corrected.is_current and corrected.superseded_by_id is None
    assert "which stays current" in AuditEvent.objects.filter(action="reconciliation.run_completed").last().note


def test_exceptions_of_a_superseded_run_cannot_be_resolved(system_actor, finance_actor):
    rows = [provider_row(None)]
    history = run_file(system_actor, rows)
    current = run_file(system_actor, rows)

    old_item = ReconciliationItem.objects.get(run=history)
    with pytest.raises(DomainError) as refused:
        reconciliation_item_resolve(item_id=old_item.pk, note="booked", actor=finance_actor)

    assert refused.value.code == ERR_CONFLICT_STATE
    old_item.refresh_from_db()
    assert not old_item.resolved
    reconciliation_item_resolve(
        item_id=ReconciliationItem.objects.get(run=current).pk, note="booked", actor=finance_actor
    )


def test_a_stripe_row_naming_a_manual_refund_is_not_matched_to_it(system_actor):
    """Payments name their provider now, and a run is of one provider; only `unlisted_build` filters by it.

    Pass 1 (`items_insert_listed`) joins every refund by provider id, and
    `meta_build` every refund by the metadata refund_id, whatever its payment's
    provider. A Stripe refund that names a hand-paid refund (someone refunded
    the same money at Stripe too: a double refund) is then linked to that
    manual refund (its item carries our refund, our amount and public id) instead
    of standing alone as a Stripe refund we do not know.
    """
    manual = make_refund(
        order=captured_order(amount_minor=10000, provider="manual"), amount_minor=2500, reason=Reason.NOT_RECEIVED
    )
    assert manual.state == RefundState.APPROVED  # a payout task waits for finance

    stripe_row = provider_row(None, id=new_provider_id(), amount=2500, **{"metadata[refund_id]": manual.public_id})
    run = run_file(system_actor, [stripe_row])

    item = ReconciliationItem.objects.get(run=run, provider_refund_id=stripe_row["id"])
    assert item.refund_id != manual.pk, f"the Stripe refund was linked to the manual refund ({item.kind})"
    assert item.kind == ItemKind.MISSING_IN_LEDGER
