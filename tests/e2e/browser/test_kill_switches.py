"""Kill switches in a real browser (issue 16): risk pauses auto-approval with a reason, every staff page shows it.

A risk user opens "Kill switches" from the navigation, pauses auto-approval
with a reason; the banner then stands on every staff page (the queue, the
finance screens for finance, the admin), and the page lists the pause and its
history. Resuming takes a reason too and the banner goes. axe on the page and
the banner. docs/screenshots/console-kill-switches.png comes from here.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from refunds.enums import PauseKind, Role
from refunds.models import OperationsPause
from tests.e2e.browser.test_console import axe_problems
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "kill-switch-browser-pw"
REASON = "INC-311: duplicate refunds reported by two merchants"


@pytest.fixture
def console(live_server, transactional_db):
    for username, role in [("risk1", Role.RISK), ("finance1", Role.FINANCE), ("agent1", Role.AGENT)]:
        user = UserFactory(username=username, role=role, first_name=username.capitalize())
        user.set_password(PASSWORD)
        user.save()
    return live_server.url


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def test_risk_pauses_auto_approval_and_every_staff_page_says_so(console, browser, page, screenshot_dir):
    sign_in(page, console, "risk1")
    page.get_by_role("link", name="Kill switches").click()
    row = page.locator("#switch-auto_approval-all")
    row.get_by_label("Why pause (required)").fill(REASON)
    row.get_by_role("button", name="Pause").click()

    banner = page.get_by_role("alert").filter(has_text="Kill switch in force")
    expect(banner).to_contain_text(REASON)
    expect(page.locator("#switch-auto_approval-all")).to_contain_text("Paused")
    pause = OperationsPause.objects.get(kind=PauseKind.AUTO_APPROVAL, resumed_at__isnull=True)
    assert (pause.reason, pause.paused_by_label) == (REASON, "risk1")
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "console-kill-switches.png"), full_page=True)

    # Another person, another audience of the staff: finance sees the banner on its own screens,
    # an agent on the queue, without the link to manage the switches.
    for username, path in (("finance1", "/finance/"), ("agent1", "/console/")):
        with browser.new_context(viewport={"width": 1280, "height": 900}) as context:
            other = context.new_page()
            sign_in(other, console, username)
            other.goto(f"{console}{path}")
            expect(other.get_by_role("alert").filter(has_text="Kill switch in force")).to_contain_text(REASON)
            expect(other.get_by_role("link", name="Kill switches: resume or see history")).to_have_count(0)

    row = page.locator("#switch-auto_approval-all")
    row.get_by_label("Why resume (required)").fill("INC-311 mitigated: duplicate check deployed")
    row.get_by_role("button", name="Resume").click()
    expect(page.locator("#switch-auto_approval-all")).to_contain_text("Running")
    expect(page.get_by_role("alert").filter(has_text="Kill switch in force")).to_have_count(0)
    pause.refresh_from_db()
    assert pause.resumed_at is not None and pause.resumed_by_label == "risk1"
