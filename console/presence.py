"""Who has a refund's card open right now: the "being viewed by …" marker (issue 12 item 7).

Presence lives in the cache (Redis in every deployment), one key per refund
holding {user id: (name, seen until)}, with a short TTL; the card's heartbeat
(console/static/console/presence.js) refreshes it every HEARTBEAT seconds and
tells it when the card is left. Two agents opening one card then see each
other on the card and in the queue, and do not work it twice.

A hint, never a lock: deciding stays guarded by the row lock and the
version. So it fails open — a cache that is down or slow (its socket timeout
bounds the wait) shows no marker and never an error, and two heartbeats
racing on the same key may drop one entry until the next beat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

logger = logging.getLogger("console.presence")

HEARTBEAT = 10  # seconds between two beats of an open card (presence.js reads data-heartbeat)
TTL = 30  # a viewer not heard from for this long has left (closed the tab, lost the network)


def _key(public_id: str) -> str:
    return f"presence:refund:{public_id}"


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def _fresh(entries: Any, now: float) -> dict[str, tuple[str, float]]:
    if not isinstance(entries, dict):
        return {}
    return {uid: (name, until) for uid, (name, until) in entries.items() if until > now}


def presence_touch(*, public_id: str, user: Any) -> None:
    """`user` has the card open now (the card's GET and every heartbeat)."""
    now = time.time()
    try:
        entries = _fresh(cache.get(_key(public_id)), now)
        entries[str(user.pk)] = (_name(user), now + TTL)
        cache.set(_key(public_id), entries, TTL)
    except Exception as error:  # noqa: BLE001 - presence is a hint: a cache outage must not fail the card
        _unavailable(error)


def presence_leave(*, public_id: str, user: Any) -> None:
    """`user` closed the card (the heartbeat's last word on pagehide)."""
    try:
        entries = _fresh(cache.get(_key(public_id)), time.time())
        if entries.pop(str(user.pk), None) is not None:
            cache.set(_key(public_id), entries, TTL)
    except Exception as error:  # noqa: BLE001 - see presence_touch
        _unavailable(error)


def viewers_of(*, public_ids: Iterable[str], user: Any = None) -> dict[str, list[str]]:
    """Names of who has each card open, except `user`: one cache round trip for a queue page."""
    ids = list(public_ids)
    if not ids:
        return {}
    try:
        found = cache.get_many([_key(public_id) for public_id in ids])
    except Exception as error:  # noqa: BLE001 - see presence_touch
        _unavailable(error)
        return {}
    now = time.time()
    me = str(user.pk) if user is not None else None
    viewers: dict[str, list[str]] = {}
    for public_id in ids:
        try:
            names = sorted(name for uid, (name, _) in _fresh(found.get(_key(public_id)), now).items() if uid != me)
        except (TypeError, ValueError):  # a value of another shape (an older release): no marker, not an error
            continue
        if names:
            viewers[public_id] = names
    return viewers


def _unavailable(error: Exception) -> None:
    logger.warning(
        "presence unavailable",
        extra={"message_id": "MSG.console.presence_unavailable", "error": f"{error.__class__.__name__}: {error}"[:300]},
    )
