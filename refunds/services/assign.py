"""Assigning a refund in review to a person: "assign to me" and "assign to a senior" (console queue).

Not a decision and not a move of the state machine: the refund's terms and
its version stay as they are. Who may assign, and to whom, is asked of
`refunds.permissions`; every assignment is audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_STATE, ERR_VALIDATION, DomainError
from refunds.enums import RefundState
from refunds.models import Refund
from refunds.permissions import Perm, administers_access, decide_refusal, has_perm
from refunds.services.transition import refund_lock
from refunds.signals import refund_assigned


def assignee_refusal(user: Any, *, senior: bool) -> DomainError | None:
    """Why `user` cannot be given refunds to decide (a senior's approval when `senior`), or None."""
    if user is None or not user.is_active or administers_access(user) or not has_perm(user, Perm.DECIDE):
        return DomainError(ERR_VALIDATION, "Refunds can only be assigned to someone who may decide them.")
    if senior and not has_perm(user, Perm.APPROVE_SENIOR):
        return DomainError(ERR_VALIDATION, "Choose a senior agent.")
    return None


def senior_assignees() -> list[Any]:
    """Active senior agents who may decide refunds, by name: whom "assign to a senior" offers."""
    users = (
        get_user_model()
        .objects.filter(is_active=True, groups__permissions__codename="approve_senior")
        .distinct()
        .order_by("first_name", "username")
    )
    return [user for user in users if assignee_refusal(user, senior=True) is None]


def refund_assign(*, refund_id: int, assignee: Any, actor: Actor, senior: bool = False) -> Refund:
    """Give a refund waiting for a decision to `assignee` (the actor themself for "assign to me").

    Refused to who may not decide refunds (`decide_refusal`), for a refund
    that no longer waits (409 ERR.CONFLICT.state), and for an assignee who
    could not decide it (`assignee_refusal`). Assigning it to whom it is
    assigned already changes nothing. Side effects, in order: the refund's
    assignee and assigned_at (row locked, version untouched), the audit event
    `refund.assigned` with before/after; after commit, `refund_assigned`
    when someone else was assigned (they get an email, notifications.staff).
    """
    refusal = decide_refusal(actor.user) or assignee_refusal(assignee, senior=senior)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        refund, _payment = refund_lock(refund_id=refund_id)
        if refund.state != RefundState.REQUESTED:
            raise DomainError(ERR_CONFLICT_STATE, "This refund no longer waits for a decision.")
        if refund.assignee_id == assignee.pk:
            return refund
        before = refund.assignee.get_username() if refund.assignee_id else ""
        refund.assignee = assignee
        refund.assigned_at = timezone.now()
        refund.save(update_fields=["assignee", "assigned_at", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.REFUND_ASSIGNED,
            refund=refund,
            note=f"Assigned to {assignee.get_username()}",
            before={"assignee": before},
            after={"assignee": assignee.get_username()},
        )
        if actor.user is None or assignee.pk != actor.user.pk:
            transaction.on_commit(
                lambda: refund_assigned.send_robust(
                    sender=Refund, refund=refund, assignee=assignee, assigned_by=actor.user
                )
            )
    return refund
