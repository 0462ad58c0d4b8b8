"""A refund's `metadata`: the merchant's own key-value pairs, under Stripe's rules (issue 14).

The merchant attaches its own references (a ticket id, a warehouse, a
campaign) to a refund at creation; we store them as given and return them on
every read and in every event about the refund. The rules are Stripe's, so an
integration written for Stripe's `metadata` fits unchanged:

- an object of at most MAX_KEYS keys;
- each key a non-empty string of at most MAX_KEY_LENGTH characters, without
  square brackets (Stripe refuses them: its form encoding reads `a[b]` as nesting);
- each value a string of at most MAX_VALUE_LENGTH characters. Only strings:
  Stripe's JSON API refuses numbers, booleans and null, and so do we — a
  number would come back as a string from Stripe, and a silent conversion here
  would make the same request mean different things in the two APIs.

`metadata_clean` is the one check; the API field (`api.serializers.MetadataField`)
and its schema say exactly the same, and `refunds.services.request.refund_request` applies it.
"""

from __future__ import annotations

from typing import Any

from core.errors import ERR_VALIDATION, DomainError

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
# A key: 1–40 characters, none of them a square bracket (ECMA and Python read this pattern alike).
KEY_PATTERN = r"^[^\[\]]{1,40}$"

# What the OpenAPI schema says of `metadata`: the same limits, so a schema-driven client (and
# Schemathesis) is refused exactly where the schema says it will be. OpenAPI 3.0 (what the schema
# is) has no `propertyNames`: the key rules ride as the extension `x-propertyNames` (JSON Schema's
# meaning) and in the description, and a key that breaks them is refused by `metadata_clean` as a
# rule the schema cannot state (400 with `details.field`, like an unknown evidence file).
KEY_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN}
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "maxProperties": MAX_KEYS,
    "x-propertyNames": KEY_SCHEMA,
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
    "description": (
        f"Your own key-value pairs (Stripe's rules): at most {MAX_KEYS} keys of 1–{MAX_KEY_LENGTH} characters "
        f"without `[` or `]`, each value a string of at most {MAX_VALUE_LENGTH} characters (numbers, booleans and "
        'null are refused: send "42", not 42). Stored as given; returned on reads and in events; {} when none.'
    ),
}


def _refuse(message: str) -> DomainError:
    return DomainError(ERR_VALIDATION, message, field="metadata")


def metadata_problem(value: Any, *, keys: bool = True) -> str | None:
    """What is wrong with `value` as metadata, in a sentence; None when it is fine.

    `keys=False` leaves the keys' rules out: what a JSON schema without
    `propertyNames` can say (the API serializer's share; `metadata_clean` checks all).
    """
    if not isinstance(value, dict):
        return "Metadata is an object of string keys and string values."
    if len(value) > MAX_KEYS:
        return f"Metadata has at most {MAX_KEYS} keys; this has {len(value)}."
    for key, item in value.items():
        shown = repr(key)[:60]
        if keys and (not isinstance(key, str) or not key):
            return "A metadata key is a non-empty string."
        if keys and len(key) > MAX_KEY_LENGTH:
            return f"The metadata key {shown} is longer than {MAX_KEY_LENGTH} characters."
        if keys and ("[" in key or "]" in key):
            return f"The metadata key {shown} contains a square bracket."
        if not isinstance(item, str):
            kind = "null" if item is None else type(item).__name__
            return f'The value of metadata key {shown} is {kind}: values are strings (send "42", not 42).'
        if len(item) > MAX_VALUE_LENGTH:
            return f"The value of metadata key {shown} is longer than {MAX_VALUE_LENGTH} characters."
    return None


def metadata_clean(value: Any) -> dict[str, str]:
    """`value` as stored metadata (None means none: {}); raises DomainError(ERR_VALIDATION, field="metadata")."""
    if value is None:
        return {}
    problem = metadata_problem(value)
    if problem:
        raise _refuse(problem)
    return dict(value)
