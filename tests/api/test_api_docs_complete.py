"""docs/api.md names every URL under /v1, every operation with its scope, every body field, scope and error code.

Issue 12, item 14: the order body, `/submit`, `/payout` and the
`refunds:submit` scope were missing from it. A new URL, operation, field,
scope or error code fails here until the page says what it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from core.errors import CATALOG
from refunds.enums import Scope

pytestmark = pytest.mark.django_db

API_MD = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
METHODS = {"get", "post", "put", "patch", "delete"}


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def v1_paths() -> list[str]:
    """Every URL pattern under /v1, as the docs write it: `/v1/refunds/{refund_id}`."""
    return sorted(
        "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        for route in _routes(get_resolver().url_patterns)
        if route.startswith("v1/")
    )


@pytest.fixture(scope="module")
def served(django_db_setup, django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_every_url_pattern_under_v1_is_in_the_docs():
    paths = v1_paths()
    assert {"/v1/schema", "/v1/docs", "/v1/refunds/{refund_id}/payout"} <= set(paths)
    missing = [path for path in paths if f"{path}`" not in API_MD]
    assert missing == [], f"docs/api.md does not mention {missing}"


def test_every_scope_is_in_the_docs():
    missing = [scope for scope in Scope.values if f"`{scope}`" not in API_MD]
    assert missing == [], f"docs/api.md does not mention the scopes {missing}"


def _table_row(method: str, path: str) -> str:
    rows = [line for line in API_MD.splitlines() if line.startswith(f"| `{method} {path}` |")]
    assert len(rows) == 1, f"docs/api.md's table of calls has no row `{method} {path}`"
    return rows[0]


def test_every_operation_has_a_row_naming_its_scope(served):
    for path, item in served["paths"].items():
        for method in set(item) & METHODS:
            view = resolve(path.replace("{", "").replace("}", "")).func.view_class()
            view.request = SimpleNamespace(method=method.upper())
            assert f"`{view.required_scope}`" in _table_row(method.upper(), path), (method, path)


def _fields(served: dict, schema: dict, seen: set[str]) -> set[str]:
    """The property names of a body, its nested objects and its alternatives (`oneOf`), recursively."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return set()
        seen.add(name)
        return _fields(served, served["components"]["schemas"][name], seen)
    names = set(schema.get("properties", {}))
    for child in [
        *schema.get("properties", {}).values(),
        *schema.get("oneOf", []),
        *schema.get("allOf", []),
        *([schema["items"]] if isinstance(schema.get("items"), dict) else []),
    ]:
        # A nested body (`$ref` to a …Request component) or an inline object or list; enums and scalars end here.
        if isinstance(child, dict) and (
            child.get("$ref", "").endswith("Request") or "properties" in child or "items" in child
        ):
            names |= _fields(served, child, seen)
    return names


def test_every_field_of_every_request_body_is_in_the_docs(served):
    missing = set()
    for path, item in served["paths"].items():
        for method in set(item) & METHODS:
            body = item[method].get("requestBody")
            if body is None:
                continue
            for content in body["content"].values():  # JSON, or multipart for an upload
                for field in _fields(served, content["schema"], set()):
                    if not re.search(rf"`[^`\n]*\b{re.escape(field)}\b[^`\n]*`", API_MD):
                        missing.add(f"{method.upper()} {path}: {field}")
    assert missing == set(), f"docs/api.md does not mention {sorted(missing)}"


def test_every_error_code_is_in_the_docs():
    missing = [code for code in CATALOG if f"`{code}`" not in API_MD]
    assert missing == [], f"docs/api.md's error table does not list {missing}"
