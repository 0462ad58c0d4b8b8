"""Around a card: who else has it open (presence heartbeat) and whose it is (assign to me / to a senior).

Presence is a hint kept in the cache (console.presence) and fails open;
assignment is a change of the refund, made by `refunds.services.assign`
(audited; the senior is emailed after commit).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from console.presence import HEARTBEAT, presence_leave, presence_touch, viewers_of
from console.views.common import acting, console_permission
from core.errors import DomainError
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.permissions import Perm, decide_refusal
from refunds.services.assign import refund_assign, senior_assignees


def card_work_context(request: HttpRequest, refund: Refund) -> dict[str, Any]:
    """What the card page shows above the card: viewers (after marking this user as one) and assignment."""
    presence_touch(public_id=refund.public_id, user=request.user)
    may_assign = refund.state == RefundState.REQUESTED and decide_refusal(request.user) is None
    return {
        "viewers": viewers_of(public_ids=[refund.public_id], user=request.user).get(refund.public_id, []),
        "heartbeat_seconds": HEARTBEAT,
        "may_assign": may_assign,
        # "Assign to me" covers oneself; the list offers the other seniors.
        "seniors": [user for user in senior_assignees() if user.pk != request.user.pk] if may_assign else [],
    }


@require_POST
@never_cache
@console_permission(Perm.VIEW_REFUND)
def presence(request: HttpRequest, public_id: str) -> HttpResponse:
    """The card's heartbeat (console/static/console/presence.js): "still here", answered with who else is.

    `leave=1` (sent as the page is left) takes this user off the card at once.
    """
    if request.POST.get("leave") == "1":
        presence_leave(public_id=public_id, user=request.user)
        return JsonResponse({"viewers": []})
    presence_touch(public_id=public_id, user=request.user)
    return JsonResponse({"viewers": viewers_of(public_ids=[public_id], user=request.user).get(public_id, [])})


@require_POST
@console_permission(Perm.DECIDE)
def assign(request: HttpRequest, public_id: str) -> HttpResponse:
    """ "Assign to me" (`to=me`) or to a senior (`to=<user id>`); back to the card with the outcome."""
    refund = Refund.objects.filter(public_id=public_id).first()
    if refund is None:
        return redirect("console:queue")
    target = request.POST.get("to", "")
    senior = target != "me"
    if senior:
        assignee = get_user_model().objects.filter(pk=int(target)).first() if target.isdigit() else None
    else:
        assignee = request.user
    try:
        refund = refund_assign(refund_id=refund.pk, assignee=assignee, actor=acting(request), senior=senior)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("console:card", public_id=public_id)
    if assignee.pk == request.user.pk:
        messages.success(request, "Assigned to you. It is in your “Assigned to me” list.")
    else:
        name = assignee.get_full_name() or assignee.get_username()
        messages.success(request, f"Assigned to {name}, who gets an email about it.")
    return redirect("console:card", public_id=public_id)
