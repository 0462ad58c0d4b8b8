"""Expiring store credits past their date: what is left becomes breakage."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from credits.enums import CreditStatus
from credits.models import StoreCredit
from ledger.services import store_credit_post_expired

logger = logging.getLogger("credits")
EXPIRY_ACTOR = Actor.system("store_credit_expiry")


def credits_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire up to `limit` active credits whose `expires_at` has passed; return how many.

    One transaction per credit, so one failure (a closed month would move the
    entry, never refuse it) does not hold back the others and no lock is held
    long. The beat task calls this every few minutes (CELERY_BEAT_SCHEDULE "expire-store-credits").
    """
    now = now or timezone.now()
    due = list(
        StoreCredit.objects.filter(status=CreditStatus.ACTIVE, expires_at__lte=now)
        .order_by("expires_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if credit_expire(credit_id=pk, now=now))


def credit_expire(*, credit_id: int, now: datetime | None = None) -> bool:
    """Expire one credit if it is still active and due; False when there was nothing to do.

    The row lock is the one redemptions take: a redemption that got the lock
    first has spent its part, and expiry writes off only what is left after
    it; one that comes after finds the credit expired. Side effects, in order:
    the breakage entry (STORE_CREDIT_EXPIRED, of the balance), the credit
    `expired` with balance 0, the audit event.
    """
    now = now or timezone.now()
    with transaction.atomic():
        credit = (
            StoreCredit.objects.select_for_update(of=("self",)).select_related("refund").filter(pk=credit_id).first()
        )
        if credit is None or credit.status != CreditStatus.ACTIVE or credit.expires_at is None:
            return False
        if credit.expires_at > now:
            return False
        left = credit.balance_minor
        store_credit_post_expired(refund=credit.refund, amount_minor=left)
        credit.balance_minor = 0
        credit.status = CreditStatus.EXPIRED
        credit.save(update_fields=["balance_minor", "status", "updated_at"])
        audit_record(
            actor=EXPIRY_ACTOR,
            action=AuditAction.STORE_CREDIT_EXPIRED,
            refund=credit.refund,
            amount_minor=left,
            currency=credit.currency,
            note=f"{credit.public_id} expired with {left} unspent",
            after={"credit": credit.public_id, "breakage_minor": left},
        )
    logger.info(
        "store credit expired",
        extra={"message_id": "MSG.store_credit.expired", "refund_id": credit.refund.public_id, "breakage_minor": left},
    )
    return True
