"""A refund's metadata follows Stripe's rules (refunds.metadata), and the API's schema says exactly the same."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ERR_VALIDATION, DomainError
from refunds.metadata import MAX_KEY_LENGTH, MAX_KEYS, MAX_VALUE_LENGTH, METADATA_SCHEMA, metadata_clean

# PostgreSQL text holds no NUL, and the API's parser refuses it everywhere before this rule is asked.
_TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=MAX_VALUE_LENGTH + 20)
_KEYS = st.text(st.characters(exclude_characters="\x00"), min_size=0, max_size=MAX_KEY_LENGTH + 5)
_VALUES = st.one_of(_TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
# The served schema's `x-propertyNames` read as JSON Schema's `propertyNames` (OpenAPI 3.0 has no such keyword).
_SCHEMA = jsonschema.Draft202012Validator(
    {"propertyNames" if k == "x-propertyNames" else k: v for k, v in METADATA_SCHEMA.items() if k != "description"}
)


def _acceptable(value: dict) -> bool:
    return len(value) <= MAX_KEYS and all(
        0 < len(key) <= MAX_KEY_LENGTH
        and "[" not in key
        and "]" not in key
        and isinstance(item, str)
        and len(item) <= MAX_VALUE_LENGTH
        for key, item in value.items()
    )


@given(st.dictionaries(_KEYS, _VALUES, max_size=MAX_KEYS + 3))
def test_metadata_is_accepted_exactly_when_stripes_rules_and_the_schema_allow_it(value):
    expected = _acceptable(value)
    assert _SCHEMA.is_valid(value) == expected
    if expected:
        assert metadata_clean(value) == value
    else:
        with pytest.raises(DomainError) as refused:
            metadata_clean(value)
        assert refused.value.code == ERR_VALIDATION and refused.value.details == {"field": "metadata"}


@pytest.mark.parametrize(
    "value, words",
    [
        ({"a": 42}, "values are strings"),
        ({"a": None}, "is null"),
        ({"a": True}, "is bool"),
        ({"": "x"}, "non-empty"),
        ({"k" * 41: "x"}, "longer than 40"),
        ({"items[0]": "x"}, "square bracket"),
        ({"a": "v" * 501}, "longer than 500"),
        ({f"k{n}": "v" for n in range(51)}, "at most 50 keys"),
        (["a"], "an object"),
    ],
)
def test_each_refusal_says_what_is_wrong(value, words):
    with pytest.raises(DomainError) as refused:
        metadata_clean(value)
    assert words in refused.value.message


def test_none_means_no_metadata_and_the_limits_themselves_are_accepted():
    assert metadata_clean(None) == {}
    full = {f"{n:02d}" + "k" * (MAX_KEY_LENGTH - 2): "v" * MAX_VALUE_LENGTH for n in range(MAX_KEYS)}
    assert metadata_clean(full) == full
