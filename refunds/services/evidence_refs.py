"""What counts as evidence on a refund request (SPEC §3.2 evidence rule, §9 `evidence`).

An item is either the id of a file already uploaded for the order (an
`EvidenceFile`, see `refunds.services.evidence`), or a typed reference to
something the customer holds elsewhere — the brief's body shape,
`{"type": "photo" | "document" | "url", "uri": "https://…"}`. Anything else
(a dash, a file name, an http link) is refused: the evidence rule would
otherwise be satisfied by a string nobody can look at.

Stored on `Refund.evidence` as `{"type": "file", "file_id": N}` or
`{"type": …, "uri": …}`, so the console card can show and link each one.
Older refunds may still hold plain strings; readers keep showing them as text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from core.errors import ERR_VALIDATION, DomainError
from refunds.models import EvidenceFile, Order

REFERENCE_TYPES = ("photo", "document", "url")
FILE = "file"
MAX_ITEMS = 10
MAX_URI_LENGTH = 2000
# A file id has at most 18 digits (as a string or a JSON integer): beyond, the lookup would leave bigint.
MAX_FILE_ID = 10**18 - 1
_FILE_ID = re.compile(r"[0-9]{1,18}")
# Printable ASCII without space: a URI as sent on the wire (RFC 3986 percent-encodes the rest).
_URI_CHARS = re.compile(r"[\x21-\x7e]+")


def evidence_item_parse(item: Any) -> dict[str, Any]:
    """One evidence item as a client sends it -> its stored form; ValueError says what is wrong.

    A file id may be a JSON integer, a string of digits or the stored form
    `{"type": "file", "file_id": N}`; a reference must
    be exactly `{"type", "uri"}` with an https URI naming a host, without
    credentials or spaces, at most MAX_URI_LENGTH characters.
    """
    if isinstance(item, int) and not isinstance(item, bool):
        if not 0 < item <= MAX_FILE_ID:
            raise ValueError(f"A file id is a positive number of at most {len(str(MAX_FILE_ID))} digits.")
        return {"type": FILE, "file_id": item}
    if isinstance(item, str):
        if _FILE_ID.fullmatch(item):
            return evidence_item_parse(int(item))
        raise ValueError(
            f'\'{item[:40]}\' is not evidence: send an uploaded file id or {{"type", "uri"}} with an https URI.'
        )
    if not isinstance(item, dict):
        raise ValueError('Evidence is an uploaded file id or {"type", "uri"}.')
    if item.get("type") == FILE and set(item) == {"type", "file_id"}:
        # The stored (and API output) form of a file id: what a client reads back, it may send again.
        file_id = item["file_id"]
        if isinstance(file_id, bool) or not isinstance(file_id, int):
            raise ValueError("A file id is a positive number.")
        return evidence_item_parse(file_id)
    if set(item) != {"type", "uri"}:
        raise ValueError('A reference has exactly the keys "type" and "uri".')
    kind, uri = item["type"], item["uri"]
    if kind not in REFERENCE_TYPES:
        raise ValueError(f"The type of a reference is one of {', '.join(REFERENCE_TYPES)}.")
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH or not _URI_CHARS.fullmatch(uri):
        raise ValueError(f"The uri is an https URI of at most {MAX_URI_LENGTH} characters, without spaces.")
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise ValueError("The uri is not a valid URI.") from None
    if not uri.startswith("https://") or not host:
        raise ValueError("The uri must be an https:// address with a host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("The uri must not carry credentials.")
    return {"type": kind, "uri": uri}


def evidence_clean(*, order: Order, items: list[Any]) -> list[dict[str, Any]]:
    """Every item parsed (`evidence_item_parse`), and every file id one uploaded for this order.

    Another order's file is refused like an unknown one: a file id is not a
    capability to show someone else's evidence on this refund. Raises
    DomainError(ERR_VALIDATION, field="evidence").
    """
    if len(items) > MAX_ITEMS:
        raise DomainError(ERR_VALIDATION, f"At most {MAX_ITEMS} evidence items.", field="evidence")
    try:
        parsed = [evidence_item_parse(item) for item in items]
    except ValueError as error:
        raise DomainError(ERR_VALIDATION, str(error), field="evidence") from None
    file_ids = {item["file_id"] for item in parsed if item["type"] == FILE}
    if file_ids:
        known = set(EvidenceFile.objects.filter(pk__in=file_ids, refund__order=order).values_list("pk", flat=True))
        unknown = sorted(file_ids - known)
        if unknown:
            raise DomainError(
                ERR_VALIDATION, f"No evidence file {unknown[0]} was uploaded for this order.", field="evidence"
            )
    return parsed
