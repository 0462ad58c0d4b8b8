"""The URL patterns the server answers, walked from Django's resolver.

Tests of hostile input take their paths from here, not from a list typed
by hand, so a path added later is covered by them without anyone
remembering to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
# The methods a class-based view serves, besides what every view answers.
IGNORED_METHODS = {"options", "head", "trace"}


@dataclass(frozen=True)
class Route:
    """One URL pattern: its route with `<converter:name>` parameters, its name and view."""

    route: str
    name: str
    callback: Callable

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.route)

    @property
    def methods(self) -> set[str]:
        """What the view serves; a function view under /webhooks/ takes POST (require_POST), others GET."""
        view_class = getattr(self.callback, "view_class", None)
        if view_class is None:
            return {"post"} if self.route.startswith("webhooks/") else {"get"}
        return {m for m in view_class.http_method_names if hasattr(view_class, m)} - IGNORED_METHODS

    def path(self, values: Mapping[str, str]) -> str:
        """The route with each parameter replaced by `values[name]` (already URL-encoded)."""

        def value(match: re.Match) -> str:
            name = match.group(1)
            if name not in values:
                raise AssertionError(f"/{self.route}: no test value for the path parameter <{name}> — add one")
            return values[name]

        return "/" + PARAMETER.sub(value, self.route)


def routes(*prefixes: str) -> list[Route]:
    """Every URL pattern whose route starts with one of `prefixes` (e.g. "v1/", "webhooks/")."""

    def walk(patterns: list, prefix: str, namespace: str) -> Iterator[Route]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, route, inner)
            elif isinstance(pattern, URLPattern):
                yield Route(route=route, name=f"{namespace}{pattern.name or ''}", callback=pattern.callback)

    return [r for r in walk(get_resolver().url_patterns, "", "") if r.route.startswith(prefixes)]
