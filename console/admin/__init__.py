"""The Django admin, for staff: risk edits the policy, finance works dead letters and payouts,
the access admin manages users, groups and API keys (and finds merchants' webhook endpoints, whose
pages are in the console).

Everything else is read-only evidence (refunds, orders, the ledger, the audit
trail). Admin registrations live with the staff screens, not beside the models,
so the domain and record apps hold nothing UI-shaped.
"""

from console.admin import access, accounts, audit, execution, ledger, refunds, webhooks

__all__ = ["access", "accounts", "audit", "execution", "ledger", "refunds", "webhooks"]
