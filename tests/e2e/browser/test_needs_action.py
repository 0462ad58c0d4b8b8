"""Needs action in a real browser (issue 12): failures in words, and retry / cancel-and-notify from the card.

Finance opens Needs action from the navigation and sees every kind of entry
with its failure in words; a senior agent retries a retryable failure from the
refund's card (against a real simulator process, which pays it this time) and
cancels another, whose customer gets the cancel email. An agent sees the
entries but no buttons. docs/screenshots/console-needs-action.png and
console-card-failed-actions.png come from here.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from notifications.messages import MSG_CANCELED, MSG_PROCESSING
from notifications.models import CustomerEmail
from providers.base import ProviderOutcome
from refunds.enums import OutboxStatus, Reason, RefundState, Role, WebhookStatus
from refunds.models import OutboxMessage, Refund, WebhookEvent
from refunds.services.outcome import refund_apply_outcome
from refunds.services.transition import refund_lock, refund_transition
from tests.e2e.browser.test_console import axe_problems
from tests.refunds.factories import UserFactory, captured_order, make_refund, requester
from tests.support.live import own_simulator, point_provider_at

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "needs-action-browser-pw"
S = RefundState


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    with own_simulator(tmp_path_factory.mktemp("sim"), stall=2) as sim:
        yield sim


@pytest.fixture
def console(live_server, transactional_db, settings, simulator):
    """The live server's URL (its provider is the simulator), with users that can sign in."""
    point_provider_at(settings, simulator, timeout=2.0)
    for username, role in [("agent", Role.AGENT), ("senior1", Role.SENIOR_AGENT), ("finance1", Role.FINANCE)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()  # signed in, on the role's home


def refund_for(order_id: str, customer: str, amount_minor: int, *, provider: str = "stripe") -> Refund:
    order = captured_order(
        amount_minor=100000,
        order__order_id=order_id,
        order__customer__name=customer,
        order__customer__email=f"{customer.split()[0].lower()}@example.com",
        provider=provider,
        provider_payment_id=f"pi_sim_ok_{uuid.uuid4().hex[:12]}",
    )
    refund = make_refund(order=order, amount_minor=amount_minor, reason=Reason.NOT_RECEIVED, actor=requester())
    assert refund.state == S.APPROVED
    return refund


def move(refund: Refund, to: str, **changes) -> Refund:
    with transaction.atomic():
        locked, payment = refund_lock(refund_id=refund.pk)
        refund_transition(locked, payment=payment, to=to, actor=Actor.system("provider:test"), changes=changes)
    return locked


def sent(refund: Refund) -> Refund:
    # The outbox message of its approval is consumed: the refund went out in round 1.
    OutboxMessage.objects.filter(refund=refund).update(status=OutboxStatus.DONE)
    return move(refund, S.SUBMITTING)


def failed(refund: Refund, code: str, *, retryable: bool) -> Refund:
    return move(sent(refund), S.FAILED, failure_code=code, failure_retryable=retryable)


def work_to_do() -> dict[str, Refund]:
    """One entry of every kind, as a day's failures would leave them."""
    short = failed(refund_for("ORD-5102", "Mara Lindqvist", 4500), "insufficient_funds", retryable=True)
    stolen = failed(refund_for("ORD-5107", "Jon Ng", 12000), "lost_or_stolen_card", retryable=False)
    reversed_ = sent(refund_for("ORD-5093", "Aisha Rahman", 8900))
    provider_id = f"re_{uuid.uuid4().hex[:20]}"
    refund_apply_outcome(refund_id=reversed_.pk, outcome=ProviderOutcome("succeeded", provider_id), source="test")
    refund_apply_outcome(
        refund_id=reversed_.pk,
        outcome=ProviderOutcome("failed", provider_id, failure_code="expired_or_canceled_card"),
        source="webhook",
    )
    dead = sent(refund_for("ORD-5111", "Peter Okafor", 2300))
    OutboxMessage.objects.filter(refund=dead).update(
        status=OutboxStatus.DEAD, attempts=8, dead_at=timezone.now(), last_error="ProviderUnavailable: read timed out"
    )
    payout = refund_for("ORD-5115", "Lena Vogel", 6000, provider="manual")
    WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_held_5120",
        event_type="refund.updated",
        provider_refund_id="re_unknown_5120",
        payload={},
        status=WebhookStatus.HELD,
        note=f"held: amount 40.00 USD of provider refund re_unknown_5120 is not 45.00 USD of refund {short.public_id}",
    )
    return {"short": short, "stolen": stolen, "reversed": reversed_, "dead": dead, "payout": payout}


def test_needs_action_lists_each_failure_in_words_and_retry_and_cancel_work_from_the_card(
    console, page, screenshot_dir
):
    refunds = work_to_do()

    # Finance: every kind of entry, each in words, with the actions finance may take.
    sign_in(page, console, "finance1")
    nav = page.locator("#nav-needs-action")
    expect(nav).to_contain_text("Needs action 6")
    nav.click()
    page.get_by_role("heading", name="Needs action").wait_for()
    short_entry = page.locator(f"#na-failed-{refunds['short'].pk}")
    expect(short_entry).to_contain_text("Our balance at the payment provider was too low to pay this refund.")
    expect(short_entry.get_by_role("button", name="Retry with a new attempt")).to_be_visible()
    reversed_entry = page.locator(f"#na-failed-{refunds['reversed'].pk}")
    expect(reversed_entry).to_contain_text("Reversed by the provider after it was paid")
    expect(reversed_entry).to_contain_text("card has expired or was canceled")
    expect(reversed_entry.get_by_role("button", name="Retry with a new attempt")).to_have_count(0)
    expect(reversed_entry.get_by_role("button", name="Cancel and notify the customer")).to_be_visible()
    expect(page.locator(f"#na-dead-{OutboxMessage.objects.get(refund=refunds['dead']).pk}")).to_contain_text(
        "we do not know whether the refund was made"
    )
    expect(page.locator("#section-payout")).to_contain_text("This refund is paid by hand")
    expect(page.locator("#section-held_webhook")).to_contain_text("does not add up")
    page.screenshot(path=str(screenshot_dir / "console-needs-action.png"), full_page=True)
    assert axe_problems(page) == []

    # Finance reviews the held event: it leaves Needs action, and stays held in the inbox.
    held = page.locator("#section-held_webhook")
    held.get_by_label("What you found").fill("Provider dashboard: 45.00 USD, as ours; a test event")
    held.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator(".message-success")).to_contain_text("Marked reviewed")
    expect(page.locator("#nav-needs-action")).to_contain_text("Needs action 5")
    event = WebhookEvent.objects.get(event_id="evt_held_5120")
    assert (event.status, event.reviewed_by.username) == (WebhookStatus.HELD, "finance1")
    page.get_by_role("button", name="Sign out").click()

    # A senior agent works the retryable failure from its card.
    sign_in(page, console, "senior1")
    page.goto(f"{console}/console/refunds/{refunds['short'].public_id}/")
    panel = page.locator("#needs-action-panel")
    expect(panel).to_contain_text("Failed at the provider — can be retried")
    expect(panel).to_contain_text("Once the balance is topped up, retry with a new attempt.")
    page.screenshot(path=str(screenshot_dir / "console-card-failed-actions.png"), full_page=True)
    assert axe_problems(page) == []
    panel.get_by_role("button", name="Retry with a new attempt").click()
    expect(page.locator(".message-success")).to_contain_text("Retried: the provider paid 45.00 USD")
    expect(page.locator("#needs-action-panel")).to_have_count(0)
    short = Refund.objects.get(pk=refunds["short"].pk)
    assert (short.state, short.submission_count) == (S.COMPLETED, 2)
    assert CustomerEmail.objects.filter(refund=short, message_id=MSG_PROCESSING).exists()

    # ... and gives up on the stolen card's refund: canceled, the customer gets the cancel email.
    page.goto(f"{console}/console/refunds/{refunds['stolen'].public_id}/")
    panel = page.locator("#needs-action-panel")
    expect(panel).to_contain_text("reported lost or stolen")
    panel.get_by_label("Note (internal, optional)").fill("Paying by bank transfer instead")
    panel.get_by_role("button", name="Cancel and notify the customer").click()
    expect(page.locator(".message-success")).to_contain_text("Canceled. The customer gets an email")
    stolen = Refund.objects.get(pk=refunds["stolen"].pk)
    assert stolen.state == S.CANCELED
    assert CustomerEmail.objects.filter(refund=stolen, message_id=MSG_CANCELED).count() == 1
    audit = AuditEvent.objects.get(refund=stolen, action=AuditAction.REFUND_FAILURE_CANCELED)
    assert audit.note == "Paying by bank transfer instead" and audit.actor_label == "senior1"
    expect(page.locator("#nav-needs-action")).to_contain_text("Needs action 3")


def test_an_agent_sees_needs_action_but_cannot_act(console, page):
    refunds = work_to_do()
    sign_in(page, console, "agent")
    page.locator("#nav-needs-action").click()
    entry = page.locator(f"#na-failed-{refunds['short'].pk}")
    expect(entry).to_contain_text("Our balance at the payment provider was too low")
    expect(entry).to_contain_text("A senior agent or finance can retry or cancel this refund.")
    expect(page.get_by_role("button", name="Retry with a new attempt")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel and notify the customer")).to_have_count(0)
    assert axe_problems(page) == []
