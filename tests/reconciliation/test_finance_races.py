"""Two finance approvers at once, with real threads on their own PostgreSQL connections."""

import pytest

from core.errors import ERR_CONFLICT_STATE, DomainError
from ledger.enums import CorrectionState, EntryType, PeriodState, ReopenState
from ledger.models import AccountingPeriod, CorrectingEntry, JournalEntry, PeriodReopenRequest
from ledger.services import trial_balance
from reconciliation.corrections import correction_approve, correction_draft
from reconciliation.periods import period_close, period_reopen_approve, period_reopen_request
from tests.reconciliation.finance_factories import finance, last_month
from tests.refunds.services.test_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_checkers_approving_one_correction_at_once_post_it_once():
    correction = correction_draft(
        currency="EUR", lines=[("provider_clearing", 990), ("sales_returns", -990)], reason="FX", actor=finance("maker")
    )
    checkers = [finance("bob"), finance("carol")]

    results = race(*[lambda c=c: correction_approve(correction_id=correction.pk, actor=c) for c in checkers])

    posted = [r for r in results if isinstance(r, CorrectingEntry)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(posted) == 1 and len(refused) == 1, results
    assert refused[0].code == ERR_CONFLICT_STATE
    assert CorrectingEntry.objects.get().state == CorrectionState.POSTED
    assert JournalEntry.objects.filter(entry_type=EntryType.CORRECTION).count() == 1
    assert trial_balance() == {"EUR": 0}


def test_two_approvers_of_one_reopen_request_at_once_reopen_it_once():
    period_close(month=last_month(), actor=finance("alice"))
    request = period_reopen_request(month=last_month(), reason="late fee", actor=finance("alice"))
    approvers = [finance("bob"), finance("carol")]

    results = race(*[lambda a=a: period_reopen_approve(request_id=request.pk, actor=a) for a in approvers])

    assert sorted(type(r).__name__ for r in results) == ["DomainError", "PeriodReopenRequest"], results
    assert PeriodReopenRequest.objects.get().state == ReopenState.APPROVED
    assert AccountingPeriod.objects.get(month=last_month()).state == PeriodState.OPEN
