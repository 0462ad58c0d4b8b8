"""Which database connection a read or a session-level statement uses (config/settings/databases.py).

Three aliases, the last two optional:

* `default` — the primary (through PgBouncer with DATABASE_POOLER=pgbouncer): every write, every
  read under `select_for_update`, every read inside a transaction that decides something, and the
  API's reads (a merchant reads what it just wrote).
* `replica` (DATABASE_REPLICA_URL) — a streaming replica, some milliseconds to seconds behind. Only
  the screens and reports that accept that read from it, and they ask explicitly:
  `.using(read_alias())`. Never through a router's `db_for_read`: a router cannot tell a list on a
  screen from the read a decision is made on.
* `direct` (DATABASE_DIRECT_URL) — the primary without the pooler, for what must outlive a
  transaction on one server session (a session advisory lock, LISTEN): `session_alias()`.

After a staff member's own write (a POST that succeeded) their next pages read the primary for
REPLICA_PIN_SECONDS (`primary_pinned`, set per request by core.middleware.ReadYourWritesMiddleware): the
exception they just resolved is not shown open again because the replica is a moment behind.

docs/operations.md ("Read replica") lists the screens on the replica and what its lag looks like there.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

DEFAULT, DIRECT, REPLICA = "default", "direct", "replica"
T = TypeVar("T")

_pinned: contextvars.ContextVar[bool] = contextvars.ContextVar("primary_pinned", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def read_alias() -> str:
    """Where a screen or report reads: the replica when there is one, else the primary.

    Inside a transaction on the primary the answer is the primary whatever the
    caller: a read in a transaction is one the transaction may act on, and the
    replica is neither in that transaction's snapshot nor behind its locks.
    So is a read while `primary_pinned` (right after the reader's own write).
    """
    if not replica_configured() or _pinned.get() or connections[DEFAULT].in_atomic_block:
        return DEFAULT
    return REPLICA


@contextmanager
def primary_pinned(pinned: bool = True) -> Iterator[None]:
    """Inside the block `read_alias()` is the primary (when `pinned`): reads that must see the caller's own writes."""
    token = _pinned.set(pinned or _pinned.get())
    try:
        yield
    finally:
        _pinned.reset(token)


def read_or_primary(fetch: Callable[[str], T | None]) -> T | None:
    """`fetch(alias)` on the read alias; on a miss there, again on the primary.

    For a page reached by a link to something just created (a status link in
    the confirmation email, a reconciliation run just asked for): the replica
    may not have it yet, and "not found" would be wrong, not merely late.
    """
    alias = read_alias()
    found = fetch(alias)
    if found is None and alias != DEFAULT:
        found = fetch(DEFAULT)
    return found


def session_alias() -> str:
    """The connection for session-level state: `direct` when configured (required behind PgBouncer), else default."""
    return DIRECT if DIRECT in settings.DATABASES else DEFAULT


class PrimaryReplicaRouter:
    """Writes go to the primary whatever an instance was read from; reads go where the caller said.

    `db_for_read` answers None: Django then reads related objects from the
    database their instance came from (a refund read on the replica gets its
    order from the replica: one consistent, if late, picture), and everything
    else from `default`. `db_for_write` is always `default`: an instance a screen
    read on the replica and a service then saves is written to the primary
    (without the router Django would write it back where it was read).
    """

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return None

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The three aliases are one database (a replica is a copy of the primary).
        if {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA, DIRECT}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        # Migrations run on the primary alone; the replica follows by replication, `direct` is the primary.
        return None if db == DEFAULT else False
