"""Manual correcting entries under maker-checker (docs/ledger.md "Correcting entries").

A finance user drafts balanced lines on the chart of accounts with a reason;
a second finance user approves, which posts them as one CORRECTION journal
entry (balanced, append-only, booked into the open month of the approval),
or rejects. Nothing of a correction changes after it is decided, and its
lines never change at all: the database refuses it (ledger migration 0005).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from core.money import is_known_currency
from ledger.enums import CorrectionState, EntryType
from ledger.models import Account, CorrectingEntry
from ledger.services import entry_post
from refunds.permissions import finance_refusal, second_finance_refusal

MAX_LINES = 10
MAX_AMOUNT_MINOR = 10**15
MAX_REASON = 2000


def _checked_lines(lines: Iterable[tuple[str, int]]) -> list[list]:
    """The lines as stored, or a DomainError naming what is wrong (accounts, amounts, balance)."""
    cleaned = [[str(account), amount] for account, amount in lines]
    if len(cleaned) < 2 or len(cleaned) > MAX_LINES:
        raise DomainError(ERR_VALIDATION, f"A correcting entry has 2 to {MAX_LINES} lines.", field="lines")
    known = set(Account.objects.values_list("code", flat=True))
    for account, amount in cleaned:
        if account not in known:
            raise DomainError(ERR_VALIDATION, f"Unknown account '{account}'.", field="lines")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0 or abs(amount) > MAX_AMOUNT_MINOR:
            raise DomainError(ERR_VALIDATION, "Every line needs a non-zero whole amount.", field="lines")
    if sum(amount for _, amount in cleaned) != 0:
        raise DomainError(ERR_VALIDATION, "Debits and credits must be equal.", field="lines")
    return cleaned


def correction_draft(*, currency: str, lines: Iterable[tuple[str, int]], reason: str, actor: Actor) -> CorrectingEntry:
    """Draft a correcting entry (nothing is posted yet); a second finance user approves it.

    `lines` are (account code, signed minor units): debit positive, credit
    negative; they must balance. Side effects, in order, in one transaction:
    the draft row, audit event `ledger.correction_drafted` with its lines.
    """
    refusal = finance_refusal(actor.user)
    if refusal is not None:
        raise refusal
    currency = (currency or "").upper()
    if not is_known_currency(currency):
        raise DomainError(ERR_VALIDATION, f"Unknown currency '{currency}'.", field="currency")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(ERR_VALIDATION, "A correcting entry needs its reason.", field="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(ERR_VALIDATION, f"Keep the reason under {MAX_REASON} characters.", field="reason")
    cleaned = _checked_lines(lines)
    with transaction.atomic():
        correction = CorrectingEntry.objects.create(
            currency=currency,
            lines=cleaned,
            amount_minor=sum(amount for _, amount in cleaned if amount > 0),
            reason=reason,
            maker=actor.user,
        )
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_CORRECTION_DRAFTED,
            subject=f"correction {correction.pk}",
            amount_minor=correction.amount_minor,
            currency=currency,
            note=reason,
            after={"state": CorrectionState.DRAFT, "lines": cleaned},
        )
    return correction


def _locked(correction_id: int) -> CorrectingEntry:
    try:
        return CorrectingEntry.objects.select_for_update().get(pk=correction_id)
    except CorrectingEntry.DoesNotExist:
        raise DomainError(ERR_VALIDATION, "No such correcting entry.") from None


def _already_decided(correction: CorrectingEntry) -> DomainError:
    who = correction.checker.get_username() if correction.checker else "someone"
    return DomainError(ERR_CONFLICT_STATE, f"This correcting entry was already {correction.state} by {who}.")


def correction_approve(*, correction_id: int, actor: Actor, note: str = "") -> CorrectingEntry:
    """The checker approves a draft: it is posted as one balanced CORRECTION journal entry.

    Refused for the maker (ERR_AUTHZ_MAKER_CHECKER, and by a database
    constraint), for whoever administers access, and for a correction already
    decided (ERR_CONFLICT_STATE: of two approvers at once, the second waits
    on the row lock, then is told — one journal entry, never two). Side
    effects, in order, in one transaction: the draft locked, the journal
    entry and its postings (booked today, in the open month), the draft
    marked posted (checker, when, entry), audit event
    `ledger.correction_posted` with the reason and the lines.
    """
    with transaction.atomic():
        correction = _locked(correction_id)
        refusal = second_finance_refusal(actor.user, first_user_id=correction.maker_id, what="correcting entry")
        if refusal is not None:
            raise refusal
        if correction.state != CorrectionState.DRAFT:
            raise _already_decided(correction)
        entry = entry_post(
            refund=None,
            entry_type=EntryType.CORRECTION,
            lines=[(account, amount) for account, amount in correction.lines],
            memo=f"Correction {correction.pk}: {correction.reason}"[:200],
            currency=correction.currency,
        )
        correction.state, correction.checker, correction.decided_at = CorrectionState.POSTED, actor.user, timezone.now()
        correction.decision_note, correction.journal_entry = (note or "").strip(), entry
        correction.save(update_fields=["state", "checker", "decided_at", "decision_note", "journal_entry"])
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_CORRECTION_POSTED,
            subject=f"correction {correction.pk}",
            amount_minor=correction.amount_minor,
            currency=correction.currency,
            note=correction.reason,
            before={"state": CorrectionState.DRAFT, "maker": correction.maker_id},
            after={
                "state": CorrectionState.POSTED,
                "journal_entry": entry.pk,
                "booked_on": str(entry.booked_on),
                "lines": correction.lines,
            },
        )
    return correction


def correction_reject(*, correction_id: int, actor: Actor, note: str) -> CorrectingEntry:
    """Reject a draft (its maker may withdraw it); nothing is posted. Audited with the note."""
    refusal = finance_refusal(actor.user)
    if refusal is not None:
        raise refusal
    note = (note or "").strip()
    if not note:
        raise DomainError(ERR_VALIDATION, "Say why the correcting entry is rejected.", field="note")
    with transaction.atomic():
        correction = _locked(correction_id)
        if correction.state != CorrectionState.DRAFT:
            raise _already_decided(correction)
        if correction.maker_id == actor.user.pk:
            # Withdrawing one's own draft: the maker-checker constraint keeps the checker column for someone else.
            correction.checker = None
        else:
            correction.checker = actor.user
        correction.state, correction.decided_at, correction.decision_note = (
            CorrectionState.REJECTED,
            timezone.now(),
            note,
        )
        correction.save(update_fields=["state", "checker", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action=AuditAction.LEDGER_CORRECTION_REJECTED,
            subject=f"correction {correction.pk}",
            amount_minor=correction.amount_minor,
            currency=correction.currency,
            note=note,
            after={"state": CorrectionState.REJECTED},
        )
    return correction
