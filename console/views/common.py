"""What every console view shares: the permission gate and the acting user."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

from core.actor import Actor
from refunds.permissions import has_perm


def console_permission(perm: str, *, forbidden_message: str = "") -> Callable:
    """Let a view run only for a signed-in user holding `perm` (every staff screen, CSV downloads too).

    Only the session counts: the console never accepts an API key or a
    customer's status token. Anonymous users go to the login page (htmx
    requests are told to redirect the whole page, not to swap the login form
    into a fragment); signed-in users without the permission get a 403 page
    that says so (`forbidden_message`, or a general one).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                if getattr(request, "htmx", False):
                    return HttpResponseClientRedirect(redirect_to_login(request.get_full_path()).url)
                return redirect_to_login(request.get_full_path())
            if not has_perm(user, perm):
                return forbidden(request, forbidden_message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    message = message or "Your role does not allow this. Ask an administrator if you need access."
    return render(request, "console/forbidden.html", {"message": message}, status=403)


def acting(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)
