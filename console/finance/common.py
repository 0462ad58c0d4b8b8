"""What every finance view shares: the permission gate, the acting user, money for display."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from console.views.common import forbidden
from core.actor import Actor
from reconciliation.exports import format_minor

PERM_FINANCE = "refunds.view_finance"
FORBIDDEN_MESSAGE = "Reconciliation and its exports are for the finance role. Ask an administrator if you need access."


def finance_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let a view run only for a signed-in user holding `refunds.view_finance` (finance and admin roles).

    Checked on the server for every request, screens and CSV downloads
    alike. Anonymous users go to settings.LOGIN_URL (the console login) and
    come back; signed-in users without the permission get a 403 page.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user.is_active or not user.has_perm(PERM_FINANCE):
            return forbidden(request, FORBIDDEN_MESSAGE)
        return view(request, *args, **kwargs)

    return wrapped


def acting(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def money(amount_minor: int | None, currency: str) -> str:
    """'1234.50 USD' for screens; empty when there is no amount."""
    if amount_minor is None:
        return ""
    return f"{format_minor(amount_minor, currency)} {currency}".strip()
