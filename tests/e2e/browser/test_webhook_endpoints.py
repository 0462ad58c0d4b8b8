"""Merchant webhooks in a real browser (issue 14): the access admin adds an endpoint, copies its secret
from the one page that shows it, rotates it, and reads the attempts log; an agent reads on the refund card
whether the merchant was told.

The attempts are recorded as the delivery engine records them (tests.console.webhook_fixtures): the
engine is tested against a real receiver elsewhere; here the subject is what staff see. Every page runs
under the strict CSP and passes axe. docs/screenshots/webhooks-*.png come from here (UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from audit.models import AuditEvent
from events.models import Event, WebhookDelivery, WebhookEndpoint
from events.signing import secret_unseal
from refunds.enums import Role
from refunds.services.merchants import merchant_default
from tests.console.webhook_fixtures import a_refund_with_events, delivery_of, record_attempt
from tests.e2e.browser.test_console import axe_problems
from tests.e2e.browser.test_csp import RECORD_VIOLATIONS
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "webhooks-browser-pw"
URL = "https://93.184.215.14/hooks/refunds"


@pytest.fixture
def console(live_server, transactional_db):
    for username, role in [("keys", Role.ACCESS_ADMIN), ("agent", Role.AGENT)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    merchant = merchant_default()
    merchant.name, merchant.contact_email = "Acme Outdoor", "integrations@acme.example"
    merchant.save()
    return live_server.url


@pytest.fixture
def watched_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    yield page
    context.close()


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def csp_violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_an_access_admin_adds_an_endpoint_sees_the_secret_once_rotates_and_reads_the_attempts(
    console, watched_page, screenshot_dir
):
    page = watched_page
    sign_in(page, console, "keys")
    page.goto(f"{console}/console/webhooks/")
    page.get_by_role("link", name="Merchant webhooks").click()
    page.get_by_role("link", name="Acme Outdoor").click()
    expect(page.get_by_label("Contact email")).to_have_value("integrations@acme.example")

    # Add an endpoint: the secret is on the next page, once.
    page.get_by_role("link", name="Add endpoint").click()
    page.get_by_label("URL").fill(URL)
    page.get_by_label("Description").fill("Acme ERP refunds listener")
    assert page.get_by_role("checkbox", name="refund.* — every refund event").is_checked()
    page.screenshot(path=str(screenshot_dir / "webhooks-create.png"), full_page=True)
    assert axe_problems(page) == []
    page.get_by_role("button", name="Create endpoint").click()
    page.get_by_role("heading", name="Endpoint created").wait_for()
    endpoint = WebhookEndpoint.objects.get()
    secret = page.locator("#endpoint-secret").input_value()
    assert secret.startswith("whsec_") and secret == secret_unseal(endpoint.secret_sealed)
    expect(page.locator(".secret-panel")).to_contain_text("Shown once.")
    copy = page.get_by_role("button", name="Copy secret")
    expect(copy).to_be_visible()  # shown by console.js; hidden without JavaScript
    copy.click()
    expect(page.locator("#secret-copied")).not_to_be_empty()
    page.screenshot(path=str(screenshot_dir / "webhooks-secret.png"), full_page=True)
    assert axe_problems(page) == []

    # Never again: the endpoint's page, and going back and forth, do not show it.
    page.get_by_role("link", name="I have copied it").click()
    page.get_by_role("heading", name=URL).wait_for()
    assert secret not in page.content()
    # Back to the secret's page: it was never cached (no-store), so the browser would have to send the form again.
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
        page.go_back()
    page.wait_for_url("chrome-error://**")
    assert secret not in page.content()
    page.goto(f"{console}/console/webhooks/endpoints/{endpoint.public_id}/")
    assert secret not in page.content()

    # Rotate: a new secret, once; the old one signs beside it for 24 hours.
    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("heading", name="New signing secret").wait_for()
    rotated = page.locator("#endpoint-secret").input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    expect(page.locator(".secret-panel")).to_contain_text("24 hours")
    page.get_by_role("link", name="I have copied it").click()
    assert rotated not in page.content() and secret not in page.content()

    # Deliveries happen: the attempts log, newest first, with a Redeliver button per event.
    refund = a_refund_with_events()
    created, approved = Event.objects.filter(refund=refund).order_by("sequence")[:2]
    start = timezone.now()  # the event was written just now: its attempts follow it, seconds apart
    first = delivery_of(created, endpoint)
    record_attempt(first, status_code=None, error="connection refused", latency_ms=3, at=start)
    record_attempt(
        first,
        status_code=503,
        excerpt="<html>Service Unavailable</html>",
        latency_ms=812,
        at=start + timedelta(seconds=2),
    )
    record_attempt(first, status_code=200, excerpt='{"received": true}', latency_ms=95, at=start + timedelta(seconds=6))
    record_attempt(
        delivery_of(approved, endpoint),
        status_code=500,
        excerpt='{"error": "db locked"}',
        latency_ms=1204,
        at=start + timedelta(seconds=8),
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=start + timedelta(seconds=8))
    page.reload()
    rows = page.locator("table.attempts tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("HTTP 500")
    expect(rows.last).to_contain_text("connection refused")
    expect(page.locator("#endpoint-status")).to_contain_text("Failing since")
    page.screenshot(path=str(screenshot_dir / "webhooks-endpoint.png"), full_page=True)
    assert axe_problems(page) == []
    rows.first.get_by_role("button", name=f"Redeliver {approved.public_id}").click()
    expect(page.locator(".message-success")).to_contain_text(f"{approved.public_id} (refund.approved) is queued")
    assert WebhookDelivery.objects.filter(event=approved, trigger="redeliver").count() == 1

    # The merchant's page: the endpoint, its status and last attempt.
    page.locator("nav.crumbs").get_by_role("link", name="Acme Outdoor").click()
    expect(page.locator("table.endpoints")).to_contain_text("Failing")
    expect(page.locator("table.endpoints")).to_contain_text("HTTP 500")
    page.screenshot(path=str(screenshot_dir / "webhooks-merchant.png"), full_page=True)
    assert axe_problems(page) == []
    assert csp_violations(page) == []
    actions = set(AuditEvent.objects.filter(actor_label="keys").values_list("action", flat=True))
    assert {"webhook_endpoint.created", "webhook_endpoint.secret_rotated", "event.redelivered"} <= actions
    page.get_by_role("button", name="Sign out").click()

    # An agent on the refund's card: was the merchant told?
    sign_in(page, console, "agent")
    page.goto(f"{console}/console/refunds/{refund.public_id}/")
    told = page.locator("#merchant-events")
    expect(told).to_contain_text("delivered")
    expect(told).to_contain_text("retrying")
    expect(told).to_contain_text("attempt 1 failed (HTTP 500)")
    told.screenshot(path=str(screenshot_dir / "webhooks-card-panel.png"))
    assert axe_problems(page) == []
    assert csp_violations(page) == []
