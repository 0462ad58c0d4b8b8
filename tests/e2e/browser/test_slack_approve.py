"""Issue 13: a senior approves from "Slack" — the simulator's channel page in chromium — and the refund completes.

A real stack (gunicorn, a Celery worker with beat, the provider simulator,
the Slack simulator): the merchant asks for a refund the policy sends to
review; the worker posts its card; the senior, a Slack user whose profile
email is their console account's, clicks Approve on the page; the signed
interaction reaches the app, the worker decides it through the services, the
provider settles it, and the same card shows the completion without buttons.
With UPDATE_SCREENSHOTS=1 the card before and after lands in docs/screenshots/.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from refunds.enums import Role
from refunds.models import Refund
from tests.e2e.browser.conftest import SCREENSHOTS
from tests.refunds.factories import UserFactory, api_key
from tests.support.live import ApiClient
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.slack_sim import APPROVALS_CHANNEL

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    from tests.support.stack import Stack

    running = Stack(slack=True).start()
    yield running
    running.stop()


def _shot(page, name: str, tmp_path) -> None:
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    page.screenshot(path=str(target / name), full_page=True)


def test_a_senior_approves_on_the_slack_page_and_the_refund_completes(stack, transactional_db, browser, tmp_path):
    merchant = ApiClient(stack.url, api_key("merchant", role=None))
    senior = UserFactory(username="dana", email="Dana.Senior@example.com", first_name="Dana", role=Role.SENIOR_AGENT)
    stack.slack.add_user("U0DANA", senior.email.lower(), "dana")
    order_id, _ = push_order(merchant, mode="ok", amount_minor=10000)
    created = merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(4000, reason="goodwill"), **{"Idempotency-Key": "slack-page"}
    ).json()
    refund_id = created["refund_id"]
    assert created["state"] == "requested"

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{stack.slack.url}/_sim/?channel={APPROVALS_CHANNEL}&user=U0DANA")
        card = page.locator(".message", has_text=refund_id)
        expect(card).to_be_visible(timeout=60_000)  # posted by the worker; the page refreshes itself
        expect(card.get_by_role("button", name="Approve")).to_be_visible()
        _shot(page, "slack-card-before.png", tmp_path)

        card.get_by_role("button", name="Approve").click()
        done = wait_state(merchant, refund_id, {"completed"}, timeout=60)
        assert done["state"] == "completed"
        expect(card).to_contain_text("Completed", timeout=60_000)
        expect(card.get_by_role("button", name="Approve")).to_have_count(0)
        expect(card).to_contain_text("dana (Slack U0DANA)")
        _shot(page, "slack-card-after.png", tmp_path)
    finally:
        context.close()

    refund = Refund.objects.get(public_id=refund_id)
    approval = refund.audit_events.get(action="refund.approved")
    assert (approval.channel, approval.actor_user_id) == ("slack", senior.pk)
