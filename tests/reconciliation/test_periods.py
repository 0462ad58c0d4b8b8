"""Month close and the four-eyes reopen (docs/ledger.md "Periods")."""

import pytest
from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_MAKER_CHECKER, ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, DomainError
from ledger.calendar import business_today, month_start
from ledger.enums import PeriodState, ReopenState
from ledger.models import AccountingPeriod, PeriodReopenRequest
from reconciliation.enums import RunSource
from reconciliation.periods import (
    period_close,
    period_readiness,
    period_reopen_approve,
    period_reopen_reject,
    period_reopen_request,
)
from reconciliation.services import reconciliation_item_resolve, reconciliation_run
from refunds.enums import Role
from tests.reconciliation.factories import provider_report, provider_row, refund_settled
from tests.reconciliation.finance_factories import closed, finance, last_month
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db


def test_finance_closes_an_ended_month_and_it_is_audited():
    alice = finance("alice")
    period = period_close(month=last_month(), actor=alice, note="March books done")
    assert (period.state, period.closed_by, period.close_note) == (PeriodState.CLOSED, alice.user, "March books done")
    event = AuditEvent.objects.get(action=AuditAction.LEDGER_PERIOD_CLOSED)
    assert event.subject == f"period {last_month():%Y-%m}" and event.actor_user == alice.user


def test_closing_a_closed_month_again_changes_nothing():
    first = period_close(month=last_month(), actor=finance("alice"))
    again = period_close(month=last_month(), actor=finance("bob"))
    assert again.closed_by_id == first.closed_by_id
    assert AuditEvent.objects.filter(action=AuditAction.LEDGER_PERIOD_CLOSED).count() == 1


def test_the_current_month_cannot_be_closed():
    with pytest.raises(DomainError, match="has not ended") as refused:
        period_close(month=month_start(business_today()), actor=finance("alice"))
    assert refused.value.code == ERR_CONFLICT_STATE


def test_only_finance_closes_months():
    with pytest.raises(DomainError) as refused:
        period_close(month=last_month(), actor=agent("agent"))
    assert refused.value.code == ERR_AUTHZ_ROLE
    assert not AccountingPeriod.objects.filter(state=PeriodState.CLOSED).exists()


def test_open_reconciliation_exceptions_refuse_the_close_until_resolved(system_actor, monkeypatch):
    from reconciliation import periods

    day = business_today()
    refund = refund_settled()
    report = provider_report([provider_row(refund, amount=refund.amount_minor + 1)])
    run = reconciliation_run(day=day, provider="stripe", source=RunSource.FILE, file=report, actor=system_actor)
    item = run.items.exclude(kind="matched").get()
    month = month_start(day)
    assert period_readiness(month=month).not_ended  # the month of today is never closable
    # As if a year had passed: readiness is about that month's runs, whatever today is.
    monkeypatch.setattr(periods, "business_today", lambda: month.replace(year=month.year + 1))

    refused = period_readiness(month=month)
    assert (refused.open_exceptions, refused.exception_days) == (1, [day])
    with pytest.raises(DomainError, match="exception") as error:
        period_close(month=month, actor=finance("alice"))
    assert error.value.code == ERR_CONFLICT_STATE

    reconciliation_item_resolve(item_id=item.pk, note="provider rounding, confirmed", actor=finance("bob"))
    assert period_close(month=month, actor=finance("alice")).is_closed


def test_pending_refunds_only_warn_and_the_warning_is_in_the_audit_note(monkeypatch):
    from reconciliation import periods
    from tests.reconciliation.factories import refund_submitted

    refund_submitted()  # approved today, handed to the provider, not settled
    month = month_start(business_today())
    monkeypatch.setattr(periods, "business_today", lambda: month.replace(year=month.year + 1))
    readiness = period_readiness(month=month)
    assert readiness.pending_refunds == 1 and not readiness.refusals
    period_close(month=month, actor=finance("alice"))
    note = AuditEvent.objects.get(action=AuditAction.LEDGER_PERIOD_CLOSED).note
    assert "1 refund(s) approved by month end are not settled yet" in note


def test_reopen_needs_a_second_finance_user():
    alice, bob = finance("alice"), finance("bob")
    period_close(month=last_month(), actor=alice)
    request = period_reopen_request(month=last_month(), reason="late provider fee invoice", actor=alice)

    with pytest.raises(DomainError) as refused:
        period_reopen_approve(request_id=request.pk, actor=alice)
    assert refused.value.code == ERR_AUTHZ_MAKER_CHECKER
    assert AccountingPeriod.objects.get(month=last_month()).is_closed

    approved = period_reopen_approve(request_id=request.pk, actor=bob, note="agreed")
    assert (approved.state, approved.decided_by) == (ReopenState.APPROVED, bob.user)
    period = AccountingPeriod.objects.get(month=last_month())
    assert (period.state, period.closed_by, period.closed_at) == (PeriodState.OPEN, None, None)
    actions = list(AuditEvent.objects.filter(subject=f"period {last_month():%Y-%m}").values_list("action", flat=True))
    assert actions == [
        AuditAction.LEDGER_PERIOD_CLOSED,
        AuditAction.LEDGER_PERIOD_REOPEN_REQUESTED,
        AuditAction.LEDGER_PERIOD_REOPENED,
    ]


def test_the_database_refuses_a_reopen_approved_by_its_requester():
    alice = finance("alice")
    period = closed(last_month())
    request = PeriodReopenRequest.objects.create(period=period, reason="x", requested_by=alice.user)
    with pytest.raises(IntegrityError), transaction.atomic():
        PeriodReopenRequest.objects.filter(pk=request.pk).update(state=ReopenState.APPROVED, decided_by=alice.user)


def test_one_pending_reopen_per_month_and_a_rejected_one_keeps_it_closed():
    alice, bob = finance("alice"), finance("bob")
    closed(last_month())
    request = period_reopen_request(month=last_month(), reason="fee", actor=alice)
    with pytest.raises(DomainError, match="already waiting"):
        period_reopen_request(month=last_month(), reason="again", actor=bob)
    period_reopen_reject(request_id=request.pk, actor=bob, note="book it in the open month instead")
    assert AccountingPeriod.objects.get(month=last_month()).is_closed
    with pytest.raises(DomainError, match="already rejected"):
        period_reopen_approve(request_id=request.pk, actor=bob)


def test_an_open_month_has_nothing_to_reopen():
    with pytest.raises(DomainError, match="nothing to reopen"):
        period_reopen_request(month=last_month(), reason="why not", actor=finance("alice"))


def test_access_admins_cannot_be_the_second_pair_of_eyes():
    alice = finance("alice")
    admin = agent("admin", Role.FINANCE)
    admin.user.is_superuser = True
    admin.user.save()
    closed(last_month())
    request = period_reopen_request(month=last_month(), reason="fee", actor=alice)
    with pytest.raises(DomainError) as refused:
        period_reopen_approve(request_id=request.pk, actor=admin)
    assert refused.value.code == ERR_AUTHZ_ROLE
