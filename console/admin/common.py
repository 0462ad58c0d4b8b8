"""What the admin pages share."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from console.presenters.formatting import money


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


def money_display(field: str, *, currency: str = "currency", description: str = "") -> staticmethod:
    """An admin column/readonly field showing `field` (minor units) as staff read money: '5,000.00 USD'.

    `currency` names the attribute holding the currency, dotted through
    relations ("refund.currency") for models that have none of their own.
    The column sorts by the raw amount.
    """

    def shown(obj: Any) -> str:
        value = getattr(obj, field)
        holder = obj
        for part in currency.split("."):
            holder = getattr(holder, part, "") if holder is not None else ""
        return money(value, holder or "") or "—"

    label = description or field.removesuffix("_minor").replace("_", " ")
    # A static method: assigned on a ModelAdmin class, the admin calls it with the object alone.
    return staticmethod(admin.display(description=label, ordering=field)(shown))
