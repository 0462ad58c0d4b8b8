"""Posting journal entries (SPEC §4), each booked into an open month.

Callers are the refund services, inside their transaction and holding the
refund's row lock; that lock plus the (refund, entry_type) unique constraint
make each posting happen at most once. Manual correcting entries are posted
by `reconciliation.corrections` (maker-checker).

Every entry carries the date its event happened (`event_on`) and the date it
is booked in (`booked_on`): the same, unless the event's month is closed —
then the entry is a late item, booked on the first day of the next open
month (`booking_date`). PostgreSQL refuses an entry booked into a closed
month whatever sends it (migration 0005).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from core.money import split_pro_rata
from core.write_batch import Write, batching, write
from ledger.calendar import business_date, month_start, next_month
from ledger.enums import AccountCode, AccountKind, EntryType, PeriodState
from ledger.models import Account, JournalEntry, Posting

CHART_OF_ACCOUNTS = {
    AccountCode.SALES_RETURNS: AccountKind.REVENUE,
    AccountCode.TAX_PAYABLE: AccountKind.LIABILITY,
    AccountCode.REFUNDS_PAYABLE: AccountKind.LIABILITY,
    AccountCode.PROVIDER_CLEARING: AccountKind.ASSET,
    AccountCode.STORE_CREDIT_OUTSTANDING: AccountKind.LIABILITY,
    AccountCode.STORE_CREDIT_BONUS: AccountKind.EXPENSE,
    AccountCode.STORE_CREDIT_REDEEMED: AccountKind.REVENUE,
    AccountCode.STORE_CREDIT_BREAKAGE: AccountKind.REVENUE,
    AccountCode.AUTHORIZATIONS_HELD: AccountKind.ASSET,
}


class UnbalancedEntry(ValueError):
    pass


def accounts_ensure() -> None:
    """Create the chart of accounts if missing (migrations, demo seed, tests)."""
    for code, kind in CHART_OF_ACCOUNTS.items():
        Account.objects.get_or_create(code=code, defaults={"name": code.label, "kind": kind})


def booking_date(event_on: date) -> date:
    """The date an event of `event_on` is booked on: itself in an open month, else the first day of the next open one.

    One query, in the posting's transaction: the periods from the event's
    month on, read FOR SHARE (the lock the database trigger takes too). A
    close in flight holds its month FOR UPDATE, so this waits for it and
    then sees the month closed; a close that starts later waits for this
    posting to commit. A month without a row is open (the trigger inserts
    its row). Months that have not ended are never closed
    (`reconciliation.periods`), so the walk ends at the current month.
    """
    lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT month, state FROM ledger_accountingperiod WHERE month >= %s ORDER BY month{lock}",  # noqa: S608
            [month_start(event_on)],
        )
        closed = {_as_date(month) for month, state in cursor.fetchall() if state == PeriodState.CLOSED}
    month = month_start(event_on)
    while month in closed:
        month = next_month(month)
    return max(event_on, month)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite returns text


def entry_post(
    *,
    refund,
    entry_type: EntryType,
    lines: list[tuple[AccountCode, int]],
    memo: str = "",
    occurred_at: datetime | None = None,
    currency: str | None = None,
) -> JournalEntry:
    """Write one balanced entry with its postings, booked into an open month.

    `occurred_at` is when the event happened (default now: approval, a
    provider's answer); a late webhook passes the provider's event time.
    `currency` is needed only without a refund (a correcting entry).

    Side effects, in order: the periods from the event's month on read and
    share-locked (`booking_date`), one JournalEntry row (the database
    trigger inserts its month's period row if missing), its Posting rows —
    on PostgreSQL all three in one statement (`_ENTRY_WITH_POSTINGS`; inside
    a `core.write_batch.writes_together` block, with the batch: the entry's
    id and `booked_on` are set once it is sent), on SQLite three. The entry
    joins the refund's cached `ledger_entries`, if any. Each posting carries
    its entry's `booked_on`: PostgreSQL partitions postings by it.
    Raises UnbalancedEntry before touching the database if debits != credits.
    There is no read-before-write: each entry type follows one FSM transition,
    which the caller makes under the refund's row lock, and should a bug post a
    type twice the (refund, entry_type) unique constraint raises IntegrityError
    and rolls the whole transaction back — a loud failure, never a double post.
    """
    subject = refund.public_id if refund is not None else "a correction"
    if sum(amount for _, amount in lines) != 0:
        raise UnbalancedEntry(f"{entry_type} for {subject} does not sum to zero: {lines}")
    currency = refund.currency if refund is not None else currency
    if not currency:
        raise ValueError("an entry without a refund needs its currency")
    lines = [(account, amount) for account, amount in lines if amount != 0]
    debit_total = sum(amount for _, amount in lines if amount > 0)
    now = timezone.now()
    # A provider clock ahead of ours must not date an entry in the future.
    event_on = business_date(min(occurred_at or now, now))
    entry = JournalEntry(
        entry_type=entry_type,
        refund=refund,
        currency=currency,
        amount_minor=debit_total,
        memo=memo,
        created_at=now,
        event_on=event_on,
        booked_on=None,  # known once the entry is written (in a batch: once the batch is sent)
    )
    if batching():
        write(_entry_with_postings(entry, lines))
    else:
        with transaction.atomic(savepoint=False):
            entry.booked_on = booking_date(event_on)
            entry.save(force_insert=True)
            Posting.objects.bulk_create(
                Posting(
                    entry=entry, account_id=account, currency=currency, amount_minor=amount, booked_on=entry.booked_on
                )
                for account, amount in lines
            )
    if refund is not None:
        _entry_remember(refund, entry)
    return entry


# The booking month (as `booking_date`: the periods from the event's month on read FOR SHARE, the first
# month from it on that is not closed — the event's own, or one right after a closed one), the entry and
# its postings: one statement. The entry's BEFORE INSERT trigger still refuses a closed month (0005), and
# the deferred balance check still runs at COMMIT.
_ENTRY_WITH_POSTINGS = [
    ("periods", "SELECT month, state FROM ledger_accountingperiod WHERE month >= %s ORDER BY month FOR SHARE"),
    ("closed", "SELECT month FROM __periods__ WHERE state = %s"),
    (
        "booking",
        "SELECT GREATEST(%s::date, min(candidate.month)) AS booked_on"
        " FROM (SELECT %s::date AS month UNION ALL SELECT (month + interval '1 month')::date FROM __closed__)"
        " AS candidate WHERE candidate.month NOT IN (SELECT month FROM __closed__)",
    ),
    (
        "entry",
        "INSERT INTO ledger_journalentry"
        " (entry_type, refund_id, currency, amount_minor, memo, created_at, event_on, booked_on)"
        " SELECT %s, %s, %s, %s, %s, %s, %s, booked_on FROM __booking__ RETURNING id, booked_on",
    ),
    (
        "postings",
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor, booked_on)"
        " SELECT __entry__.id, line.account, %s, line.amount, __entry__.booked_on FROM __entry__,"
        " unnest(%s::varchar[], %s::bigint[]) WITH ORDINALITY AS line(account, amount, n) ORDER BY line.n"
        " RETURNING id",
    ),
    ("written", "SELECT id, booked_on, (SELECT count(*) FROM __postings__) AS postings FROM __entry__"),
]


def _entry_with_postings(entry: JournalEntry, lines: list[tuple[str, int]]) -> Write:
    """`entry` (booked into an open month) and its postings as one write (PostgreSQL, core.write_batch)."""
    month = month_start(entry.event_on)
    params = [
        month,
        PeriodState.CLOSED.value,
        entry.event_on,
        month,
        *(str(entry.entry_type), entry.refund_id, entry.currency, entry.amount_minor, entry.memo),
        *(entry.created_at, entry.event_on),
        entry.currency,
        [str(account) for account, _ in lines],
        [amount for _, amount in lines],
    ]

    def done(rows: list[dict]) -> None:
        [row] = rows
        if row["postings"] != len(lines):
            raise RuntimeError(f"{entry.entry_type}: {row['postings']} of {len(lines)} postings written")
        entry.pk, entry.booked_on = row["id"], date.fromisoformat(row["booked_on"])
        entry._state.adding, entry._state.db = False, connection.alias

    return Write(list(_ENTRY_WITH_POSTINGS), params, done)


def _entry_remember(refund, entry: JournalEntry) -> None:
    """Add `entry` to the refund's `ledger_entries` when they are in its cache (as a prefetch, or as a new
    refund's `refund_open` put them there): what the refund's documents show stays true without a query."""
    cached = getattr(refund, "_prefetched_objects_cache", {}).get("ledger_entries")
    if cached is not None:
        cached._result_cache.append(entry)


def refund_split_net_tax(*, refund) -> tuple[int, int]:
    """Split a refund amount into (net, tax) pro rata over the order's lines.

    The amount is first spread over lines by gross value, then each line's
    share over its net and tax; both steps use the largest-remainder method, so
    net + tax == amount to the minor unit (documented in docs/ledger.md).
    An order without lines is all net. A refund by line (issue 15) knows its
    tax exactly — each `RefundLine` carries the tax of its units — so it is
    booked as such, never spread over lines the refund does not take.
    """
    refund_lines = list(refund.lines.all()) if refund.pk is not None else []
    if refund_lines:
        tax = sum(line.tax_minor for line in refund_lines)
        return refund.amount_minor - tax, tax
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


def refund_post_settled(*, refund, occurred_at: datetime | None = None) -> JournalEntry:
    """At completion: the liability is paid out of provider clearing.

    `occurred_at` is when the provider settled it (a webhook's event time); a
    settlement whose month is closed is booked into the next open month.
    """
    return entry_post(
        refund=refund,
        entry_type=EntryType.REFUND_SETTLED,
        lines=[
            (AccountCode.REFUNDS_PAYABLE, refund.amount_minor),
            (AccountCode.PROVIDER_CLEARING, -refund.amount_minor),
        ],
        memo=f"Refund {refund.public_id} settled",
        occurred_at=occurred_at,
    )


def refund_post_settlement_reversed(*, refund, occurred_at: datetime | None = None) -> JournalEntry:
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
        occurred_at=occurred_at,
    )


def _mirror(entry: JournalEntry) -> list[tuple[str, int]]:
    """The lines that undo `entry`: every posting with its sign flipped."""
    mirrored: dict[str, int] = defaultdict(int)
    # Naming the month reads the one partition holding the entry's postings (PostgreSQL), not every month's.
    for posting in entry.postings.filter(booked_on=entry.booked_on):
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


# --- voids (issue 15) ----------------------------------------------------------------------------------
# A void releases an authorization: no money moved, so nothing may touch provider clearing (which
# reconciliation compares with the provider's refunds). The pending leg is a refund's (the sale is
# returned, what is owed sits in refunds payable); the release is paid out of authorizations held.


def void_post_pending(*, refund) -> JournalEntry:
    """At approval of a void: as REFUND_PENDING (sales returns and tax, against refunds payable)."""
    net, tax = refund_split_net_tax(refund=refund)
    return entry_post(
        refund=refund,
        entry_type=EntryType.VOID_PENDING,
        lines=[
            (AccountCode.SALES_RETURNS, net),
            (AccountCode.TAX_PAYABLE, tax),
            (AccountCode.REFUNDS_PAYABLE, -refund.amount_minor),
        ],
        memo=f"Void {refund.public_id} approved",
    )


def void_post_released(*, refund, occurred_at: datetime | None = None) -> JournalEntry:
    """At completion of a void: the provider released the hold; owed no more, out of authorizations held."""
    return entry_post(
        refund=refund,
        entry_type=EntryType.VOID_RELEASED,
        lines=[
            (AccountCode.REFUNDS_PAYABLE, refund.amount_minor),
            (AccountCode.AUTHORIZATIONS_HELD, -refund.amount_minor),
        ],
        memo=f"Void {refund.public_id}: hold released",
        occurred_at=occurred_at,
    )


def void_post_reversed(*, refund) -> JournalEntry | None:
    """A void canceled after approval, or failed: mirror VOID_PENDING (None when it was never approved)."""
    pending = JournalEntry.objects.filter(refund=refund, entry_type=EntryType.VOID_PENDING).first()
    if pending is None:
        return None
    return entry_post(
        refund=refund,
        entry_type=EntryType.VOID_REVERSED,
        lines=_mirror(pending),
        memo=f"Void {refund.public_id} reversed",
    )


# --- Store credit (issue 15, docs/instruments.md "Store credit") ---------------------------------
# A store-credit refund never reaches provider clearing: at completion the liability to refund moves
# into outstanding store credit (with the bonus, an expense), which checkout redemptions and expiry
# (breakage) bring back to zero. Callers hold the credit's row lock (credits.services).


def store_credit_post_issued(*, refund, amount_minor: int, bonus_minor: int) -> JournalEntry:
    """At completion of a store-credit refund, in place of REFUND_SETTLED.

    `amount_minor` is the credit's face value (the refund plus `bonus_minor`).
    Debit refunds payable (the refund) and the bonus expense, credit store
    credit outstanding: afterwards refunds payable nets to zero for the refund,
    as a settlement leaves it.
    """
    return entry_post(
        refund=refund,
        entry_type=EntryType.STORE_CREDIT_ISSUED,
        lines=[
            (AccountCode.REFUNDS_PAYABLE, amount_minor - bonus_minor),
            (AccountCode.STORE_CREDIT_BONUS, bonus_minor),
            (AccountCode.STORE_CREDIT_OUTSTANDING, -amount_minor),
        ],
        memo=f"Refund {refund.public_id} paid as store credit",
    )


def store_credit_post_redeemed(*, refund, amount_minor: int, memo: str) -> JournalEntry:
    """One checkout redemption: outstanding credit is spent (one entry per redemption row)."""
    return entry_post(
        refund=refund,
        entry_type=EntryType.STORE_CREDIT_REDEEMED,
        lines=[
            (AccountCode.STORE_CREDIT_OUTSTANDING, amount_minor),
            (AccountCode.STORE_CREDIT_REDEEMED, -amount_minor),
        ],
        memo=memo,
    )


def store_credit_post_expired(*, refund, amount_minor: int) -> JournalEntry:
    """A credit expired with `amount_minor` unspent: the liability ends as breakage (at most once per refund)."""
    return entry_post(
        refund=refund,
        entry_type=EntryType.STORE_CREDIT_EXPIRED,
        lines=[
            (AccountCode.STORE_CREDIT_OUTSTANDING, amount_minor),
            (AccountCode.STORE_CREDIT_BREAKAGE, -amount_minor),
        ],
        memo=f"Store credit of refund {refund.public_id} expired unspent",
    )


# --- end of store credit -------------------------------------------------------------------------


def trial_balance() -> dict[str, int]:
    """Sum of all postings per currency; every value must be 0."""
    rows = Posting.objects.values("currency").annotate(total=Sum("amount_minor")).order_by("currency")
    return {row["currency"]: row["total"] for row in rows}
