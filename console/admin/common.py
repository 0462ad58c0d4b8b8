"""What the admin pages share."""

from __future__ import annotations

from typing import Any


class ReadOnlyMixin:
    """Refunds, orders, the ledger and the audit trail change only through services (API, console),
    never through admin forms — for superusers too: the records are evidence, corrections are new
    records (reversing entries, new decisions)."""

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
