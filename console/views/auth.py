"""Signing in and out of the console: Django auth, sessions and CSRF, nothing else."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("console:queue")


class ConsoleLogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET), so a link elsewhere cannot sign an agent out."""

    next_page = reverse_lazy("console:login")
