from ledger.models.account import Account
from ledger.models.entry import JournalEntry, Posting
from ledger.models.reconciliation import ReconciliationItem, ReconciliationRun, TrialBalanceCheck

__all__ = ["Account", "JournalEntry", "Posting", "ReconciliationItem", "ReconciliationRun", "TrialBalanceCheck"]
