"""A staff member's own account: two-factor enrolment, the verify step after the password, recovery codes.

Reached by everyone signed in, whatever their role (console.middleware sends
those who must use a second factor here). Pages that show a secret — the
enrolment key and QR, the recovery codes — are never cached.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from console import mfa
from console.forms import TimeZoneForm, TwoFactorCodeForm
from console.models import StaffProfile
from console.presenters.formatting import when
from console.views.auth import role_home
from refunds.permissions import requires_mfa


def _next_url(request: HttpRequest) -> str:
    """Where to go once the step is done: the page first asked for, if it is one of ours."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return role_home(request.user)


def _step(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The account page; a POST saves the person's time zone (the rest has its own steps)."""
    user = request.user
    profile = StaffProfile.objects.filter(user=user).first() or StaffProfile(user=user)
    initial = {} if profile.pk else {"time_zone": settings.TIME_ZONE}
    form = TimeZoneForm(request.POST or None, instance=profile, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, f"Times are now shown in {profile.time_zone}.")
            return redirect("console:account")
        status = 400
    return render(
        request,
        "console/account.html",
        {
            "nav": "account",
            "authenticator": mfa.authenticator_for(user),
            "codes_left": mfa.recovery_codes_left(user),
            "mfa_required_for_me": requires_mfa(user),
            "time_zone_form": form,
            "time_zone": profile.time_zone or settings.TIME_ZONE,
            "now": when(timezone.now()),
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: scan the QR (or type the key), then prove it with one code.

    Only for a user without one: with a password alone nobody may add a
    second authenticator to an account that has one (that would make the
    second factor worthless); a verified user is sent to their account page.
    """
    user = request.user
    if mfa.has_second_factor(user):
        if user.is_verified():
            return redirect("console:account")
        return redirect(_step("console:mfa_verify", _next_url(request)))
    device = mfa.pending_authenticator(user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.mfa_enrol(request, token=form.cleaned_data["code"].replace(" ", ""))
        if codes is not None:
            request.session[mfa.RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(_step("console:mfa_recovery_codes", _next_url(request)))
        form.add_error("code", "That code does not match. Check the time on your phone and type the newest code.")
    return render(
        request,
        "console/mfa_setup.html",
        {
            "form": form,
            "qr_svg": mfa.qr_svg(device),
            "secret": mfa.secret_for_typing(device),
            "next": _next_url(request),
            "required": requires_mfa(user),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The step after the password: a code from the authenticator, or a recovery code."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not mfa.has_second_factor(user):
        return redirect(_step("console:mfa_setup", _next_url(request)))
    form = TwoFactorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = mfa.mfa_verify(request, token=form.cleaned_data["code"])
        if result.ok:
            if result.used_recovery_code:
                left = mfa.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. Make a new set on your account page "
                    "if you are running low, and ask an administrator to reset your authenticator if it is lost.",
                )
            return redirect(_next_url(request))
        if result.retry_after_seconds:
            status = 429
            form.add_error("code", f"Too many wrong codes. Wait {result.retry_after_seconds} seconds, then try again.")
        else:
            form.add_error("code", "That code is not valid (or was already used).")
    return render(request, "console/mfa_verify.html", {"form": form, "next": _next_url(request)}, status=status)


@never_cache
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """The recovery codes just issued, shown once: they leave the session as this page is rendered."""
    codes = request.session.pop(mfa.RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        messages.info(request, "Recovery codes are shown only once. Make a new set if you have lost them.")
        return redirect("console:account")
    return render(request, "console/mfa_recovery_codes.html", {"codes": codes, "next": _next_url(request)})


@never_cache
@login_required
@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = request.user
    # The middleware already sends an unverified user with a device to verify; this holds without it.
    if not (mfa.has_second_factor(user) and user.is_verified()):
        return redirect("console:account")
    request.session[mfa.RECOVERY_CODES_SESSION_KEY] = mfa.recovery_codes_regenerate(user=user)
    return redirect(_step("console:mfa_recovery_codes", reverse("console:account")))
