"""The simulator's workspace, in memory: users, messages, ephemeral messages, modals, triggers, faults.

One `Workspace` per process, guarded by one lock: the HTTP server is
threaded, and the app calls back into the Web API (views.open, chat.update)
while a click of ours is still waiting for its answer - so the lock is never
held across a network call (see `interactions.py`).

Time is the wall clock plus `clock_offset`, which tests move forward
(`POST /_sim/clock`) to expire a trigger without sleeping.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "U0SIMBOT"
BOT_ID = "B0SIMBOT"
APP_ID = "A0SIMAPP"
BOT_NAME = "refund-desk"
DEFAULT_TEAM_ID = "T0SIM"
APPROVALS_CHANNEL = "C0APPROVALS"  # what the tests and the demo set SLACK_APPROVALS_CHANNEL to
TEAM_DOMAIN = "refund-desk-sim"
TRIGGER_TTL_SECONDS = 3.0  # Slack: a trigger_id may be exchanged for a modal within 3 seconds
RESPONSE_URL_TTL_SECONDS = 30 * 60  # Slack: a response_url works 5 times within 30 minutes
RESPONSE_URL_USES = 5
CALL_LOG_LIMIT = 5000


@dataclass
class Fault:
    """The next `count` calls of `method` ("*" for any) answer `status` instead of being served.

    `delay` (seconds, the real clock): the answer comes that much later; with
    status 0 the call is then served as usual (a slow Slack, not a failing one).
    """

    method: str
    status: int
    count: int
    retry_after: int | None = None
    delay: float = 0.0
    error: str | None = None  # with status 200: Slack's `{"ok": false, "error": …}` (is_archived …)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": self.status,
            "count": self.count,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "error": self.error,
        }


@dataclass
class Trigger:
    user: str
    issued_at: float
    exchanged: bool = False


@dataclass
class ResponseUrl:
    channel: str
    message_ts: str
    user: str
    issued_at: float
    uses: int = 0


@dataclass
class Workspace:
    """All simulator state. Callers hold `lock` while reading or changing anything here."""

    team_id: str = DEFAULT_TEAM_ID
    interactions_url: str | None = None
    trigger_ttl: float = TRIGGER_TTL_SECONDS
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> in post order
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # view id -> record, in open order
    triggers: dict[str, Trigger] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    clock_offset: float = 0.0
    _last_ts_us: int = 0
    _defaults: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.remember_defaults()

    def remember_defaults(self) -> None:
        """What `reset` goes back to: the start's interactions URL, trigger TTL and members."""
        self._defaults = {
            "interactions_url": self.interactions_url,
            "trigger_ttl": self.trigger_ttl,
            "users": copy.deepcopy(self.users),
        }

    # --- time and identifiers ------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    def next_ts(self) -> str:
        """A message timestamp like Slack's ("1733150000.000100"), strictly increasing in this workspace."""
        micros = max(int(self.now() * 1_000_000), self._last_ts_us + 100)
        self._last_ts_us = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def new_trigger(self, user: str) -> str:
        """A trigger_id in Slack's shape ("12345.98765.abcd2358fdea"), exchangeable once within the TTL."""
        trigger_id = f"{int(self.now())}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = Trigger(user=user, issued_at=self.now())
        return trigger_id

    def new_response_url(self, base_url: str, *, channel: str, message_ts: str, user: str) -> str:
        token = secrets.token_urlsafe(18)
        self.response_urls[token] = ResponseUrl(channel, message_ts, user, self.now())
        return f"{base_url}/_sim/respond/{token}"

    @staticmethod
    def new_view_id() -> str:
        return "V" + secrets.token_hex(5).upper()

    # --- lookups -------------------------------------------------------------------------------------------

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    def user_views(self, user: str | None) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for v in self.views.values() if user is None or v["user"] == user]

    def open_view_for(self, user: str) -> dict[str, Any] | None:
        """The user's modal on screen (the newest open one), if any."""
        opened = [v for v in self.views.values() if v["user"] == user and v["state"] == "open"]
        return opened[-1] if opened else None

    # --- faults and the call log ---------------------------------------------------------------------------

    def take_fault(self, method: str) -> Fault | None:
        """The first armed fault for `method` (or "*"), spent by one; None when the call is to be served."""
        for fault in self.faults:
            if fault.count > 0 and fault.method in (method, "*"):
                fault.count -= 1
                return Fault(fault.method, fault.status, 1, fault.retry_after, fault.delay, fault.error)
        return None

    def record_call(self, entry: dict[str, Any]) -> None:
        self.calls.append(entry)
        if len(self.calls) > CALL_LOG_LIMIT:
            del self.calls[: len(self.calls) - CALL_LOG_LIMIT]

    def reset(self) -> None:
        """Back to the state of a fresh start (the command line's interactions URL and members included)."""
        self.users = copy.deepcopy(self._defaults["users"])
        self.messages.clear()
        self.ephemerals.clear()
        self.views.clear()
        self.triggers.clear()
        self.response_urls.clear()
        self.faults.clear()
        self.calls.clear()
        self.clock_offset = 0.0
        self.interactions_url = self._defaults["interactions_url"]
        self.trigger_ttl = self._defaults["trigger_ttl"]


def channel_name(channel: str) -> str:
    """The name shown for a channel id: the approvals channel of the tests and the demo has a real one."""
    return "refund-approvals" if channel == APPROVALS_CHANNEL else channel.lower()


def user_object(
    *,
    id: str,
    email: str,
    name: str,
    team_id: str,
    real_name: str | None = None,
    display_name: str | None = None,
    is_bot: bool = False,
    deleted: bool = False,
    is_restricted: bool = False,
    is_ultra_restricted: bool = False,
    is_email_confirmed: bool = True,
    is_admin: bool = False,
    tz: str = "Europe/London",
) -> dict[str, Any]:
    """A user as users.info returns it (the fields an app reads; Slack sends more)."""
    real = real_name or name
    return {
        "id": id,
        "team_id": team_id,
        "name": name,
        "deleted": bool(deleted),
        "color": "9f69e7",
        "real_name": real,
        "tz": tz,
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": {
            "email": email,
            "real_name": real,
            "real_name_normalized": real,
            "display_name": display_name if display_name is not None else name,
            "display_name_normalized": display_name if display_name is not None else name,
            "team": team_id,
        },
        "is_admin": bool(is_admin),
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": bool(is_restricted),
        "is_ultra_restricted": bool(is_ultra_restricted),
        "is_bot": bool(is_bot),
        "is_app_user": False,
        "is_email_confirmed": bool(is_email_confirmed),
        "updated": int(time.time()),
    }
