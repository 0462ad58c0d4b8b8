"""Roles as Django groups and the reference data every environment needs."""

from __future__ import annotations

from django.contrib.auth.models import Group

from refunds.enums import Role

# Which permissions each role holds: (app_label, codename).
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.AGENT: [
        ("refunds", "view_refund"),
        ("refunds", "decide_refund"),
        ("refunds", "request_refund"),
        ("refunds", "view_order"),
    ],
    Role.SENIOR_AGENT: [
        ("refunds", "view_refund"),
        ("refunds", "decide_refund"),
        ("refunds", "approve_senior"),
        ("refunds", "request_refund"),
        ("refunds", "view_order"),
    ],
    Role.FINANCE: [
        ("refunds", "view_refund"),
        ("refunds", "view_order"),
        ("refunds", "view_finance"),
        ("refunds", "mark_payout_paid"),
        ("refunds", "view_outboxmessage"),
        ("refunds", "view_payouttask"),
        ("refunds", "change_payouttask"),
        ("refunds", "view_webhookevent"),
        ("ledger", "view_journalentry"),
        ("ledger", "view_account"),
        ("audit", "view_auditevent"),
    ],
    Role.RISK: [
        ("refunds", "view_refund"),
        ("refunds", "view_refundpolicy"),
        ("refunds", "add_refundpolicy"),
        ("refunds", "change_refundpolicy"),
        ("audit", "view_auditevent"),
    ],
    Role.ADMIN: [
        ("refunds", "view_refund"),
        ("refunds", "decide_refund"),
        ("refunds", "approve_senior"),
        ("refunds", "request_refund"),
        ("refunds", "view_finance"),
        ("refunds", "mark_payout_paid"),
        ("refunds", "view_refundpolicy"),
        ("refunds", "change_refundpolicy"),
        ("refunds", "view_order"),
        ("refunds", "view_outboxmessage"),
        ("refunds", "view_payouttask"),
        ("refunds", "change_payouttask"),
        ("refunds", "view_webhookevent"),
        ("ledger", "view_journalentry"),
        ("audit", "view_auditevent"),
    ],
}


def roles_sync(apps, *, strict: bool = True) -> None:
    """Give each role group exactly ROLE_PERMISSIONS, with the models of `apps`.

    Migrations pass their historical app registry and strict=False: a model
    added by a later migration has no permission yet at that point (the later
    migration syncs again). `roles_ensure` uses the live registry, strictly.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for label in ("refunds", "ledger", "audit"):
        create_permissions(global_apps.get_app_config(label), apps=apps, verbosity=0)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for app, code in perms:
            permission = permission_model.objects.filter(content_type__app_label=app, codename=code).first()
            if permission is None and strict:
                raise LookupError(f"permission {app}.{code} of role {role} does not exist")
            if permission is not None:
                wanted.append(permission)
        group.permissions.set(wanted)


def roles_ensure() -> dict[str, Group]:
    """Create the role groups with their permissions; safe to run any number of times."""
    from django.apps import apps

    roles_sync(apps)
    return {group.name: group for group in Group.objects.filter(name__in=ROLE_PERMISSIONS)}


def reference_data_ensure() -> None:
    """Roles, chart of accounts, the audit chain head and a default policy: what a fresh database needs."""
    from audit.models import AuditChainHead
    from ledger.services import accounts_ensure
    from refunds.services.policy import policy_get_active

    roles_ensure()
    accounts_ensure()
    AuditChainHead.objects.get_or_create(id=1)
    policy_get_active()
