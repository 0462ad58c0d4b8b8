"""Cursor pagination for the API's lists (issue 14): `limit` and `after`, answered as one list shape.

Every list answers `{"object": "list", "data": [...], "has_more": bool,
"next_after": "<id>" | null}`: pass `next_after` back as `after` for the next
page, until `has_more` is false. A cursor is the public id of the last item of
the previous page, never an offset, so a page does not shift when new items
arrive. Each list decides what "after" means in its own order (events: higher
sequence; refunds: created earlier) and refuses a cursor that is not one of the
caller's own items with 400 `ERR.VALIDATION.request` (`details.fields.after`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.errors import ERR_VALIDATION, DomainError

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: str | None


class PageInput(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=DEFAULT_LIMIT)
    after = serializers.CharField(max_length=64, required=False, allow_blank=False)


def page_request(query: Any) -> PageRequest:
    """`limit` (1–100, default 10) and `after` from the query string; a bad value is 400 with `details.fields`."""
    data = PageInput(data={key: query.get(key) for key in ("limit", "after") if query.get(key) is not None})
    data.is_valid(raise_exception=True)
    return PageRequest(limit=data.validated_data["limit"], after=data.validated_data.get("after"))


def unknown_cursor(after: str) -> DomainError:
    """The refusal of a cursor that names nothing of the caller's (another merchant's id looks the same)."""
    return DomainError(ERR_VALIDATION, f"'{after[:64]}' is not an item of this list.", fields={"after": ["unknown"]})


def page_body(
    items: Sequence[T], *, limit: int, render: Callable[[T], dict[str, Any]], cursor: Callable[[T], str]
) -> dict[str, Any]:
    """The list answer from up to `limit + 1` items fetched in list order (the extra one only says `has_more`)."""
    page = list(items[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return {
        "object": "list",
        "data": [render(item) for item in page],
        "has_more": has_more,
        "next_after": cursor(page[-1]) if has_more and page else None,
    }


PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        OpenApiParameter.QUERY,
        description="How many items per page (1–100, default 10).",
    ),
    OpenApiParameter(
        "after",
        {"type": "string", "maxLength": 64, "minLength": 1},
        OpenApiParameter.QUERY,
        description="The `next_after` of the previous page: the id of its last item.",
    ),
]


def list_output(item: serializers.Serializer, name: str) -> serializers.Serializer:
    """The schema of a list answer whose items are `item` (for drf-spectacular)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "object": serializers.ChoiceField(choices=["list"]),
            "data": item,
            "has_more": serializers.BooleanField(),
            "next_after": serializers.CharField(allow_null=True),
            "__doc__": "A page of a list (api.pagination): `data` holds up to `limit` items; "
            "`next_after` is the `after` of the next page, null on the last.",
        },
    )()
