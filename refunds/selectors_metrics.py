from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from refunds.enums import PolicyOutcome
from refunds.models import Refund


def auto_decision_rate_pct(*, hours: int = 24) -> float:
    """Percent of refunds created in the window that the policy approved on its own."""
    since = timezone.now() - timedelta(hours=hours)
    totals = Refund.objects.filter(created_at__gte=since).aggregate(
        total=Count("id"), auto=Count("id", filter=Q(policy_outcome=PolicyOutcome.AUTO_APPROVE))
    )
    if not totals["total"]:
        return 0.0
    return round(100.0 * totals["auto"] / totals["total"], 2)
