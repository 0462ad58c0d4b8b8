"""Extra database aliases for a test: a read-only "replica" or a "direct" line, on the session's test database.

config/settings/databases.py adds `replica` and `direct` from the environment;
the test process has neither, so a test that needs one adds it for its own
duration: a copy of `default`'s settings (its test database), with what makes
it what it stands for. The replica is opened with
`default_transaction_read_only=on`: it answers every read as a replica would,
and any write sent to it fails, as on a hot standby.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

READ_ONLY = "-c default_transaction_read_only=on"


def _running_test_case() -> type | None:
    """The test case class Django's isolation is enforcing now (pytest-django's, for the current test).

    Django 5.2 refuses a connection to an alias outside the test case's `databases`
    (`patched_ensure_connection`, which closes over the class); an alias added
    during a test is allowed by adding it there for as long as it exists.
    """
    for cell in getattr(BaseDatabaseWrapper.ensure_connection, "__closure__", None) or ():
        value = cell.cell_contents
        if isinstance(value, type) and hasattr(value, "databases"):
            return value
    return None


@contextmanager
def database_alias(alias: str, *, options: dict[str, Any] | None = None, **overrides: Any) -> Iterator[None]:
    """Add `alias` (a copy of default's settings, `overrides` and `options` applied) for the block.

    `connections.settings` is the DATABASES setting itself, so `settings.DATABASES`
    lists the alias too (core.databases.replica_configured sees it).
    """
    if alias in connections.settings:
        raise RuntimeError(f"{alias} is configured already")
    conf = copy.deepcopy(connections["default"].settings_dict)
    conf.update(overrides)
    conf["OPTIONS"] = {**conf.get("OPTIONS", {}), **(options or {})}
    conf["TEST"] = {**conf.get("TEST", {}), "MIRROR": "default"}
    connections.settings[alias] = conf
    case = _running_test_case()
    allowed = case.databases if case is not None else None
    if case is not None:
        case.databases = {*case._databases_names(include_mirrors=True), alias}
    try:
        yield
    finally:
        if case is not None:
            case.databases = allowed
        # Every thread that used it closed its own; this thread's goes now, and the alias with it
        # (before the test case's teardown walks the configured aliases).
        if hasattr(connections._connections, alias):
            connections[alias].close()
            delattr(connections._connections, alias)
        del connections.settings[alias]


@contextmanager
def read_only_replica() -> Iterator[None]:
    """A `replica` alias on the test database whose sessions refuse every write."""
    with database_alias("replica", options={"options": READ_ONLY}):
        yield
