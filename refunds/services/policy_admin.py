"""Publishing a policy version from the admin (risk)."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Max
from django.forms.models import model_to_dict

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from refunds.models import RefundPolicy


def policy_publish(*, policy: RefundPolicy, user) -> RefundPolicy:
    """Save the edited policy as a new version; the old version stays as it was.

    Side effects: a new RefundPolicy row (version = max + 1, under a table
    lock so two risk analysts saving at once get distinct versions), audit
    `policy.changed` with the old and new values.
    """

    def snapshot(policy_version: RefundPolicy) -> dict:
        # Limits are Decimals; the audit trail stores JSON (exact strings, never floats).
        return json.loads(json.dumps(model_to_dict(policy_version, fields=fields), cls=DjangoJSONEncoder))

    fields = [f.name for f in RefundPolicy._meta.fields if f.name not in {"id", "version", "created_by", "created_at"}]
    with transaction.atomic():
        # NO KEY UPDATE: serialises publishers without blocking refunds that cite this version.
        previous = RefundPolicy.objects.select_for_update(no_key=True).order_by("-version").first()
        next_version = (RefundPolicy.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        new = RefundPolicy(version=next_version, created_by=user, **{name: getattr(policy, name) for name in fields})
        new.save(force_insert=True)
        policy.pk, policy.version = new.pk, new.version
        audit_record(
            actor=Actor.for_user(user),
            action=AuditAction.POLICY_CHANGED,
            subject=f"policy v{new.version}",
            note=new.note,
            before=snapshot(previous) if previous else None,
            after=snapshot(new),
        )
    return new
