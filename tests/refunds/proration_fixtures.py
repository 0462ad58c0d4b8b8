"""A service order and a policy that prorates (issue 15), for tests of what shows a refund for time not used."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from refunds.enums import PolicyStatus, Reason
from refunds.models import Order, Refund, RefundPolicy
from refunds.services.policy import policy_get_active
from refunds.services.request import refund_request
from tests.refunds.factories import captured_order, requester


def prorating_policy(**fields) -> RefundPolicy:
    """Version 2 of the policy, in force now, with proration enabled."""
    policy_get_active()
    now = timezone.now() - timedelta(seconds=1)
    return RefundPolicy.objects.create(
        version=2, status=PolicyStatus.APPROVED, reviewed_at=now, activates_at=now, proration_enabled=True, **fields
    )


def running_service(*, amount_minor: int = 30000, currency: str = "EUR", **order_fields) -> Order:
    """30 days from midnight UTC 18 days ago (books in UTC): today is day 19, 11 days are unused."""
    first = timezone.now().astimezone(UTC).date() - timedelta(days=18)
    starts_at = datetime.combine(first, time(0), tzinfo=UTC)
    return captured_order(
        amount_minor=amount_minor,
        currency=currency,
        order__service_starts_at=starts_at,
        order__service_ends_at=starts_at + timedelta(days=30),
        **order_fields,
    )


def prorated_refund(order: Order, *, reason: str = Reason.QUALITY) -> Refund:
    """`quality` is outside the default fee schedule's reasons: the whole unused share (€110.00 of €300.00)."""
    return refund_request(order=order, prorate=True, currency=order.currency, reason=reason, actor=requester())
