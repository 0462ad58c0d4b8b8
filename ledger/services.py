"""Posting refund journal entries (SPEC §4).

Callers are the refund services, inside their transaction and holding the
refund's row lock; that lock plus the (refund, entry_type) unique constraint
make each posting happen at most once.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Sum

from core.money import split_pro_rata
from ledger.enums import AccountCode, AccountKind, EntryType
from ledger.models import Account, JournalEntry, Posting

CHART_OF_ACCOUNTS = {
    AccountCode.SALES_RETURNS: AccountKind.REVENUE,
    AccountCode.TAX_PAYABLE: AccountKind.LIABILITY,
    AccountCode.REFUNDS_PAYABLE: AccountKind.LIABILITY,
    AccountCode.PROVIDER_CLEARING: AccountKind.ASSET,
}


class UnbalancedEntry(ValueError):
    pass


def accounts_ensure() -> None:
    """Create the chart of accounts if missing (migrations, demo seed, tests)."""
    for code, kind in CHART_OF_ACCOUNTS.items():
        Account.objects.get_or_create(code=code, defaults={"name": code.label, "kind": kind})


def entry_post(*, refund, entry_type: EntryType, lines: list[tuple[AccountCode, int]], memo: str = "") -> JournalEntry:
    """Write one balanced entry with its postings.

    Side effects, in order: one JournalEntry row, its Posting rows (bulk).
    Raises UnbalancedEntry before touching the database if debits != credits.
    There is no read-before-write: each entry type follows one FSM transition,
    which the caller makes under the refund's row lock, and should a bug post a
    type twice the (refund, entry_type) unique constraint raises IntegrityError
    and rolls the whole transaction back — a loud failure, never a double post.
    """
    if sum(amount for _, amount in lines) != 0:
        raise UnbalancedEntry(f"{entry_type} for {refund.public_id} does not sum to zero: {lines}")
    lines = [(account, amount) for account, amount in lines if amount != 0]
    debit_total = sum(amount for _, amount in lines if amount > 0)
    with transaction.atomic(savepoint=False):
        entry = JournalEntry.objects.create(
            entry_type=entry_type,
            refund=refund,
            currency=refund.currency,
            amount_minor=debit_total,
            memo=memo,
        )
        Posting.objects.bulk_create(
            Posting(entry=entry, account_id=account, currency=refund.currency, amount_minor=amount)
            for account, amount in lines
        )
    return entry


def refund_split_net_tax(*, refund) -> tuple[int, int]:
    """Split a refund amount into (net, tax) pro rata over the order's lines.

    The amount is first spread over lines by gross value, then each line's
    share over its net and tax; both steps use the largest-remainder method, so
    net + tax == amount to the minor unit (documented in docs/ledger.md).
    An order without lines is all net.
    """
    lines = list(refund.order.lines.all())
    if not lines:
        return refund.amount_minor, 0
    per_line = split_pro_rata(refund.amount_minor, [max(line.gross_minor, 0) for line in lines])
    net = tax = 0
    for line, share in zip(lines, per_line, strict=True):
        line_net, line_tax = split_pro_rata(share, [max(line.net_minor, 0), line.tax_minor])
        net += line_net
        tax += line_tax
    return net, tax


def refund_post_pending(*, refund) -> JournalEntry:
    """At approval: debit sales returns and tax payable, credit refunds payable."""
    net, tax = refund_split_net_tax(refund=refund)
    return entry_post(
        refund=refund,
        entry_type=EntryType.REFUND_PENDING,
        lines=[
            (AccountCode.SALES_RETURNS, net),
            (AccountCode.TAX_PAYABLE, tax),
            (AccountCode.REFUNDS_PAYABLE, -refund.amount_minor),
        ],
        memo=f"Refund {refund.public_id} approved",
    )


def refund_post_settled(*, refund) -> JournalEntry:
    """At completion: the liability is paid out of provider clearing."""
    return entry_post(
        refund=refund,
        entry_type=EntryType.REFUND_SETTLED,
        lines=[
            (AccountCode.REFUNDS_PAYABLE, refund.amount_minor),
            (AccountCode.PROVIDER_CLEARING, -refund.amount_minor),
        ],
        memo=f"Refund {refund.public_id} settled",
    )


def refund_post_settlement_reversed(*, refund) -> JournalEntry:
    """The provider failed a settled refund (`completed → failed`): mirror REFUND_SETTLED.

    The money came back to provider clearing and the refund is owed again
    (refunds payable credited). Posted at most once per refund, like every type.
    """
    settled = JournalEntry.objects.get(refund=refund, entry_type=EntryType.REFUND_SETTLED)
    return entry_post(
        refund=refund,
        entry_type=EntryType.REFUND_SETTLEMENT_REVERSED,
        lines=_mirror(settled),
        memo=f"Refund {refund.public_id} failed at the provider after settlement",
    )


def _mirror(entry: JournalEntry) -> list[tuple[str, int]]:
    """The lines that undo `entry`: every posting with its sign flipped."""
    mirrored: dict[str, int] = defaultdict(int)
    for posting in entry.postings.all():
        mirrored[posting.account_id] -= posting.amount_minor
    return list(mirrored.items())


def refund_post_reversed(*, refund) -> JournalEntry | None:
    """After approval, on cancel or terminal failure: mirror the pending entry.

    Returns None when nothing was posted (the refund never reached approval).
    """
    pending = JournalEntry.objects.filter(refund=refund, entry_type=EntryType.REFUND_PENDING).first()
    if pending is None:
        return None
    return entry_post(
        refund=refund,
        entry_type=EntryType.REFUND_REVERSED,
        lines=_mirror(pending),
        memo=f"Refund {refund.public_id} reversed",
    )


def trial_balance() -> dict[str, int]:
    """Sum of all postings per currency; every value must be 0."""
    rows = Posting.objects.values("currency").annotate(total=Sum("amount_minor")).order_by("currency")
    return {row["currency"]: row["total"] for row in rows}
