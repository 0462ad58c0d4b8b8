"""Store credits as the services make them: a store-credit refund under a policy that allows it."""

from __future__ import annotations

from django.utils import timezone

from credits.models import StoreCredit
from refunds.enums import PolicyStatus, Reason, RefundInstrument
from refunds.models import RefundPolicy
from refunds.services.policy import policy_get_active
from tests.refunds.factories import captured_order, make_refund


def store_credit_policy(*, bonus_percent: int = 0, expiry_days: int | None = 365, **fields) -> RefundPolicy:
    """A new approved version in force now that offers store credit."""
    current = policy_get_active()
    now = timezone.now()
    return RefundPolicy.objects.create(
        version=current.version + 1,
        limits=current.limits,
        status=PolicyStatus.APPROVED,
        reviewed_at=now,
        activates_at=now,
        store_credit_enabled=True,
        store_credit_bonus_percent=bonus_percent,
        store_credit_expiry_days=expiry_days,
        **fields,
    )


def store_credit_refund(*, amount_minor: int = 5000, order_amount: int = 10000, reason: str = Reason.OTHER, **kwargs):
    """A store-credit refund requested under the policy in force (auto-approved within its limits)."""
    order = captured_order(amount_minor=order_amount)
    return make_refund(
        order=order, amount_minor=amount_minor, reason=reason, instrument=RefundInstrument.STORE_CREDIT, **kwargs
    )


def issued_credit(*, amount_minor: int = 5000, bonus_percent: int = 0, expiry_days: int | None = 365) -> StoreCredit:
    store_credit_policy(bonus_percent=bonus_percent, expiry_days=expiry_days)
    refund = store_credit_refund(amount_minor=amount_minor)
    return StoreCredit.objects.get(refund=refund)
