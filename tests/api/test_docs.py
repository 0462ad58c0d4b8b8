"""/v1/docs: Swagger UI served by the app itself, under the strict CSP, public like the schema (issue 12, item 14).

In a real browser: tests/e2e/browser/test_csp.py::test_the_api_docs_render_every_operation_under_the_policy.
"""

from __future__ import annotations

import re

import pytest

from core.errors import ERR_AUTHN_REQUIRED, ERR_METHOD_NOT_ALLOWED
from tests.api.test_error_json_everywhere import assert_error_json

pytestmark = pytest.mark.django_db


def test_the_docs_page_is_public_and_loads_only_our_own_files(client):
    response = client.get("/v1/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    assert "/v1/docs?script=" in sources
    # No inline script or style: the CSP (script-src/style-src 'self') would refuse them.
    assert re.search(r"<script>|<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "<style" not in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_start_up_script_is_a_separate_javascript_answer_pointing_at_the_schema(client):
    response = client.get("/v1/docs?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert 'url: "/v1/schema"' in script
    assert '"validatorUrl": null' in script


def test_the_page_is_html_whatever_the_client_accepts(client):
    response = client.get("/v1/docs", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_key_is_refused_as_on_the_schema(client):
    for path in ["/v1/docs", "/v1/schema"]:
        assert_error_json(client.get(path, HTTP_AUTHORIZATION="Bearer nope"), ERR_AUTHN_REQUIRED)


@pytest.mark.parametrize("method", ["options", "post", "delete"])
def test_other_methods_are_a_json_405_naming_get(client, method):
    response = getattr(client, method)("/v1/docs")
    assert_error_json(response, ERR_METHOD_NOT_ALLOWED)
    assert [m.strip() for m in response["Allow"].split(",")] == ["GET", "HEAD"]
