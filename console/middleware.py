"""The second factor, enforced for every staff page: the console, /finance/ and the Django admin.

A middleware rather than a decorator per view, so a staff screen added later
(or an admin page of a third-party app) cannot forget it. It only ever looks
at the session user: the API authenticates by key (DRF, `UNAUTHENTICATED_USER
= None`), webhooks by signature, customers by their status token, so their
paths are passed through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from console.mfa import has_second_factor
from console.models import StaffProfile
from refunds.permissions import requires_mfa

# Not staff pages: authenticated by other means (or not at all), never redirected.
_OTHER_AUDIENCES = ("/v1/", "/webhooks/", "/r/", "/healthz", "/readyz", "/metrics")
# The steps themselves, and the way out.
_OPEN_URL_NAMES = ("console:login", "console:logout", "console:mfa_setup", "console:mfa_verify")


class StaffMfaMiddleware:
    """Send a signed-in user who must pass the second factor, and has not, to enrolment or verification.

    Who must: anyone who has enrolled a device (they chose the protection,
    so a password alone no longer opens their account), and, when
    `MFA_REQUIRED` is on, everyone `refunds.permissions.requires_mfa` names.
    No device yet → enrolment; a device → verification; both remember the
    page asked for. Nothing the request asked for runs before that.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        redirect_to = self._step_needed(request)
        if redirect_to is None:
            return self.get_response(request)
        # HtmxMiddleware runs later; htmx is told to load the whole page, not swap a form into a fragment.
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(redirect_to)
        return HttpResponseRedirect(redirect_to)

    def _open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in _OPEN_URL_NAMES)
        static = settings.STATIC_URL or "/static/"
        return path in self._open_paths or path.startswith((static, *_OTHER_AUDIENCES))

    def _step_needed(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or self._open(request.path):
            return None
        if user.is_verified():
            return None
        enrolled = has_second_factor(user)
        if not enrolled and not (settings.MFA_REQUIRED and requires_mfa(user)):
            return None
        step = reverse("console:mfa_verify" if enrolled else "console:mfa_setup")
        # Only a page can be come back to: a refused POST (an approval, say) is not replayed.
        if request.method in ("GET", "HEAD"):
            return f"{step}?{urlencode({'next': request.get_full_path()})}"
        return step


class StaffTimeZoneMiddleware:
    """Show a signed-in staff member times in their own zone (their profile), TIME_ZONE otherwise.

    Activated for this request only and reset after it: a worker thread
    serves the next person with their own zone, never the previous one's.
    Read on every staff request (one indexed row), so a change on the
    Account page holds at once in every open session of that person.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = self._zone(request)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    @staticmethod
    def _zone(request: HttpRequest) -> ZoneInfo | None:
        if request.path.startswith(_OTHER_AUDIENCES):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        name = StaffProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return None  # a zone the machine's database dropped since: the default, not an error page
