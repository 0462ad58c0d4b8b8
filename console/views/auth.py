"""Signing in and out of the console: Django auth, sessions and CSRF; axes' lockout page.

The password step is Django's LoginView; django-axes (its authentication
backend, first in AUTHENTICATION_BACKENDS) refuses an account or an address
with too many recent failures before the password is checked, and its
middleware answers with `lockout`. The second factor, when one is needed,
follows on the next page (console.middleware, console/views/account.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.cache import add_never_cache_headers

from refunds.permissions import Perm, administers_access, has_perm, works_in_admin


def role_home(user: Any) -> str:
    """Where a role's day starts: agents and seniors at the queue, finance at /finance/, risk at the policy.

    Asked of the permissions, as the navigation is: whoever may decide refunds
    works the queue (an operations admin too); finance reconciles; risk owns
    the policy; an access admin administers people in the admin.
    """
    if has_perm(user, Perm.DECIDE) and not administers_access(user):
        return reverse("console:queue")
    if has_perm(user, Perm.VIEW_FINANCE):
        return reverse("finance:runs")
    if has_perm(user, "refunds.change_refundpolicy") and works_in_admin(user):
        return reverse("admin:refunds_refundpolicy_changelist")
    if administers_access(user) and works_in_admin(user):
        return reverse("admin:index")
    return reverse("console:queue")


class ConsoleLoginView(auth_views.LoginView):
    """The password step; then the role's home (`role_home`) unless a deep link asked for another page.

    The console's bare root is what anyone opening the site is sent back to,
    not a page they asked for, so it counts as no destination: finance then
    lands on /finance/ rather than on a queue they only read.
    """

    template_name = "console/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("console:queue")

    def get_redirect_url(self) -> str:
        url = super().get_redirect_url()
        return "" if url == reverse("console:queue") else url

    def get_default_redirect_url(self) -> str:
        return role_home(self.request.user)


class ConsoleLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET), so a link elsewhere cannot sign an agent out."""

    next_page = reverse_lazy("console:login")


def lockout(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The page axes answers while an account or address is locked (AXES_LOCKOUT_CALLABLE), console and admin alike.

    It says for how long and whom to ask, and never which of the two limits
    was reached: telling an attacker "this account exists and is now locked"
    helps them. The right password during the lockout gets this page too.
    """
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)) if settings.AXES_COOLOFF_TIME else None
    response = render(
        request,
        "console/lockout.html",
        {"cooloff_minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    add_never_cache_headers(response)
    return response
