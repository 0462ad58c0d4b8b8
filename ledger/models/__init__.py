from ledger.models.account import Account
from ledger.models.correction import CorrectingEntry
from ledger.models.entry import JournalEntry, Posting
from ledger.models.period import AccountingPeriod, PeriodReopenRequest

__all__ = ["Account", "AccountingPeriod", "CorrectingEntry", "JournalEntry", "PeriodReopenRequest", "Posting"]
