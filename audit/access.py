"""Every change to who may do what is an event of the audit trail (issue 10 item 9).

Users, groups, group membership, a user's own permissions and a group's
permissions change through the Django admin, a shell, a management command
or a migration's live models — so they are recorded where every one of those
paths passes: Django's model signals, in the transaction of the change (a
rolled-back change leaves no event). The actor is the person of the current
request (`core.actor.current_actor`), else the system.

A change that widens access — a new superuser or staff member, a reactivated
account, a group or permission added — is flagged, so a puppet approver made
by an admin stands out in the trail. Password hashes never enter it: a
password is "set", "unusable" or "changed".

API keys (`refunds.services.api_keys`) and the refund policy
(`refunds.services.policy_admin`) are audited by the services that change
them; the admin only reaches them through those services.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor, current_actor

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser")
# False → True on any of these widens what the account may do.
WIDENING_FLAGS = ("is_active", "is_staff", "is_superuser")
_BEFORE = "_audit_access_before"
_CLEARED = "_audit_access_cleared"


def _actor() -> Actor:
    return current_actor(Actor.system("system (no signed-in user)"))


def _password_state(encoded: str | None) -> str:
    return "set" if encoded and not encoded.startswith("!") else "unusable"


def _user_snapshot(values: dict[str, Any], password: str | None) -> dict[str, Any]:
    return {**{name: values[name] for name in USER_FIELDS}, "password": _password_state(password)}


def _record(action: AuditAction, subject: str, *, before=None, after=None, flagged: bool = False, note: str = ""):
    audit_record(actor=_actor(), action=action, subject=subject, before=before, after=after, flagged=flagged, note=note)


# --- users --------------------------------------------------------------------


def _is_login_stamp(update_fields) -> bool:
    """Signing in saves `last_login` alone: not a change of access."""
    return update_fields is not None and set(update_fields) <= {"last_login"}


def user_pre_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance.pk is None or instance._state.adding or _is_login_stamp(update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values(*USER_FIELDS, "password").first()
    if stored is not None:
        instance.__dict__[_BEFORE] = stored


def user_post_save(sender, instance, created, raw=False, update_fields=None, **kwargs) -> None:
    if raw or _is_login_stamp(update_fields):
        return
    now = {name: getattr(instance, name) for name in USER_FIELDS}
    subject = f"user {instance.pk}"
    if created:
        after = _user_snapshot(now, instance.password)
        flagged = bool(instance.is_superuser or instance.is_staff)
        _record(AuditAction.USER_CREATED, subject, after=after, flagged=flagged)
        return
    stored = instance.__dict__.pop(_BEFORE, None)
    if stored is None:
        return
    before = _user_snapshot(stored, stored["password"])
    after = _user_snapshot(now, instance.password)
    if stored["password"] != instance.password:
        after["password"] = "changed" if after["password"] == "set" else after["password"]
    if before == after:
        return
    flagged = any(after[name] and not before[name] for name in WIDENING_FLAGS)
    _record(AuditAction.USER_CHANGED, subject, before=before, after=after, flagged=flagged)


def user_post_delete(sender, instance, **kwargs) -> None:
    before = _user_snapshot({name: getattr(instance, name) for name in USER_FIELDS}, instance.password)
    _record(AuditAction.USER_DELETED, f"user {instance.pk}", before=before)


# --- groups -------------------------------------------------------------------


def group_pre_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None or instance._state.adding:
        return
    instance.__dict__[_BEFORE] = sender.objects.filter(pk=instance.pk).values_list("name", flat=True).first()


def group_post_save(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    subject = f"group {instance.pk}"
    if created:
        _record(AuditAction.GROUP_CREATED, subject, after={"name": instance.name})
        return
    before = instance.__dict__.pop(_BEFORE, None)
    if before is not None and before != instance.name:
        _record(AuditAction.GROUP_CHANGED, subject, before={"name": before}, after={"name": instance.name})


def group_post_delete(sender, instance, **kwargs) -> None:
    _record(AuditAction.GROUP_DELETED, f"group {instance.pk}", before={"name": instance.name})


# --- memberships and permissions (many-to-many, from either side) ----------------


def _permission_label(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _group_names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def _user_permission_labels(user) -> list[str]:
    return sorted(_permission_label(p) for p in user.user_permissions.select_related("content_type"))


def _group_permission_labels(group) -> list[str]:
    return sorted(_permission_label(p) for p in group.permissions.select_related("content_type"))


def _names_of(model, pks) -> list[str]:
    if model is Permission:
        return [_permission_label(p) for p in Permission.objects.filter(pk__in=pks).select_related("content_type")]
    if model is Group:
        return list(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    return []


class _Relation:
    """One many-to-many of access: whose it is, how it reads, how its change is recorded."""

    def __init__(self, owner, key: str, action: AuditAction, kind: str, read) -> None:
        self.owner, self.key, self.action, self.kind, self.read = owner, key, action, kind, read

    def changed(self, sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
        if action not in {"pre_clear", "post_add", "post_remove", "post_clear"}:
            return
        if reverse:
            # `group.user_set.add(user)`, `permission.group_set.remove(group)`: the owners are in pk_set.
            if action == "pre_clear":
                instance.__dict__[_CLEARED] = set(
                    self.owner.objects.filter(**{self.key: instance}).values_list("pk", flat=True)
                )
                return
            owner_ids = instance.__dict__.pop(_CLEARED, set()) if action == "post_clear" else pk_set
            names = _names_of(type(instance), [instance.pk])
            for owner in self.owner.objects.filter(pk__in=owner_ids or ()).order_by("pk"):
                self._record(owner, action, names)
            return
        if action == "pre_clear":
            instance.__dict__[_CLEARED] = _names_of(model, getattr(instance, self.key).values_list("pk", flat=True))
            return
        names = instance.__dict__.pop(_CLEARED, []) if action == "post_clear" else _names_of(model, pk_set or ())
        self._record(instance, action, names)

    def _record(self, owner, action: str, names: list[str]) -> None:
        if not names:
            return
        after = self.read(owner)
        added = action == "post_add"
        before = sorted(set(after) - set(names)) if added else sorted(set(after) | set(names))
        _record(
            self.action,
            f"{self.kind} {owner.pk}",
            before={self.field: before},
            after={self.field: after},
            flagged=added,
        )

    @property
    def field(self) -> str:
        return "groups" if self.key == "groups" else "permissions"


def connect() -> None:
    """Connect the receivers (AuditConfig.ready); the live models only, never a migration's historical ones."""
    user_model = get_user_model()
    uid = "audit.access"
    pre_save.connect(user_pre_save, sender=user_model, dispatch_uid=f"{uid}.user_pre_save")
    post_save.connect(user_post_save, sender=user_model, dispatch_uid=f"{uid}.user_post_save")
    post_delete.connect(user_post_delete, sender=user_model, dispatch_uid=f"{uid}.user_post_delete")
    pre_save.connect(group_pre_save, sender=Group, dispatch_uid=f"{uid}.group_pre_save")
    post_save.connect(group_post_save, sender=Group, dispatch_uid=f"{uid}.group_post_save")
    post_delete.connect(group_post_delete, sender=Group, dispatch_uid=f"{uid}.group_post_delete")
    relations = [
        (
            user_model.groups.through,
            _Relation(user_model, "groups", AuditAction.USER_GROUPS_CHANGED, "user", _group_names),
        ),
        (
            user_model.user_permissions.through,
            _Relation(
                user_model, "user_permissions", AuditAction.USER_PERMISSIONS_CHANGED, "user", _user_permission_labels
            ),
        ),
        (
            Group.permissions.through,
            _Relation(Group, "permissions", AuditAction.GROUP_PERMISSIONS_CHANGED, "group", _group_permission_labels),
        ),
    ]
    for through, relation in relations:
        # weak=False: the bound method of an object nothing else holds would be collected at once.
        m2m_changed.connect(relation.changed, sender=through, weak=False, dispatch_uid=f"{uid}.{through.__name__}")
