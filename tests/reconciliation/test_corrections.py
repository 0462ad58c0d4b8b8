"""Manual correcting entries: drafted by one finance user, posted by another as one balanced entry."""

import pytest
from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_MAKER_CHECKER, ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from ledger.calendar import business_today
from ledger.enums import AccountCode, CorrectionState, EntryType
from ledger.models import CorrectingEntry, JournalEntry, Posting
from ledger.services import trial_balance
from reconciliation.corrections import correction_approve, correction_draft, correction_reject
from tests.reconciliation.finance_factories import finance
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db

LINES = [(AccountCode.PROVIDER_CLEARING, 250), (AccountCode.REFUNDS_PAYABLE, -250)]
REASON = "Provider fee booked twice on 2026-11-30 (ticket FIN-12)"


def draft(maker="alice", **kwargs):
    return correction_draft(
        currency=kwargs.get("currency", "USD"),
        lines=kwargs.get("lines", LINES),
        reason=kwargs.get("reason", REASON),
        actor=finance(maker),
    )


def test_a_draft_posts_nothing_until_a_second_finance_user_approves_it():
    correction = draft()
    assert correction.state == CorrectionState.DRAFT and not JournalEntry.objects.exists()

    posted = correction_approve(correction_id=correction.pk, actor=finance("bob"))

    entry = posted.journal_entry
    assert (posted.state, posted.checker.username) == (CorrectionState.POSTED, "bob")
    assert (entry.entry_type, entry.refund, entry.currency, entry.amount_minor) == (
        EntryType.CORRECTION,
        None,
        "USD",
        250,
    )
    assert entry.booked_on == business_today()
    assert sorted(Posting.objects.filter(entry=entry).values_list("account_id", "amount_minor")) == [
        (AccountCode.PROVIDER_CLEARING, 250),
        (AccountCode.REFUNDS_PAYABLE, -250),
    ]
    assert trial_balance() == {"USD": 0}
    audited = AuditEvent.objects.get(action=AuditAction.LEDGER_CORRECTION_POSTED)
    assert (audited.note, audited.actor_user.username, audited.after["journal_entry"]) == (REASON, "bob", entry.pk)


def test_the_maker_cannot_approve_their_own_correction():
    correction = draft()
    with pytest.raises(DomainError) as refused:
        correction_approve(correction_id=correction.pk, actor=finance("alice"))
    assert refused.value.code == ERR_AUTHZ_MAKER_CHECKER
    assert not JournalEntry.objects.exists()


def test_the_database_refuses_a_checker_who_is_the_maker():
    correction = draft()
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectingEntry.objects.filter(pk=correction.pk).update(checker=correction.maker)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lines": [(AccountCode.PROVIDER_CLEARING, 250), (AccountCode.REFUNDS_PAYABLE, -249)]}, "equal"),
        ({"lines": [(AccountCode.PROVIDER_CLEARING, 250)]}, "2 to"),
        ({"lines": [("petty_cash", 250), (AccountCode.REFUNDS_PAYABLE, -250)]}, "Unknown account"),
        ({"lines": [(AccountCode.PROVIDER_CLEARING, 2.5), (AccountCode.REFUNDS_PAYABLE, -2.5)]}, "whole amount"),
        ({"reason": "   "}, "reason"),
        ({"currency": "XXX"}, "currency"),
    ],
)
def test_a_draft_must_balance_on_known_accounts_with_a_reason(kwargs, message):
    with pytest.raises(DomainError, match=message) as refused:
        draft(**kwargs)
    assert refused.value.code == ERR_VALIDATION
    assert not CorrectingEntry.objects.exists()


def test_only_finance_drafts_and_approves():
    with pytest.raises(DomainError) as refused:
        correction_draft(currency="USD", lines=LINES, reason=REASON, actor=agent("agent"))
    assert refused.value.code == ERR_AUTHZ_ROLE
    correction = draft()
    with pytest.raises(DomainError) as refused:
        correction_approve(correction_id=correction.pk, actor=agent("agent"))
    assert refused.value.code == ERR_AUTHZ_ROLE


def test_a_posted_correction_can_be_neither_changed_nor_approved_again():
    correction = correction_approve(correction_id=draft().pk, actor=finance("bob"))
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectingEntry.objects.filter(pk=correction.pk).update(decision_note="edited")
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.filter(pk=correction.journal_entry_id).update(memo="edited")
    with pytest.raises(DomainError, match="already posted by bob") as refused:
        correction_approve(correction_id=correction.pk, actor=finance("carol"))
    assert refused.value.code == ERR_CONFLICT_STATE
    assert JournalEntry.objects.count() == 1


def test_a_drafts_lines_never_change():
    correction = draft()
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectingEntry.objects.filter(pk=correction.pk).update(lines=[["provider_clearing", 1], ["tax_payable", -1]])


def test_a_rejected_draft_posts_nothing_and_the_maker_may_withdraw():
    rejected = correction_reject(correction_id=draft().pk, actor=finance("bob"), note="wrong account")
    withdrawn = correction_reject(correction_id=draft().pk, actor=finance("alice"), note="duplicate draft")
    assert (rejected.state, rejected.checker.username) == (CorrectionState.REJECTED, "bob")
    assert (withdrawn.state, withdrawn.checker) == (CorrectionState.REJECTED, None)
    assert not JournalEntry.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LEDGER_CORRECTION_REJECTED).count() == 2
