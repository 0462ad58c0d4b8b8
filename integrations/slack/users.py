"""Who is tapping: the console user a Slack user is, by the email of their Slack profile (docs/slack.md).

A Slack user is a console user when Slack vouches for an email address of
our own workspace that exactly one active console user has:

1. `users.info` → the Slack account: refused when deleted, a bot or an app,
   a guest (`is_restricted`, `is_ultra_restricted`), of another workspace
   (its `team_id` is not ours, `auth.test`'s: a Slack Connect channel shares
   the card with people of other organisations, and their profile email is
   whatever their own admins let them type), or when Slack has not confirmed
   the email (`is_email_confirmed` not true);
2. `profile.email` → exactly one active console user with that email, case
   ignored (none or several: refused, and told which).

The mapping (user id and email) is cached for SLACK_USER_CACHE_SECONDS, so
a tap costs no Slack call; the console user is read again at every use, so
deactivating someone stops them at once, and their permissions are asked by
the services as for any other decision. Refusals are not cached: an admin
who fixes an email sees it work on the next tap.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from slack_sdk.errors import SlackApiError, SlackClientError

from integrations.slack.client import slack_client

logger = logging.getLogger("integrations.slack.users")

# Why a Slack user is not mapped to a console user: the ephemeral answer says so, in these words.
NOT_MAPPED = (
    "Your Slack account is not linked to a Refund desk console user: no active console user has the email "
    "address of your Slack profile. Ask an access admin to set it on your console account."
)
AMBIGUOUS = (
    "Several console users have the email address of your Slack profile, so Refund desk cannot tell which one "
    "you are. Ask an access admin to fix the accounts."
)
INACTIVE = "Your Refund desk console account is deactivated, so you cannot decide refunds."
DELETED = "Your Slack account is deactivated."
BOT = "Bots and apps cannot decide refunds."
GUEST = "Guests of this Slack workspace cannot decide refunds."
OTHER_WORKSPACE = "Only members of the Refund desk Slack workspace can decide refunds, not people of a shared channel."
EMAIL_UNCONFIRMED = (
    "Slack has not confirmed the email address of your profile, so it cannot be linked to a console user."
)
NO_EMAIL = "Refund desk cannot read the email address of your Slack profile (the app needs the users:read.email scope)."


class SlackUnavailable(Exception):
    """Slack did not answer who someone is (timeout, 5xx, 429): nothing is decided; try again later.

    `retry_after` is Slack's Retry-After on a 429, else None.
    """

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


# What a network or protocol failure looks like from slack_sdk (it calls urllib).
NETWORK_ERRORS = (SlackClientError, URLError, socket.timeout, TimeoutError, ConnectionError, ValueError)


@dataclass(frozen=True)
class SlackPerson:
    """Who is tapping: the console user when mapped, else None and why (words for the person)."""

    user: Any
    why: str = ""


def slack_unavailable(error: Exception) -> SlackUnavailable:
    """The call failed for a reason that may pass (SlackApiError of a 429 or 5xx, or the network)."""
    retry_after = None
    response = getattr(error, "response", None)
    if response is not None:
        try:
            retry_after = float(response.headers.get("Retry-After") or response.headers.get("retry-after"))
        except (TypeError, ValueError, AttributeError):
            retry_after = None
    return SlackUnavailable(f"{error.__class__.__name__}: {error}"[:300], retry_after=retry_after)


def _is_transient(error: SlackApiError) -> bool:
    status = getattr(error.response, "status_code", 0) or 0
    return status == 429 or status >= 500


def _cache_prefix() -> str:
    # Another bot token may be another workspace: its users are other people.
    token = hashlib.sha256(settings.SLACK_BOT_TOKEN.encode()).hexdigest()[:12]
    return f"slack:{token}"


def slack_team_id(*, timeout: float | None = None) -> str:
    """Our workspace's id (`auth.test`'s team_id), cached like the users."""
    key = f"{_cache_prefix()}:team"
    team = cache.get(key)
    if team:
        return team
    try:
        team = slack_client(timeout=timeout).auth_test()["team_id"]
    except SlackApiError as error:
        raise slack_unavailable(error) from None
    except NETWORK_ERRORS as error:
        raise slack_unavailable(error) from None
    cache.set(key, team, settings.SLACK_USER_CACHE_SECONDS)
    return team


def _user_key(slack_user_id: str) -> str:
    return f"{_cache_prefix()}:user:{slack_user_id}"


def slack_forget_user(slack_user_id: str) -> None:
    cache.delete(_user_key(slack_user_id))


def _from_cache(slack_user_id: str) -> SlackPerson | None:
    """The cached mapping, checked against the console user as they are now; None: look it up again."""
    cached = cache.get(_user_key(slack_user_id))
    if not isinstance(cached, dict):
        return None
    user = get_user_model().objects.filter(pk=cached.get("user_id")).first()
    if user is None or (user.email or "").strip().lower() != cached.get("email"):
        # Deleted, or their console email changed since: the mapping no longer holds.
        slack_forget_user(slack_user_id)
        return None
    if not user.is_active:
        return SlackPerson(None, INACTIVE)
    if get_user_model().objects.filter(email__iexact=user.email.strip(), is_active=True).count() != 1:
        # Someone else got the same email since: no longer "exactly one".
        slack_forget_user(slack_user_id)
        return None
    return SlackPerson(user)


def _account_refusal(account: dict[str, Any], team_id: str) -> str:
    """Why this Slack account may not act as anyone, or ""."""
    if account.get("deleted"):
        return DELETED
    if account.get("is_bot") or account.get("is_app_user") or account.get("id") == "USLACKBOT":
        return BOT
    if account.get("is_restricted") or account.get("is_ultra_restricted"):
        return GUEST
    if account.get("team_id") != team_id:
        return OTHER_WORKSPACE
    if account.get("is_email_confirmed") is not True:
        return EMAIL_UNCONFIRMED
    return ""


def slack_console_user(slack_user_id: str, *, timeout: float | None = None) -> SlackPerson:
    """The console user behind `slack_user_id`, or None with why (see the module docstring).

    Raises `SlackUnavailable` when Slack does not answer (the caller retries
    or tells the person to tap again); never decides anything itself.
    """
    if not slack_user_id:
        return SlackPerson(None, NOT_MAPPED)
    known = _from_cache(slack_user_id)
    if known is not None:
        return known
    team_id = slack_team_id(timeout=timeout)
    try:
        account = slack_client(timeout=timeout).users_info(user=slack_user_id)["user"]
    except SlackApiError as error:
        if _is_transient(error):
            raise slack_unavailable(error) from None
        # user_not_found, missing_scope …: Slack answered, and the answer is "not someone we can map".
        logger.warning(
            "slack user not readable",
            extra={"message_id": "MSG.slack.user_unreadable", "error": str(error.response.get("error", ""))[:100]},
        )
        return SlackPerson(None, NOT_MAPPED)
    except NETWORK_ERRORS as error:
        raise slack_unavailable(error) from None
    refusal = _account_refusal(account, team_id)
    if refusal:
        return SlackPerson(None, refusal)
    email = str((account.get("profile") or {}).get("email") or "").strip().lower()
    if not email:
        return SlackPerson(None, NO_EMAIL)
    users = get_user_model().objects.filter(email__iexact=email)
    active = list(users.filter(is_active=True).order_by("pk")[:2])
    if len(active) > 1:
        return SlackPerson(None, AMBIGUOUS)
    if not active:
        return SlackPerson(None, INACTIVE if users.exists() else NOT_MAPPED)
    user = active[0]
    cache.set(_user_key(slack_user_id), {"user_id": user.pk, "email": email}, settings.SLACK_USER_CACHE_SECONDS)
    return SlackPerson(user)
