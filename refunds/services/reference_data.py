"""What every fresh database needs before the first refund: roles, accounts, the audit chain head, a policy,
the default merchant."""

from __future__ import annotations

from audit.models import AuditChainHead
from ledger.services import accounts_ensure
from refunds.permissions import roles_ensure
from refunds.services.merchants import merchant_default
from refunds.services.policy import policy_get_active


def reference_data_ensure() -> None:
    """Create whatever is missing; safe to run any number of times (migrations, demo seed, tests)."""
    roles_ensure()
    accounts_ensure()
    AuditChainHead.objects.get_or_create(id=1)
    policy_get_active()
    merchant_default()
