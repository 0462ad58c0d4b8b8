"""Two-factor sign-in and the login lockout in a real browser (Debian chromium via Playwright).

A senior signs in with a password, is sent to enrolment, types the key shown
on the page into "their authenticator" (django_otp.oath.totp computes the
code, as the phone would), keeps the recovery codes, and later signs in with
one of them. The pages are checked with axe like every other console page.
"""

from __future__ import annotations

from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from playwright.sync_api import expect

from refunds.enums import Role
from tests.e2e.browser.test_console import axe_problems
from tests.refunds.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "console-browser-pw"


@pytest.fixture
def console(live_server, transactional_db, settings):
    settings.MFA_REQUIRED = True
    user = UserFactory(username="senior1", role=Role.SENIOR_AGENT, first_name="Senior")
    user.set_password(PASSWORD)
    user.save()
    return live_server.url


def password_step(page, base_url: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/console/login/")
    page.get_by_label("Username").fill("senior1")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def code_from_key(typed_key: str) -> str:
    """What an authenticator app shows for the key a person typed in (base32, spaces ignored)."""
    key = typed_key.replace(" ", "")
    key += "=" * (-len(key) % 8)
    return f"{totp(b32decode(key)):06d}"


def test_senior_enrols_an_authenticator_keeps_recovery_codes_and_signs_in_with_one(console, page, screenshot_dir):
    password_step(page, console)
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator(".mfa-qr svg")).to_be_visible()
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "console-mfa-setup.png"), full_page=True)

    page.get_by_label("Code").fill(code_from_key(page.locator(".mfa-secret").inner_text()))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator(".mfa-codes code").all_inner_texts()
    assert len(codes) == 10
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "console-mfa-recovery-codes.png"), full_page=True)
    page.get_by_role("link", name="I have saved my recovery codes").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()

    # Next time: password, then a recovery code (no phone at hand); it works once.
    page.get_by_role("button", name="Sign out").click()
    password_step(page, console)
    expect(page.get_by_role("heading", name="Enter your sign-in code")).to_be_visible()
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "console-mfa-verify.png"), full_page=True)
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_text("You signed in with a recovery code; 9 left.")).to_be_visible()
    assert not StaticToken.objects.filter(token=codes[0]).exists()


def test_the_lockout_page_after_too_many_wrong_passwords(console, page, settings, screenshot_dir):
    for n in range(settings.AXES_FAILURE_LIMIT):
        password_step(page, console, password=f"wrong-{n}")
    password_step(page, console)
    expect(page.get_by_role("heading", name="Sign-in temporarily locked")).to_be_visible()
    assert axe_problems(page) == []
    page.screenshot(path=str(screenshot_dir / "console-login-locked.png"), full_page=True)
