"""Every page carries a strict Content-Security-Policy and the other headers; customer data is never cached.

Issue 10, item 13: before, no page had a Content-Security-Policy (an injected
script would run), and the console queue, timeline, finance screens and the
admin could be kept by a shared cache or the browser after sign-out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from refunds.enums import Role
from tests.console.conftest import review_refund
from tests.refunds.factories import UserFactory
from tests.support.customer_states import refund_in_state

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
REQUIRED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {name: value.strip() for name, _, value in (part.strip().partition(" ") for part in header.split(";"))}


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.fixture
def staff(db) -> Client:
    user = UserFactory(username="senior-headers", role=Role.SENIOR_AGENT, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def pages(staff_client: Client) -> dict[str, object]:
    refund = review_refund()
    customer_refund = refund_in_state("approved")
    anonymous = Client()
    return {
        "console login": anonymous.get("/console/login/"),
        "queue": staff_client.get("/console/"),
        "card": staff_client.get(f"/console/refunds/{refund.public_id}/"),
        "card (htmx)": staff_client.get(f"/console/refunds/{refund.public_id}/", HTTP_HX_REQUEST="true"),
        "timeline": staff_client.get(f"/console/refunds/{refund.public_id}/timeline/"),
        "finance": staff_client.get("/finance/"),
        "admin": staff_client.get("/admin/"),
        "admin login": anonymous.get("/admin/login/"),
        "status page": anonymous.get(f"/r/{customer_refund.status_token}/"),
        "unknown status link": anonymous.get("/r/" + "x" * 43 + "/"),
        "api error": anonymous.get("/v1/refunds/nope"),
        "not found": anonymous.get("/nowhere/"),
        "healthz": anonymous.get("/healthz"),
    }


FETCH_DIRECTIVES = {"script-src", "style-src", "object-src"}  # fall back to default-src when absent


def test_every_page_has_a_strict_content_security_policy(staff):
    for name, response in pages(staff).items():
        policy = directives(response)
        for directive, value in REQUIRED_DIRECTIVES.items():
            found = policy.get(directive, policy["default-src"] if directive in FETCH_DIRECTIVES else None)
            # The status page sends its own, stricter policy (default-src 'none'): stricter passes.
            assert found in {value, "'none'"}, (name, directive, response["Content-Security-Policy"])
        header = response["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header, name


def test_every_page_has_referrer_and_permissions_policies(staff):
    for name, response in pages(staff).items():
        assert response["Referrer-Policy"] in {"same-origin", "no-referrer"}, name
        assert "camera=()" in response["Permissions-Policy"], name
        assert "geolocation=()" in response["Permissions-Policy"], name


def test_pages_with_customer_data_are_never_stored(staff):
    answers = pages(staff)
    for name in ["console login", "queue", "card", "card (htmx)", "timeline", "finance", "admin", "status page"]:
        assert {"no-store", "private"} <= cache_control(answers[name]), name
    assert "no-store" not in cache_control(answers["healthz"])


# What a strict policy (script-src and style-src 'self', no 'unsafe-inline') would block in a page we serve.
INLINE = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "on* handler": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "<style> element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "hx-on": re.compile(r"\shx-on", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


@pytest.mark.parametrize("audience", ["console", "status_page"])
def test_templates_of_served_pages_hold_no_inline_script_or_style(audience):
    """Emails (templates/emails/) are exempt: no browser policy applies to them and mail clients need inline CSS."""
    found = []
    for template in sorted((TEMPLATES / audience).rglob("*.html")):
        text = template.read_text()
        found += [
            f"{template.relative_to(TEMPLATES)}: {what}" for what, pattern in INLINE.items() if pattern.search(text)
        ]
    assert found == []


@pytest.mark.parametrize("base", ["console/base.html", "status_page/page.html"])
def test_htmx_is_told_not_to_inject_styles_or_evaluate_code(base):
    text = (TEMPLATES / base).read_text()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', text)
    assert config, base
    assert '"includeIndicatorStyles":false' in config.group(1)
    assert '"allowEval":false' in config.group(1)
    assert text.index('name="htmx-config"') < text.index("{% htmx_script %}")
