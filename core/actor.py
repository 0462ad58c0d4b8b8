"""Who did something: a console user, an API key (and its user), or the system.

Every service takes an `Actor`; the audit trail, decisions and logs record it.
The user and API key are kept as objects (duck-typed, no model import), so
this kernel module depends on nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

# What the audit trail and the decisions store of an actor's label (AuditEvent.actor_label, Decision.actor_label).
LABEL_MAX = 150


@dataclass(frozen=True)
class Actor:
    """Who did something: a console user, an API key (and its user), or the system."""

    type: str
    label: str
    user: Any = None
    api_key: Any = None
    # Where the person acted when it is not the console or the API: "slack" (issue 13). Recorded on
    # every audit event they cause; empty for the console, the API and the system.
    channel: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(type="system", label=label)

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(type="user", label=user.get_username(), user=user)

    @classmethod
    def for_slack_user(cls, user, slack_user_id: str) -> Actor:
        """A console user acting from the Slack approval card (integrations.slack): same rules, other channel.

        The label names the Slack account too ("alice (Slack U0ALICE)"): the
        audit trail then says which Slack member the mapping took for alice.
        At most LABEL_MAX characters; a long username is clipped, never the Slack id.
        """
        suffix = f" (Slack {slack_user_id[:40]})"
        label = user.get_username()[: LABEL_MAX - len(suffix)] + suffix
        return cls(type="user", label=label, user=user, channel="slack")

    @classmethod
    def for_customer(cls, email: str) -> Actor:
        """The customer themselves, through the request portal (issue 15), proved by a one-time code or signed link.

        The label masks the address ("customer j•••@example.com"), as the status
        page does: the audit trail says which customer acted without spreading
        the address through every record that copies a label.
        """
        local, _, domain = (email or "").strip().partition("@")
        masked = f"{local[:1]}•••@{domain}" if domain else "•••"
        return cls(type="customer", label=f"customer {masked}"[:LABEL_MAX])

    @classmethod
    def for_api_key(cls, api_key) -> Actor:
        return cls(
            type="api_key",
            label=f"{api_key.user.get_username()} (key {api_key.prefix})",
            user=api_key.user,
            api_key=api_key,
        )


# Who is acting in this request, for code that is not handed an Actor: the receivers that
# audit changes of access (audit.access) are called by Django's signals, from the admin, a
# shell, a command. Resolved lazily: most requests change nothing of the kind.
_acting: ContextVar[Callable[[], Actor | None] | None] = ContextVar("acting", default=None)


def current_actor(default: Actor) -> Actor:
    """The person acting in the current request (core.middleware.ActorMiddleware), else `default`."""
    resolve = _acting.get()
    actor = resolve() if resolve is not None else None
    return actor or default


def set_current_actor(resolve: Callable[[], Actor | None]) -> Token:
    return _acting.set(resolve)


def reset_current_actor(token: Token) -> None:
    _acting.reset(token)
