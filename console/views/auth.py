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
from django.urls import reverse_lazy
from django.utils.cache import add_never_cache_headers


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("console:queue")


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
