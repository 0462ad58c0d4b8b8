"""One page per refund answering "why did we refund this?"."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from console.presenters.card import console_refund
from console.presenters.formatting import money
from console.presenters.timeline import console_timeline
from console.views.common import console_permission
from refunds.permissions import Perm


@require_GET
@console_permission(Perm.VIEW_REFUND)
def timeline(request: HttpRequest, public_id: str) -> HttpResponse:
    refund = console_refund(public_id=public_id)
    if refund is None:
        raise Http404("No such refund")
    context = {
        "refund": refund,
        "amount": money(refund.amount_minor, refund.currency),
        "items": console_timeline(refund=refund),
        "time_zone": timezone.get_current_timezone_name(),
    }
    return render(request, "console/timeline.html", context)
