"""Password guessing on the staff logins (issue 10, item 10): throttled per account and per address.

The attack as reported: 60 wrong passwords, then the right one, and the
attacker was signed in. Every staff login (console, and the Django admin's,
which finance and risk use) goes through `authenticate()`, where django-axes
counts failures in the database (shared by every web process).
"""

from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.test import Client

from refunds.enums import Role
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-for-tests"
CONSOLE_LOGIN = "/console/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def senior():
    user = UserFactory(username="sam", role=Role.SENIOR_AGENT, is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(client: Client, username: str, password: str, *, ip: str = "198.51.100.7", url: str = CONSOLE_LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_sixty_wrong_passwords_then_the_right_one_is_refused(senior):
    client = Client()
    for n in range(60):
        attempt(client, "sam", f"guess-{n}")
    response = attempt(client, "sam", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/console/").status_code == 302  # still signed out


def test_account_is_locked_whatever_address_the_guesses_come_from(settings, senior):
    # Per account: an attacker spreading guesses over many addresses still locks the account.
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sam", f"guess-{n}", ip=f"203.0.113.{n + 1}")
    response = attempt(Client(), "sam", PASSWORD, ip="192.0.2.200")
    assert response.status_code == 429
    assert "Sign-in temporarily locked" in response.content.decode()


def test_address_is_locked_whatever_accounts_it_tries(settings, senior):
    # Per address: one address guessing across many usernames is locked, for every account.
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), f"someone{n}", "guess", ip="198.51.100.9")
    assert attempt(Client(), "sam", PASSWORD, ip="198.51.100.9").status_code == 429
    # Another address is not affected, nor is the account itself.
    response = attempt(Client(), "sam", PASSWORD, ip="198.51.100.10")
    assert response.status_code == 302 and response["Location"] == "/console/"


def test_admin_login_counts_and_locks_too(settings, senior):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sam", f"guess-{n}", url=ADMIN_LOGIN)
    assert attempt(Client(), "sam", PASSWORD, url=ADMIN_LOGIN).status_code == 429
    # The count is per account across both forms: the console is locked for it as well.
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.1").status_code == 429


def test_failures_below_the_limit_do_not_lock(settings, senior):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(Client(), "sam", f"guess-{n}")
    response = attempt(Client(), "sam", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/console/"


def test_an_insider_signing_in_between_guesses_does_not_reset_the_count(settings, senior):
    # A colleague with an account of their own guesses at the senior's password from their desk, signing
    # in as themselves between guesses: the successes must not wipe the failures recorded for that address.
    mallory = UserFactory(username="mallory", role=Role.AGENT)
    mallory.set_password("mallory-own-password")
    mallory.save()
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sam", f"guess-{n}")
        attempt(Client(), "mallory", "mallory-own-password")
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.50").status_code == 429


def test_lockout_expires_after_the_cool_off(settings, senior):
    from axes.models import AccessAttempt

    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sam", f"guess-{n}")
    assert attempt(Client(), "sam", PASSWORD).status_code == 429
    # Age the failures past the cool-off, as time passing would.
    cooloff = settings.AXES_COOLOFF_TIME
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time - cooloff)
    assert attempt(Client(), "sam", PASSWORD).status_code == 302


def test_operator_unlocks_an_account_with_axes_reset_username(settings, senior):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), "sam", f"guess-{n}", ip=f"203.0.113.{n + 1}")
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.5").status_code == 429
    call_command("axes_reset_username", "sam")
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.5").status_code == 302


def test_client_address_is_remote_addr_unless_a_trusted_header_is_configured(settings, senior):
    # By default a forged X-Forwarded-For changes nothing: the lockout follows the real peer.
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            CONSOLE_LOGIN,
            {"username": f"nobody{n}", "password": "x"},
            REMOTE_ADDR="198.51.100.20",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    assert attempt(Client(), "sam", PASSWORD, ip="198.51.100.20").status_code == 429


def test_behind_a_proxy_the_configured_header_names_the_client(settings, senior):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            CONSOLE_LOGIN,
            {"username": f"nobody{n}", "password": "x"},
            REMOTE_ADDR="10.0.0.1",  # the proxy
            HTTP_X_REAL_IP="198.51.100.30",
        )
    proxied = {"REMOTE_ADDR": "10.0.0.1"}
    locked = Client().post(
        CONSOLE_LOGIN, {"username": "sam", "password": PASSWORD}, HTTP_X_REAL_IP="198.51.100.30", **proxied
    )
    assert locked.status_code == 429
    other = Client().post(
        CONSOLE_LOGIN, {"username": "sam", "password": PASSWORD}, HTTP_X_REAL_IP="198.51.100.31", **proxied
    )
    assert other.status_code == 302


def test_lockout_is_logged_without_the_password_or_the_email(settings, senior, caplog):
    senior.username = "sam@example.com"
    senior.save()
    with caplog.at_level(logging.INFO):
        for n in range(settings.AXES_FAILURE_LIMIT):
            attempt(Client(), "sam@example.com", f"secret-guess-{n}")
        attempt(Client(), "sam@example.com", PASSWORD)
    lines = [record.getMessage() + " " + repr(record.__dict__) for record in caplog.records]
    assert any("MSG.auth.login_locked_out" in line for line in lines)
    text = "\n".join(lines)
    assert "sam@example.com" not in text
    assert "secret-guess" not in text and PASSWORD not in text
