"""What every finance view shares: the permission gate and money for display."""

from __future__ import annotations

from console.presenters import formatting
from console.views.common import console_permission
from refunds.permissions import Perm

# Finance and admin roles; screens and CSV downloads alike.
finance_required = console_permission(
    Perm.VIEW_FINANCE,
    forbidden_message=(
        "Reconciliation and its exports are for the finance role. Ask an administrator if you need access."
    ),
)


def money(amount_minor: int | None, currency: str) -> str:
    """'1,234.50 USD' for screens (the staff helper); empty when there is no amount. CSV keeps '1234.50'."""
    return formatting.money(amount_minor, currency)
