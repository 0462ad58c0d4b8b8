"""Kill switches (issue 16): risk or the operations admin pause auto-approval or a provider's submission.

Who: holders of `refunds.manage_pauses` (risk, the operations admin); every
GET and POST is behind it, everyone else gets the 403 page. Each POST is a
plain form (works without JavaScript) that calls one service
(`refunds.services.pauses`, which validates again, audits and refuses a
second pause of the same switch), then redirects back with a message; a
refusal re-renders the page with the error beside the form (400).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from console.pause_forms import PauseForm, scope_choices
from console.views.common import acting, console_permission
from core.errors import DomainError
from refunds.enums import PauseKind
from refunds.models import OperationsPause
from refunds.permissions import Perm
from refunds.services.pauses import pause, pauses_in_force, resume, scope_label

NAV = "pauses"
HISTORY_PER_PAGE = 25


FORBIDDEN = gettext_lazy("Kill switches are for risk and the operations admin (permission “Pause and resume”).")


def _gate(view):
    return console_permission(Perm.MANAGE_PAUSES, forbidden_message=FORBIDDEN)(view)


def _switches(in_force: list[OperationsPause], *, failed: tuple[str, str] | None, form: PauseForm | None):
    """One row per switch: kind × scope, its pause if in force, and the form to pull or lift it."""
    by_scope = {(row.kind, row.provider): row for row in in_force}
    rows = []
    for kind in PauseKind:
        for provider, label in scope_choices(kind):
            key = (kind.value, provider)
            bound = form if failed == key else PauseForm(initial={"kind": kind.value, "provider": provider})
            rows.append({"kind": kind, "provider": provider, "scope": label, "pause": by_scope.get(key), "form": bound})
    return rows


def _page(request: HttpRequest, *, failed=None, form=None, status: int = 200) -> HttpResponse:
    in_force = pauses_in_force()
    history = Paginator(
        OperationsPause.objects.filter(resumed_at__isnull=False).order_by("-resumed_at", "-id"), HISTORY_PER_PAGE
    ).get_page(request.GET.get("page"))
    switches = _switches(in_force, failed=failed, form=form)
    # A refusal for a switch the page has no row for (a forged or stale form) is shown above the table.
    unplaced = form is not None and not any(row["form"] is form for row in switches)
    context = {
        "nav": NAV,
        "in_force": in_force,
        "switches": switches,
        "page": history,
        "unplaced_errors": [e for errors in form.errors.values() for e in errors] if unplaced else [],
    }
    return render(request, "console/pauses.html", context, status=status)


@require_GET
@_gate
def pauses(request: HttpRequest) -> HttpResponse:
    """The switches, what is paused now (since when, by whom, why), and what was paused before."""
    return _page(request)


def _act(request: HttpRequest, *, lift: bool) -> HttpResponse:
    form = PauseForm(request.POST)
    key = (request.POST.get("kind", ""), request.POST.get("provider", ""))
    if form.is_valid():
        kind, provider = form.cleaned_data["kind"], form.cleaned_data["provider"] or ""
        service = resume if lift else pause
        try:
            row = service(kind, provider=provider, reason=form.cleaned_data["reason"], actor=acting(request))
        except DomainError as error:
            form.add_error("reason" if error.details.get("field") != "provider" else "provider", error.message)
        else:
            messages.success(request, _message(row, lift=lift))
            return redirect("console:pauses")
    return _page(request, failed=key, form=form, status=400)


def _message(row: OperationsPause, *, lift: bool) -> str:
    what = {"kind": row.get_kind_display(), "scope": scope_label(row.provider)}
    if lift:
        text = _("Resumed %(kind)s for %(scope)s.") % what
        if row.kind == PauseKind.SUBMISSION:
            text += " " + _("%(n)d held message(s) queued in outbox order.") % {"n": row.counts["queued"]}
        return text
    text = _("Paused %(kind)s for %(scope)s.") % what
    if row.kind == PauseKind.SUBMISSION:
        text += " " + _("%(held)d message(s) held; %(in_flight)d call(s) already under way will finish.") % row.counts
    else:
        text += " " + _("New requests the policy would approve go to review.")
    return text


@require_POST
@_gate
def pause_view(request: HttpRequest) -> HttpResponse:
    """Pull a switch (audited as operations.paused)."""
    return _act(request, lift=False)


@require_POST
@_gate
def resume_view(request: HttpRequest) -> HttpResponse:
    """Lift a switch (audited as operations.resumed); held messages are queued in outbox order."""
    return _act(request, lift=True)
