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

An email that is not plain ASCII is refused: Unicode lookalikes (an `s`
that is U+017F LATIN SMALL LETTER LONG S, a `K` that is U+212A KELVIN SIGN)
fold to ASCII under `str.lower()` and PostgreSQL's UPPER(), so a
case-insensitive match would hand a stranger a colleague's account; the
match is the database's candidates compared again, in Python, as
ASCII-lowercased strings.

The mapping (user id, email, when it was read) is cached for
SLACK_USER_CACHE_SECONDS (60 s by default), and an entry is used only when
younger than that setting now says (one written under a longer setting is
read again). The modals' taps and submissions, answered within Slack's 3
seconds, may use it; a decision made in Celery (the Approve task) reads
`users.info` afresh (`fresh=True`), so a Slack account turned guest,
deactivated, moved to another workspace or given another email stops
deciding at its next approval. The console user is read again at every use,
so deactivating someone stops them at once, and their permissions are asked
by the services as for any other decision. Refusals are not cached: an admin
who fixes an email sees it work on the next tap. Our workspace's id
(`auth.test`) changes only with the bot token, so it is cached for a day
under a key of the token.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from slack_sdk.errors import SlackApiError, SlackClientError

from integrations.slack.client import Deadline, slack_client

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
NON_ASCII_EMAIL = (
    "The email address of your Slack profile has characters other than plain ASCII letters, digits and "
    "punctuation, so Refund desk will not link it to a console user (lookalike letters could name someone "
    "else). Ask an access admin."
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


# Our workspace's id changes only with the bot token (the cache key is the token's): a day costs one auth.test.
TEAM_CACHE_SECONDS = 24 * 3600


def _unavailable_if_spent(deadline: Deadline | None) -> None:
    if deadline is not None and deadline.expired():
        raise SlackUnavailable("no time left to ask Slack within its 3 seconds")


def slack_team_id(*, deadline: Deadline | None = None) -> str:
    """Our workspace's id (`auth.test`'s team_id), cached for TEAM_CACHE_SECONDS per bot token."""
    key = f"{_cache_prefix()}:team"
    team = cache.get(key)
    if team:
        return team
    _unavailable_if_spent(deadline)
    try:
        team = slack_client(deadline=deadline).auth_test()["team_id"]
    except SlackApiError as error:
        raise slack_unavailable(error) from None
    except NETWORK_ERRORS as error:
        raise slack_unavailable(error) from None
    cache.set(key, team, TEAM_CACHE_SECONDS)
    return team


def _user_key(slack_user_id: str) -> str:
    return f"{_cache_prefix()}:user:{slack_user_id}"


def slack_forget_user(slack_user_id: str) -> None:
    cache.delete(_user_key(slack_user_id))


def ascii_email(email: str | None) -> str | None:
    """`email` stripped and lowercased when it is plain ASCII, else None (never equal to anything).

    `str.lower()` of ASCII text changes A-Z alone; of other text it may fold
    a lookalike (U+212A KELVIN SIGN becomes "k") into someone else's address.
    """
    text = (email or "").strip()
    return text.lower() if text and text.isascii() else None


def _console_users(email: str, *, active: bool | None = None) -> list[Any]:
    """Console users whose email is `email` (ASCII, lowercased) up to ASCII case, oldest first.

    The database's case-insensitive match finds the candidates (it folds more
    than ASCII case); each is compared again as ASCII-lowercased text.
    """
    users = get_user_model().objects.filter(email__iexact=email)
    if active is not None:
        users = users.filter(is_active=active)
    return [user for user in users.order_by("pk") if ascii_email(user.email) == email]


def _from_cache(slack_user_id: str) -> SlackPerson | None:
    """The cached mapping, checked against the console user as they are now; None: look it up again.

    An entry older than SLACK_USER_CACHE_SECONDS is not used (the setting may
    have been lowered since it was written with a longer expiry).
    """
    cached = cache.get(_user_key(slack_user_id))
    if not isinstance(cached, dict):
        return None
    cached_at = cached.get("at")
    if not isinstance(cached_at, int | float) or not 0 <= time.time() - cached_at < settings.SLACK_USER_CACHE_SECONDS:
        return None
    user = get_user_model().objects.filter(pk=cached.get("user_id")).first()
    if user is None or ascii_email(user.email) != cached.get("email"):
        # Deleted, or their console email changed since: the mapping no longer holds.
        slack_forget_user(slack_user_id)
        return None
    if not user.is_active:
        return SlackPerson(None, INACTIVE)
    if len(_console_users(cached["email"], active=True)) != 1:
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


def slack_console_user(slack_user_id: str, *, fresh: bool = False, deadline: Deadline | None = None) -> SlackPerson:
    """The console user behind `slack_user_id`, or None with why (see the module docstring).

    `fresh`: ask Slack even when the mapping is cached (a decision made in
    Celery: Slack's side of the person is as it is now). `deadline`: the
    request's budget, when Slack waits for the answer (each call gets what is left).
    Raises `SlackUnavailable` when Slack does not answer (the caller retries
    or tells the person to tap again); never decides anything itself.
    """
    if not slack_user_id:
        return SlackPerson(None, NOT_MAPPED)
    if not fresh:
        known = _from_cache(slack_user_id)
        if known is not None:
            return known
    # Whatever Slack says now replaces what was cached, including "no longer anyone".
    slack_forget_user(slack_user_id)
    team_id = slack_team_id(deadline=deadline)
    _unavailable_if_spent(deadline)
    try:
        account = slack_client(deadline=deadline).users_info(user=slack_user_id)["user"]
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
    given = str((account.get("profile") or {}).get("email") or "").strip()
    if not given:
        return SlackPerson(None, NO_EMAIL)
    email = ascii_email(given)
    if email is None:
        logger.warning("slack email not ascii", extra={"message_id": "MSG.slack.user_email_not_ascii"})
        return SlackPerson(None, NON_ASCII_EMAIL)
    users = _console_users(email)
    active = [user for user in users if user.is_active]
    if len(active) > 1:
        return SlackPerson(None, AMBIGUOUS)
    if not active:
        return SlackPerson(None, INACTIVE if users else NOT_MAPPED)
    user = active[0]
    cache.set(
        _user_key(slack_user_id),
        {"user_id": user.pk, "email": email, "at": time.time()},
        settings.SLACK_USER_CACHE_SECONDS,
    )
    return SlackPerson(user)
