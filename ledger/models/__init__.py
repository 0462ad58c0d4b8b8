from ledger.models.account import Account
from ledger.models.entry import JournalEntry, Posting

__all__ = ["Account", "JournalEntry", "Posting"]
