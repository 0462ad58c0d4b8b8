"""The one form of a typed address that the portal both looks orders up by and charges budgets to.

The lookup runs in PostgreSQL (`iexact`, i.e. UPPER() on both sides) and the
budget key is made in Python: if the two could disagree, one address would
have several budgets. They disagree only outside ASCII (the long s "ſ" stays
itself under Python's lower() and is "S" under UPPER(); the dotless "ı" is
"I"). So the typed address is folded once (NFKC, case-folded: "ſ" is "s",
full-width letters are ASCII) and must then be plain ASCII, where both sides
map case the same way; anything else is refused, as the Slack link does with
look-alike addresses. Order emails are ASCII in practice.
"""

from __future__ import annotations

import unicodedata


def address_key(raw: str | None) -> str | None:
    """The folded, trimmed address; None when it is not plain ASCII once folded."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw or "").casefold()).strip()
    return folded if folded.isascii() else None
