"""Reading untrusted JSON: bounded nesting, and nothing PostgreSQL cannot store.

`json.loads` recurses once per nesting level: a body of 5,000 `[` is a
RecursionError (a 500), and a few hundred levels that Python still reads can
exhaust the stack of whatever walks the value next. And PostgreSQL's `jsonb`
and `text` refuse the NUL character, so a stored payload or a looked-up string
carrying `\\u0000` fails in the database, again a 500. Every reader of
untrusted JSON (the API's parser, provider webhooks) goes through `loads`.
"""

from __future__ import annotations

import json
from typing import Any

# Deep enough for any body we accept (an order is 4 levels, a provider event under 10).
MAX_DEPTH = 32


class JSONInputError(ValueError):
    """The input is not JSON we accept; the message says why, for the caller."""


class JSONNotValid(JSONInputError):
    """The input is no JSON at all (as opposed to JSON beyond our limits)."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode `data`; raise `JSONInputError` if it is no JSON, nested deeper than `max_depth`, or holds NUL."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONInputError(f"nested deeper than {max_depth} levels") from None
    except ValueError as error:  # also UnicodeDecodeError, and numbers of more than 4,300 digits
        raise JSONNotValid(f"not valid JSON ({error.__class__.__name__})") from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise `JSONInputError` if a decoded value nests deeper than `max_depth` or holds NUL (walked, not recursed)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise JSONInputError("a string holds the NUL character")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise JSONInputError(f"nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise JSONInputError("a key holds the NUL character")
                pending.append((child, depth + 1))
        else:
            pending.extend((child, depth + 1) for child in item)
