"""No page breaks under the strict Content-Security-Policy (issue 10, item 13).

Chromium enforces the policy and reports every refusal as a
`securitypolicyviolation` event and a console error. These tests drive the
console (sign in, queue, card, an htmx approval, timeline, the admin) and the
status page (with a live update) and fail on any such report: an inline
script, style or handler that slipped in, htmx injecting its indicator
styles, or a resource from another origin.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from refunds.enums import RefundState, Role
from refunds.models import Refund
from refunds.services.decide import refund_approve
from tests.e2e.browser.test_console import PASSWORD, busy_queue, sign_in
from tests.refunds.factories import UserFactory, agent
from tests.support.customer_states import compile_catalogues, refund_in_state

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Playwright's init scripts run outside the page's policy: this listener sees every refusal.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def watched(browser):
    """A page whose CSP reports (events and console messages) are collected in `page.csp_reports()`."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(RECORD_VIOLATIONS)
        console = []
        page.on("console", lambda msg: "Content Security Policy" in msg.text and console.append(msg.text))
        page.csp_reports = lambda: (
            console + [report for frame in page.frames for report in (frame.evaluate("window.__cspViolations || []"))]
        )
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_the_console_runs_under_the_policy_without_a_single_violation(live_server, transactional_db, watched):
    for username, role in [("agent", Role.AGENT), ("boss", Role.ADMIN)]:
        user = UserFactory(username=username, role=role, is_staff=True, is_superuser=username == "boss")
        user.set_password(PASSWORD)
        user.save()
    refunds = busy_queue()
    page = watched()
    response = page.goto(f"{live_server.url}/console/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_in(page, live_server.url, "agent")
    page.wait_for_load_state("networkidle")
    reports = page.csp_reports()

    page.get_by_role("link", name="ORD-4816").click()
    page.get_by_role("heading", name="Policy outcome").wait_for()
    page.get_by_role("button", name="Approve and send reply").click()  # an htmx swap of the card
    page.get_by_text("Approved 75.00 USD").wait_for()
    assert Refund.objects.get(pk=refunds["goodwill"].pk).state == RefundState.APPROVED
    reports += page.csp_reports()

    page.goto(f"{live_server.url}/console/refunds/{refunds['goodwill'].public_id}/timeline/")
    page.wait_for_load_state("networkidle")
    reports += page.csp_reports()
    page.goto(f"{live_server.url}/console/?view=overrides")
    page.wait_for_load_state("networkidle")
    reports += page.csp_reports()
    assert reports == []


def test_the_admin_runs_under_the_policy(live_server, transactional_db, watched):
    user = UserFactory(username="boss", role=Role.ADMIN, is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    refund = busy_queue()["quality"]
    page = watched()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    reports = page.csp_reports()
    for path in ["/admin/refunds/refund/", f"/admin/refunds/refund/{refund.pk}/change/", "/admin/auth/user/add/"]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        reports += page.csp_reports()
    assert reports == []


def test_the_status_page_and_its_live_update_run_without_a_violation(live_server, transactional_db, settings, watched):
    compile_catalogues()
    settings.STATUS_PAGE_POLL_SECONDS = 1
    refund = refund_in_state("requested", locale="en")
    page = watched()
    page.goto(f"{live_server.url}/r/{refund.status_token}/")
    page.wait_for_load_state("networkidle")
    refund_approve(refund_id=refund.pk, actor=agent("approver"))
    expect(page.locator("#status-live")).to_contain_text("Your refund has been approved", timeout=10_000)
    assert page.csp_reports() == []


def test_the_api_docs_render_every_operation_under_the_policy(live_server, transactional_db, watched, screenshot_dir):
    """/v1/docs: Swagger UI from our own static files, its start-up script a separate request (issue 12, item 14)."""
    page = watched()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(f"{live_server.url}/v1/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    page.wait_for_load_state("networkidle")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {path.replace("\u200b", "") for path in paths} >= {
        "/v1/orders",
        "/v1/orders/{order_id}/refunds",
        "/v1/refunds/{refund_id}",
        "/v1/refunds/{refund_id}/decision",
        "/v1/refunds/{refund_id}/cancel",
        "/v1/refunds/{refund_id}/submit",
        "/v1/refunds/{refund_id}/payout",
    }
    # An operation opened shows its request example (api/examples.py) and its answers' examples.
    page.locator(".opblock-post .opblock-summary-path", has_text="/v1/orders/{order_id}/refunds").click()
    body = page.locator(".opblock-section-request-body")
    expect(body).to_contain_text("The parcel never arrived.")
    expect(page.locator(".responses-wrapper")).to_contain_text("R-AUTO-NOT_RECEIVED")
    body.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "api-docs.png"), full_page=False)
    assert page.csp_reports() == []
    assert all(url.startswith(live_server.url) for url in requested), requested


def test_a_violation_would_be_caught(live_server, transactional_db, watched):
    """The checks above cannot pass vacuously: an inline script added to a page is reported."""
    refund = refund_in_state("requested", locale="en")
    page = watched()
    page.goto(f"{live_server.url}/r/{refund.status_token}/")
    page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "document.title = 'injected'";
        document.body.appendChild(script);
    }"""
    )
    expect(page).not_to_have_title("injected")
    page.wait_for_timeout(200)
    assert any("script-src" in report for report in page.csp_reports())
