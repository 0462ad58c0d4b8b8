"""Two-factor sign-in for staff (issue 10, item 10): TOTP enrolment, the verify step, recovery codes.

Codes are computed from the device's key with django_otp.oath.totp, as an
authenticator app would; nothing about verification is mocked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from base64 import b32encode
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.enums import AuditAction
from audit.models import AuditEvent
from refunds.enums import RefundState, Role
from refunds.models import Decision, Refund
from refunds.permissions import requires_mfa
from tests.console.conftest import review_refund
from tests.refunds.factories import UserFactory, api_key

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-for-tests"
SETUP = "/console/account/two-factor/setup/"
VERIFY = "/console/account/two-factor/verify/"
CODES = "/console/account/two-factor/recovery-codes/"
REGENERATE = "/console/account/two-factor/recovery-codes/regenerate/"


@pytest.fixture
def mfa_on(settings):
    settings.MFA_REQUIRED = True


def staff(username: str, role: str | None, **kwargs):
    user = UserFactory(username=username, role=role, is_staff=True, **kwargs)
    user.set_password(PASSWORD)
    user.save()
    return user


def code_of(device: TOTPDevice, ahead: int = 0) -> str:
    """The code an authenticator app shows now (`ahead` steps later: a code not used yet)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead):0{device.digits}d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    """A user who set up two-factor sign-in earlier: an authenticator and ten recovery codes."""
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(10)]
    for code in codes:
        static.token_set.create(token=code)
    return device, codes


def password_login(username: str) -> Client:
    client = Client()
    response = client.post("/console/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def card_url(refund: Refund, action: str = "") -> str:
    return f"/console/refunds/{refund.public_id}/" + (f"{action}/" if action else "")


# --- who must -----------------------------------------------------------------------


def test_roles_above_agent_require_mfa_and_agents_do_not():
    assert not requires_mfa(UserFactory(username="a", role=Role.AGENT))
    for role in (Role.SENIOR_AGENT, Role.FINANCE, Role.RISK, Role.ADMIN):
        assert requires_mfa(UserFactory(username=f"u-{role}", role=role)), role
    assert requires_mfa(UserFactory(username="root", is_superuser=True))


def test_senior_without_mfa_is_blocked_from_queue_card_approve_admin_and_finance(mfa_on):
    senior = staff("sam", Role.SENIOR_AGENT)
    refund = review_refund()
    client = password_login("sam")
    for url in ["/console/", card_url(refund), "/admin/", "/finance/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(SETUP), url
    # The approval is not carried out: nothing the request asked for runs before the second factor.
    response = client.post(card_url(refund, "approve"), {"note": "ok"})
    assert response.status_code == 302 and response["Location"] == SETUP
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED
    assert not Decision.objects.filter(actor=senior).exists()


def test_finance_risk_and_superuser_are_sent_to_enrolment_too(mfa_on):
    staff("fin", Role.FINANCE)
    staff("risky", Role.RISK)
    staff("root", None, is_superuser=True)
    for username, url in [("fin", "/finance/"), ("risky", "/admin/"), ("root", "/admin/")]:
        response = password_login(username).get(url)
        assert response["Location"].startswith(SETUP), username


def test_agent_is_not_required_to_use_a_second_factor(mfa_on):
    staff("ana", Role.AGENT)
    assert password_login("ana").get("/console/").status_code == 200


def test_nobody_is_required_while_mfa_required_is_off(settings):
    settings.MFA_REQUIRED = False
    staff("sam", Role.SENIOR_AGENT)
    assert password_login("sam").get("/console/").status_code == 200


def test_htmx_request_is_told_to_load_the_step_as_a_whole_page(mfa_on):
    staff("sam", Role.SENIOR_AGENT)
    response = password_login("sam").get("/console/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    assert response["HX-Redirect"].startswith(SETUP)


def test_api_keys_are_unaffected(mfa_on):
    # The key's user is a senior: the API authenticates by key, never by a session, so no second factor.
    refund = review_refund()
    key = api_key("checker", role=Role.SENIOR_AGENT)
    response = Client().post(
        f"/v1/refunds/{refund.public_id}/decision",
        {"decision": "approve"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED


# --- enrolment ----------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_confirms_with_a_real_code(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    client = password_login("sam")
    page = client.get(f"{SETUP}?next=/console/")
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "<svg" in html and "<script" not in html.split("<main", 1)[1]
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'class="mfa-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    assert secret == b32encode(device.bin_key).decode().rstrip("=")
    # A reload shows the same key (the app may already hold it).
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=user).count() == 1

    response = client.post(SETUP, {"code": code_of(device), "next": "/console/"})
    assert response.status_code == 302 and response["Location"].startswith(CODES)
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action=AuditAction.STAFF_MFA_ENROLLED, actor_user=user).count() == 1

    codes_page = client.get(response["Location"])
    shown = re.findall(r"<li><code>([a-z2-7]+)</code></li>", codes_page.content.decode())
    assert len(shown) == 10
    assert set(shown) == set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert "no-store" in codes_page["Cache-Control"]
    # Shown once: the next visit does not show them again.
    again = client.get(CODES)
    assert again.status_code == 302 and again["Location"] == "/console/account/"
    # The session passed the second factor: the console opens.
    assert client.get("/console/").status_code == 200


def test_a_wrong_code_does_not_enrol(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    client = password_login("sam")
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"
    response = client.post(SETUP, {"code": wrong})
    assert response.status_code == 200 and "does not match" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed and not StaticDevice.objects.filter(user=user).exists()
    assert client.get("/console/")["Location"].startswith(SETUP)


def test_a_password_alone_cannot_enrol_another_authenticator(settings):
    # Someone with the password of an enrolled user must not be able to add their own phone.
    settings.MFA_REQUIRED = False
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    client = password_login("sam")
    response = client.get(SETUP)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    client.post(SETUP, {"code": "123456"})
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


# --- the verify step after the password ---------------------------------------------


def test_enrolled_user_must_verify_after_the_password_with_a_real_code(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    client = password_login("sam")
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"] == f"{VERIFY}?next=%2Fconsole%2F"
    wrong = f"{(int(code_of(device)) + 7) % 1_000_000:06d}"
    refused = client.post(VERIFY, {"code": wrong, "next": "/console/"})
    assert refused.status_code in (200, 429) and "<form" in refused.content.decode()
    assert client.get("/console/").status_code == 302
    # django-otp makes a wrong code cost a wait before the next is checked (1 s after the first).
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    accepted = client.post(VERIFY, {"code": code_of(device), "next": "/console/"})
    assert accepted.status_code == 302 and accepted["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_a_used_authenticator_code_cannot_be_replayed(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    code = code_of(device)
    assert password_login("sam").post(VERIFY, {"code": code})["Location"] == "/console/"
    replay = password_login("sam").post(VERIFY, {"code": code})
    assert replay.status_code in (200, 429)


def test_wrong_codes_are_throttled_even_when_the_next_code_is_right(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    client = password_login("sam")
    for n in range(3):
        client.post(VERIFY, {"code": f"{(int(code_of(device)) + 11 + n) % 1_000_000:06d}"})
    response = client.post(VERIFY, {"code": code_of(device)})
    assert response.status_code == 429 and "Too many wrong codes" in response.content.decode()
    assert client.get("/console/").status_code == 302


def test_user_who_enrolled_must_verify_even_when_not_required(settings):
    settings.MFA_REQUIRED = False
    user = staff("ana", Role.AGENT)
    enrolled(user)
    assert password_login("ana").get("/console/")["Location"].startswith(VERIFY)


def test_verify_never_redirects_off_site(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    response = password_login("sam").post(VERIFY, {"code": code_of(device), "next": "https://evil.example/"})
    assert response["Location"] == "/console/"


# --- recovery codes -----------------------------------------------------------------


def test_a_recovery_code_signs_in_once(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    _, codes = enrolled(user)
    first = password_login("sam")
    response = first.post(VERIFY, {"code": codes[0].upper(), "next": "/console/"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert "9 left" in first.get("/console/").content.decode()
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    second = password_login("sam")
    reused = second.post(VERIFY, {"code": codes[0], "next": "/console/"})
    assert reused.status_code in (200, 429)
    assert second.get("/console/").status_code == 302
    # Another, unused code still works.
    StaticDevice.objects.filter(user=user).update(throttling_failure_timestamp=None, throttling_failure_count=0)
    assert second.post(VERIFY, {"code": codes[1]})["Location"] == "/console/"


def test_regenerating_recovery_codes_replaces_the_old_set(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, old = enrolled(user)
    client = password_login("sam")
    client.post(VERIFY, {"code": code_of(device)})
    assert "Recovery codes left: <strong>10</strong>" in client.get("/console/account/").content.decode()
    response = client.post(REGENERATE)
    assert response.status_code == 302 and response["Location"].startswith(CODES)
    new = re.findall(r"<li><code>([a-z2-7]+)</code></li>", client.get(response["Location"]).content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == set(new)
    assert AuditEvent.objects.filter(action=AuditAction.STAFF_RECOVERY_CODES_REGENERATED).count() == 1


def test_regenerating_needs_a_verified_session(settings):
    settings.MFA_REQUIRED = False
    user = staff("sam", Role.SENIOR_AGENT)
    _, old = enrolled(user)
    client = password_login("sam")
    client.post(REGENERATE)
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == set(old)


# --- a lost device ------------------------------------------------------------------


def test_mfa_reset_command_removes_the_devices_and_the_user_enrols_again(mfa_on):
    user = staff("sam", Role.SENIOR_AGENT)
    device, _ = enrolled(user)
    verified = password_login("sam")
    verified.post(VERIFY, {"code": code_of(device)})
    call_command("mfa_reset", "sam", "--reason", "phone lost, ticket 42")
    assert not TOTPDevice.objects.filter(user=user).exists() and not StaticDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action=AuditAction.STAFF_MFA_RESET)
    assert event.subject == f"user {user.pk}" and "ticket 42" in event.note
    # The session that had passed with the old device has lost it.
    assert verified.get("/console/")["Location"].startswith(SETUP)


# --- the setting's default ----------------------------------------------------------


@pytest.mark.parametrize(("debug", "expected"), [("0", "True"), ("1", "False")])
def test_mfa_required_defaults_to_on_in_production_and_off_in_the_demo(debug, expected):
    from cryptography.fernet import Fernet

    # A production-shaped environment (no demo secrets), so settings load with DEBUG=0 too.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": debug,
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "PROVIDER_WEBHOOK_SECRET": "whsec_" + Fernet.generate_key().decode(),
        "PROVIDER_API_KEY": "sk_live_" + Fernet.generate_key().decode(),
        "STATUS_TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "EVIDENCE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "STORE_CREDIT_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PORTAL_CODE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.MFA_REQUIRED)",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == expected


# --- the admin ----------------------------------------------------------------------


def test_admin_shows_who_enrolled_never_the_key_and_resets_with_an_audit_event(mfa_on):
    root = staff("root", None, is_superuser=True)
    root_device, _ = enrolled(root)
    senior = staff("sam", Role.SENIOR_AGENT)
    device, codes = enrolled(senior)
    client = password_login("root")
    client.post(VERIFY, {"code": code_of(root_device)})
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert "sam" in page and device.key not in page and b32encode(device.bin_key).decode()[:16] not in page
    qr = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/", follow=True)
    assert qr.redirect_chain and qr["Content-Type"].startswith("text/html")  # django-otp's QR view is not mounted
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    assert not any(code in client.get("/admin/").content.decode() for code in codes)

    response = client.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset_two_factor", "_selected_action": [device.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=senior).exists() and not StaticDevice.objects.filter(user=senior).exists()
    assert AuditEvent.objects.filter(action=AuditAction.STAFF_MFA_RESET, actor_user=root).count() == 1
    assert TOTPDevice.objects.filter(user=root).exists()
