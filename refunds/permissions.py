"""Who may do what: the permissions, the roles that hold them, and the approval rules (SPEC §3.3).

One module answers for services and screens alike: a service raises the
refusal as a `DomainError`, a screen words it for the person in front of it
before they try — both ask the same function, so the console can never offer
an action the service then refuses, or hide one it would allow.

Permissions are Django permissions on the refund model (`Refund.Meta.permissions`)
held through role groups; the services check them again under their row locks.

Separation of duties: whoever administers access (a superuser, or anyone in
the access admin role, whatever other groups they hold) never decides a
refund. Otherwise one person could create the second approver that dual
control asks for; the audit trail records every change of access
(`audit.access`), so such a puppet is visible, and its maker cannot approve.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group
from django.db import models

from core.actor import Actor
from core.errors import (
    ERR_AUTHZ_DUAL_CONTROL,
    ERR_AUTHZ_MAKER_CHECKER,
    ERR_AUTHZ_ROLE,
    ERR_CONFLICT_CHANGED,
    ERR_CONFLICT_STATE,
    ERR_NOT_FOUND,
    DomainError,
    InvalidTransition,
)
from refunds.enums import RefundState, Role
from refunds.models import Refund


class Perm(models.TextChoices):
    """The permissions code asks for (`user.has_perm(Perm.DECIDE)`)."""

    VIEW_REFUND = "refunds.view_refund", "See refunds (console, timeline)"
    REQUEST = "refunds.request_refund", "Create refunds on a customer's behalf"
    DECIDE = "refunds.decide_refund", "Approve, edit or decline refunds"
    APPROVE_SENIOR = "refunds.approve_senior", "Give a senior approval (dual control)"
    MARK_PAYOUT_PAID = "refunds.mark_payout_paid", "Mark manual payouts paid"
    VIEW_FINANCE = "refunds.view_finance", "Run and read reconciliation; replay dead letters"
    # Needs action (issue 12): a failed refund is money a customer was promised and did not get;
    # retrying or giving it up is a senior's or finance's call, not every agent's.
    RESOLVE_FAILED = "refunds.resolve_failed", "Retry or cancel failed refunds (Needs action)"
    DRAFT_POLICY = "refunds.add_refundpolicy", "Write a refund policy draft"
    APPROVE_POLICY = "refunds.approve_refundpolicy", "Approve or reject another risk user's policy draft"
    # Merchants' webhook endpoints from the console (issue 14): integration credentials, like API keys —
    # a URL that receives refund data and the secret that signs it. Held by the access admin (who keeps
    # the API keys) and the operations admin (who answers "our webhooks stopped"); never by agents,
    # seniors, finance or risk. It decides nothing about a refund, so separation of duties is untouched.
    MANAGE_WEBHOOKS = "events.manage_webhooks", "Manage merchants' webhook endpoints and redeliver events"
    # Kill switches (issue 16): stopping auto-approval or a provider's submission in an incident is risk's
    # call (fraud, a policy gone wrong) or the operations admin's (a provider misbehaving). It decides no
    # refund: people still approve what a pause sends to review.
    MANAGE_PAUSES = "refunds.manage_pauses", "Pause and resume auto-approval and provider submission"


# Which permissions each role holds ("app_label.codename"): the Perm values plus the model permissions
# the Django admin asks for.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.AGENT: [Perm.VIEW_REFUND, Perm.DECIDE, Perm.REQUEST, "refunds.view_order"],
    Role.SENIOR_AGENT: [
        Perm.VIEW_REFUND,
        Perm.DECIDE,
        Perm.APPROVE_SENIOR,
        Perm.REQUEST,
        Perm.RESOLVE_FAILED,
        "refunds.view_order",
    ],
    Role.FINANCE: [
        Perm.VIEW_REFUND,
        Perm.VIEW_FINANCE,
        Perm.MARK_PAYOUT_PAID,
        Perm.RESOLVE_FAILED,
        "refunds.view_order",
        "refunds.view_outboxmessage",
        "refunds.view_payouttask",
        "refunds.change_payouttask",
        "refunds.view_webhookevent",
        "ledger.view_journalentry",
        "ledger.view_account",
        "audit.view_auditevent",
    ],
    Role.RISK: [
        Perm.VIEW_REFUND,
        "refunds.view_refundpolicy",
        "refunds.add_refundpolicy",
        "refunds.change_refundpolicy",
        "refunds.approve_refundpolicy",
        Perm.MANAGE_PAUSES,
        "audit.view_auditevent",
    ],
    # Operations lead: everything of refunds, nothing of who may do it (that is ACCESS_ADMIN).
    Role.ADMIN: [
        Perm.VIEW_REFUND,
        Perm.DECIDE,
        Perm.APPROVE_SENIOR,
        Perm.REQUEST,
        Perm.VIEW_FINANCE,
        Perm.MARK_PAYOUT_PAID,
        Perm.RESOLVE_FAILED,
        Perm.MANAGE_WEBHOOKS,
        Perm.MANAGE_PAUSES,
        "refunds.view_refundpolicy",
        "refunds.change_refundpolicy",
        "refunds.view_order",
        "refunds.view_outboxmessage",
        "refunds.view_payouttask",
        "refunds.change_payouttask",
        "refunds.view_webhookevent",
        "ledger.view_journalentry",
        "audit.view_auditevent",
    ],
    # People and credentials, in the Django admin: users, their groups and permissions, the role
    # groups, API keys (revoked, never deleted: the trail cites them); merchants' webhook endpoints
    # in the console (/console/webhooks/). Not a single refund
    # permission, and `administers_access` refuses them deciding even if another group grants one.
    # No delete: people who acted are deactivated (the audit trail keeps pointing at them).
    Role.ACCESS_ADMIN: [
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "auth.add_group",
        "auth.change_group",
        "auth.view_permission",
        "refunds.view_apikey",
        "refunds.change_apikey",
        Perm.MANAGE_WEBHOOKS,
        "audit.view_auditevent",
    ],
}
_ROLE_APPS = ("auth", "refunds", "ledger", "audit", "events")


def has_perm(user: Any, perm: str) -> bool:
    """An active user holding `perm` (through a role or directly); never an anonymous one."""
    return user is not None and user.is_active and user.has_perm(perm)


def require_perm(user: Any, perm: str, message: str | None = None) -> None:
    if not has_perm(user, perm):
        raise DomainError(ERR_AUTHZ_ROLE, message)


# Holding any of these, through the access admin role or otherwise, is administering access.
ACCESS_ADMIN_PERMS = ("auth.add_user", "auth.change_user", "auth.add_group", "auth.change_group")


def administers_access(user: Any) -> bool:
    """A superuser, or anyone who may change users or groups: someone who can make anyone a senior.

    Asked of the permissions rather than of the group's name, so a grant of
    `auth.change_user` by any other route counts too; Django caches a user's
    permissions, so the card's several questions cost one query.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser) or any(user.has_perm(perm) for perm in ACCESS_ADMIN_PERMS)


ADMINISTERS_ACCESS_MESSAGE = (
    "You administer access (users, groups, API keys), so you cannot decide refunds (separation of duties)."
)


def decide_refusal(user: Any) -> DomainError | None:
    """Why `user` may not approve, edit or decline refunds at all, or None.

    The decide permission alone is not enough: a superuser holds every
    permission, and an access admin can grant themselves any.
    """
    if administers_access(user):
        return DomainError(ERR_AUTHZ_ROLE, ADMINISTERS_ACCESS_MESSAGE)
    if not has_perm(user, Perm.DECIDE):
        return DomainError(ERR_AUTHZ_ROLE)
    return None


# --- finance: the books --------------------------------------------------------------


FINANCE_ONLY_MESSAGE = "Closing months and correcting entries are for the finance role."


def finance_refusal(user: Any) -> DomainError | None:
    """Why `user` may not close months, ask for a reopen or draft a correction, or None."""
    if not has_perm(user, Perm.VIEW_FINANCE):
        return DomainError(ERR_AUTHZ_ROLE, FINANCE_ONLY_MESSAGE)
    return None


def second_finance_refusal(user: Any, *, first_user_id: int | None, what: str) -> DomainError | None:
    """Why `user` may not be the second pair of eyes on what `first_user_id` asked for, or None.

    Four-eyes for the books (a month's reopen, a correcting entry): a
    finance user other than the one who asked, and not someone who
    administers access (they could make the second finance user themselves).
    `what` names the thing for the message ("reopen request", "correction").
    """
    refusal = finance_refusal(user)
    if refusal is not None:
        return refusal
    if administers_access(user):
        return DomainError(ERR_AUTHZ_ROLE, "You administer access, so you cannot be the second approver.")
    if first_user_id is not None and user.pk == first_user_id:
        return DomainError(ERR_AUTHZ_MAKER_CHECKER, f"You drafted this {what}: a second finance user must approve it.")
    return None


def changed_refusal(
    refund: Refund, *, expected_version: int | None, expected_amount_minor: int | None
) -> DomainError | None:
    """The refund is no longer the one its decider saw (the caller holds the row lock), or None.

    `None` for either means "not said": the API's fields are optional; the
    console always sends the version its card showed.
    """
    if (expected_version is not None and expected_version != refund.version) or (
        expected_amount_minor is not None and expected_amount_minor != refund.amount_minor
    ):
        return DomainError(ERR_CONFLICT_CHANGED, version=refund.version, amount_minor=refund.amount_minor)
    return None


# --- tenancy ---------------------------------------------------------------------


def merchant_refusal(refund: Refund, actor: Actor) -> DomainError | None:
    """An API key reaches only its own merchant's refunds; another merchant's is answered as not found.

    Never a 403: that would tell the key the refund exists. The API's lookups
    are already scoped (`refunds.selectors`); services ask again under their
    row lock, so no other caller can act across merchants either. Staff
    (console users, no key) and the system reach every merchant.
    """
    api_key = actor.api_key
    if api_key is not None and api_key.merchant_id != refund.order.merchant_id:
        return DomainError(ERR_NOT_FOUND)
    return None


def cancel_refusal(refund: Refund, actor: Actor) -> DomainError | None:
    """Who may cancel: a key of the refund's own merchant, staff who may decide refunds, the system."""
    refusal = merchant_refusal(refund, actor)
    if refusal is not None or actor.api_key is not None or actor.type == "system":
        return refusal
    if not has_perm(actor.user, Perm.DECIDE):
        return DomainError(ERR_AUTHZ_ROLE)
    return None


RESOLVE_FAILED_MESSAGE = "Only a senior agent or finance can retry or cancel a failed refund."


def requires_mfa(user: Any) -> bool:
    """Whether `user` must pass a second factor (TOTP or a recovery code) to use staff screens.

    Anyone who can do more than an agent: seniors, finance, risk, admins and
    superusers, and any role added later with more power (user administration,
    say) without this list having to learn its name. A stolen agent password
    can request refunds but never approve one alone (maker-checker), so agents
    may enrol but are not made to. Asked by console.middleware.StaffMfaMiddleware
    when `MFA_REQUIRED` is on; API keys never pass through it.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    agent_permissions = {str(perm) for perm in ROLE_PERMISSIONS[Role.AGENT]}
    return bool(user.get_all_permissions() - agent_permissions)


def works_in_admin(user: Any) -> bool:
    """Whether the Django admin holds work for `user`: the top bar's *Admin* link and an access admin's home.

    Staff status alone says nothing (the demo makes every user staff): agents
    and seniors do everything in the console, so the admin is for who holds
    a permission beyond theirs — risk (policy), finance (ledger), admins and
    access admins — and for superusers.
    """
    if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    console_only = {str(perm) for role in (Role.AGENT, Role.SENIOR_AGENT) for perm in ROLE_PERMISSIONS[role]}
    console_only |= {str(perm) for perm in Perm.values}
    return bool(user.get_all_permissions() - console_only)


# --- approvals (maker-checker, dual control) ----------------------------------


class ApprovalRefusal(enum.Enum):
    """Why a person may not approve a refund that is waiting for approval."""

    MAKER = "maker"  # they requested it (maker-checker)
    ADMINISTERS_ACCESS = "administers_access"  # superuser or access admin (separation of duties)
    ROLE = "role"  # their role cannot decide refunds
    NOT_SENIOR = "not_senior"  # two approvals are needed and they are not a senior
    ALREADY_APPROVED = "already_approved"  # they gave one of the two approvals already

    def error(self) -> DomainError:
        """The refusal as the services raise it (and the API answers it)."""
        return {
            ApprovalRefusal.MAKER: lambda: DomainError(ERR_AUTHZ_MAKER_CHECKER),
            ApprovalRefusal.ADMINISTERS_ACCESS: lambda: DomainError(ERR_AUTHZ_ROLE, ADMINISTERS_ACCESS_MESSAGE),
            ApprovalRefusal.ROLE: lambda: DomainError(ERR_AUTHZ_ROLE),
            ApprovalRefusal.NOT_SENIOR: lambda: DomainError(
                ERR_AUTHZ_ROLE, "This refund needs approvals from senior agents."
            ),
            ApprovalRefusal.ALREADY_APPROVED: lambda: DomainError(
                ERR_AUTHZ_DUAL_CONTROL, "You already approved this refund; a different senior must."
            ),
        }[self]()


def approval_refusal(refund: Refund, user: Any, *, approver_ids: Collection[int | None]) -> ApprovalRefusal | None:
    """Why `user` may not approve `refund` now, or None when they may (the state is the caller's check).

    `approver_ids` are the users who already approved it. Checked in this
    order, so the most fundamental reason is the one given.
    """
    if _is_maker(refund, user):
        return ApprovalRefusal.MAKER
    if administers_access(user):
        return ApprovalRefusal.ADMINISTERS_ACCESS
    if not has_perm(user, Perm.DECIDE):
        return ApprovalRefusal.ROLE
    if refund.approvals_required > 1 and not has_perm(user, Perm.APPROVE_SENIOR):
        return ApprovalRefusal.NOT_SENIOR
    if user is not None and user.pk in approver_ids:
        return ApprovalRefusal.ALREADY_APPROVED
    return None


def _is_maker(refund: Refund, user: Any) -> bool:
    return user is not None and refund.requested_by_id is not None and refund.requested_by_id == user.pk


def edit_refusal(refund: Refund, user: Any, *, approvals_given: int) -> DomainError | None:
    """Why `user` may not edit `refund`'s amount or reply now, or None.

    The requester never edits their own refund: maker-checker would mean
    nothing if the maker could change the terms under the checker's eyes.
    An edit after a first approval is refused: that approval was given for the old terms.
    """
    refusal = decide_refusal(user)
    if refusal is not None:
        return refusal
    if _is_maker(refund, user):
        return DomainError(
            ERR_AUTHZ_MAKER_CHECKER, "You requested this refund, so someone else must edit it (maker-checker)."
        )
    if refund.state != RefundState.REQUESTED:
        return InvalidTransition(refund.state, "edited")
    if approvals_given:
        return DomainError(ERR_CONFLICT_STATE, "This refund already has an approval; it can no longer be edited.")
    return None


# --- roles as groups ------------------------------------------------------------


def roles_sync(apps: Any, *, strict: bool = True) -> None:
    """Give each role group exactly ROLE_PERMISSIONS, with the models of `apps`.

    Migrations pass their historical app registry and strict=False: a model
    added by a later migration has no permission yet at that point (the later
    migration syncs again). `roles_ensure` uses the live registry, strictly.
    """
    for label in _ROLE_APPS:
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = str(perm).split(".")
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None and strict:
                raise LookupError(f"permission {perm} of role {role} does not exist")
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def roles_ensure() -> dict[str, Group]:
    """Create the role groups with their permissions; safe to run any number of times."""
    roles_sync(global_apps)
    return {group.name: group for group in Group.objects.filter(name__in=ROLE_PERMISSIONS)}
