"""Policy governance (risk, four-eyes): a change is a draft until a second risk user approves it.

Drafting, approving and rejecting are three services; each checks the
permission itself, runs in one transaction and writes its audit event there.
The author of a draft never reviews it: refused here, and by the database
(`policy_reviewer_not_author`). Which approved version applies when is
`refunds.services.policy.policy_get_active`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import (
    ERR_AUTHZ_MAKER_CHECKER,
    ERR_AUTHZ_ROLE,
    ERR_CONFLICT_STATE,
    ERR_DECLINE_REASON_REQUIRED,
    ERR_NOT_FOUND,
    DomainError,
)
from refunds.enums import PolicyStatus
from refunds.models import RefundPolicy
from refunds.permissions import Perm, require_perm
from refunds.services.policy import policy_get_active

# What a version says, as opposed to who wrote and reviewed it when.
POLICY_RULE_FIELDS = [
    "window_days",
    "limits",
    "evidence_required_reasons",
    "velocity_max_per_24h",
    "cancellation_fee_schedule",
    "fee_schedule_reasons",
    "reply_templates",
    # Instruments beyond cash and proration (issue 15).
    "store_credit_enabled",
    "store_credit_bonus_percent",
    "store_credit_expiry_days",
    "proration_enabled",
]
_NOT_COPIED = {
    "id",
    "version",
    "created_by",
    "created_at",
    "status",
    "activates_at",
    "reviewed_by",
    "reviewed_at",
    "review_note",
}
FOUR_EYES_MESSAGE = "You wrote this draft, so another risk user must approve or reject it (four-eyes)."


def policy_snapshot(policy: RefundPolicy) -> dict:
    """The version's rules as JSON for the audit trail (exact strings and integers, never floats)."""
    fields = [f.name for f in RefundPolicy._meta.fields if f.name not in _NOT_COPIED]
    return json.loads(json.dumps(model_to_dict(policy, fields=fields), cls=DjangoJSONEncoder))


def policy_draft_create(*, policy: RefundPolicy, user: Any, activates_at: datetime | None = None) -> RefundPolicy:
    """Save the edited policy as a new draft version; nothing applies until another risk user approves it.

    Side effects: a new RefundPolicy row (status draft, version = max + 1,
    under a lock so two risk analysts saving at once get distinct versions),
    audit `policy.draft_created` with the active version's rules and the draft's.
    """
    require_perm(user, Perm.DRAFT_POLICY, "Only risk may write policy drafts.")
    fields = [f.name for f in RefundPolicy._meta.fields if f.name not in _NOT_COPIED]
    with transaction.atomic():
        # NO KEY UPDATE on the latest version: serialises drafters without blocking refunds citing it.
        RefundPolicy.objects.select_for_update(no_key=True).order_by("-version").first()
        next_version = (RefundPolicy.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        new = RefundPolicy(
            version=next_version,
            created_by=user,
            status=PolicyStatus.DRAFT,
            activates_at=activates_at,
            **{name: getattr(policy, name) for name in fields},
        )
        new.save(force_insert=True)
        policy.pk, policy.version, policy.status = new.pk, new.version, new.status
        active = policy_get_active()
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.POLICY_DRAFT_CREATED,
            subject=f"policy v{new.version}",
            note=new.note,
            before={"version": active.version, **policy_snapshot(active)},
            after={
                "version": new.version,
                "activates_at": activates_at.isoformat() if activates_at else None,
                **policy_snapshot(new),
            },
        )
    return new


def policy_review_refusal(policy: RefundPolicy, user: Any) -> DomainError | None:
    """Why `user` may not approve or reject `policy` now, or None (the console and the service ask alike)."""
    if not user or not user.is_authenticated or not user.has_perm(Perm.APPROVE_POLICY):
        return DomainError(ERR_AUTHZ_ROLE, "Only risk may approve or reject policy drafts.")
    if policy.created_by_id is not None and policy.created_by_id == user.pk:
        return DomainError(ERR_AUTHZ_MAKER_CHECKER, FOUR_EYES_MESSAGE)
    if policy.status != PolicyStatus.DRAFT:
        return DomainError(ERR_CONFLICT_STATE, f"Policy version {policy.version} is already {policy.status}.")
    return None


def _locked_draft(policy_id: int, user: Any) -> RefundPolicy:
    # The row lock makes two reviewers of one draft take turns: the second sees it decided and is refused.
    policy = RefundPolicy.objects.select_for_update().filter(pk=policy_id).first()
    if policy is None:
        raise DomainError(ERR_NOT_FOUND)
    refusal = policy_review_refusal(policy, user)
    if refusal is not None:
        raise refusal
    return policy


def policy_draft_approve(*, policy_id: int, user: Any, note: str = "", now: datetime | None = None) -> RefundPolicy:
    """Approve another risk user's draft; it applies to refunds created from its activation time on.

    The activation time is the one the author asked for, or the approval
    itself if that is earlier (a version never applies retroactively:
    refunds created before keep the version that decided them).
    Side effects: the draft becomes approved (reviewer, time, activation),
    audit `policy.approved`.
    """
    now = now or timezone.now()
    with transaction.atomic():
        policy = _locked_draft(policy_id, user)
        asked = policy.activates_at
        policy.status = PolicyStatus.APPROVED
        policy.reviewed_by, policy.reviewed_at, policy.review_note = user, now, note[:300]
        policy.activates_at = max(asked or now, now)
        policy.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note", "activates_at"])
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.POLICY_APPROVED,
            subject=f"policy v{policy.version}",
            note=note,
            after={"version": policy.version, "activates_at": policy.activates_at.isoformat()},
        )
    return policy


def policy_draft_reject(*, policy_id: int, user: Any, note: str) -> RefundPolicy:
    """Reject another risk user's draft; it never applies and stays in the history with the reason.

    Side effects: the draft becomes rejected (reviewer, time, reason), audit `policy.rejected`.
    """
    if not note.strip():
        raise DomainError(ERR_DECLINE_REASON_REQUIRED, "Rejecting a draft needs a reason for its author.")
    with transaction.atomic():
        policy = _locked_draft(policy_id, user)
        policy.status = PolicyStatus.REJECTED
        policy.reviewed_by, policy.reviewed_at, policy.review_note = user, timezone.now(), note[:300]
        policy.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.POLICY_REJECTED,
            subject=f"policy v{policy.version}",
            note=note,
            after={"version": policy.version},
        )
    return policy
