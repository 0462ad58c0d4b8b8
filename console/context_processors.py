"""Template context every staff page shares."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from refunds.services.pauses import pauses_in_force


def operations_pauses(request: HttpRequest) -> dict[str, Any]:
    """`operations_pauses`: the kill switches in force, for the banner of every staff page (issue 16).

    Lazy: read (one indexed query) only by a page that shows the banner, and
    only for a signed-in user — customers' and anonymous pages never ask. Not
    cached: a pause shows on the next page any process renders.
    """

    def load() -> list:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        return pauses_in_force()

    return {"operations_pauses": SimpleLazyObject(load)}
