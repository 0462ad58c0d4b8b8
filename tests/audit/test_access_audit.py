"""Issue 10 item 9: every change to who may do what is an event of the hash-chained trail.

Users, groups, group membership (from either side), a user's own
permissions and a group's permissions: whichever code path makes the change
(the Django admin, a shell, a management command), the trail records it with
the person acting when there is one, and a widening of access is flagged.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_seal_pending, audit_verify
from refunds.enums import Role
from tests.refunds.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def events(action: str, subject: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, subject=subject).order_by("id"))


def perm(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


def test_creating_changing_and_deleting_a_user_is_recorded_without_the_password_hash():
    user = User.objects.create_user("temp", password="Some-pass-4821")
    subject = f"user {user.pk}"
    (created,) = events("user.created", subject)
    assert created.actor_type == "system" and created.after["username"] == "temp"
    assert "pbkdf2" not in str(created.after) and created.after["password"] == "set"

    user.is_superuser = True
    user.set_password("Other-pass-7710")
    user.save()
    (changed,) = events("user.changed", subject)
    assert (changed.before["is_superuser"], changed.after["is_superuser"]) == (False, True)
    assert (changed.before["password"], changed.after["password"]) == ("set", "changed")
    assert changed.flagged

    pk = user.pk
    user.delete()
    (deleted,) = events("user.deleted", f"user {pk}")
    assert deleted.before["username"] == "temp" and deleted.after is None


def test_a_save_that_changes_nothing_of_access_and_a_login_are_not_recorded():
    user = UserFactory(username="quiet")
    user.save()
    Client().force_login(user)  # updates last_login only
    assert not events("user.changed", f"user {user.pk}")


def test_group_membership_is_recorded_from_either_side():
    user = UserFactory(username="member")
    senior = Group.objects.get(name=Role.SENIOR_AGENT)
    finance = Group.objects.get(name=Role.FINANCE)
    user.groups.add(senior)
    finance.user_set.add(user)
    user.groups.remove(senior)
    user.groups.clear()
    changes = [
        (e.before["groups"], e.after["groups"], e.flagged) for e in events("user.groups_changed", f"user {user.pk}")
    ]
    assert changes == [
        ([], [Role.SENIOR_AGENT], True),
        ([Role.SENIOR_AGENT], [Role.FINANCE, Role.SENIOR_AGENT], True),
        ([Role.FINANCE, Role.SENIOR_AGENT], [Role.FINANCE], False),
        ([Role.FINANCE], [], False),
    ]


def test_a_users_own_permissions_are_recorded():
    user = UserFactory(username="direct")
    user.user_permissions.add(perm("approve_senior"))
    (event,) = events("user.permissions_changed", f"user {user.pk}")
    assert (event.before, event.after) == ({"permissions": []}, {"permissions": ["refunds.approve_senior"]})
    assert event.flagged


def test_groups_and_their_permissions_are_recorded():
    group = Group.objects.create(name="night shift")
    subject = f"group {group.pk}"
    assert events("group.created", subject)[0].after == {"name": "night shift"}
    group.permissions.add(perm("decide_refund"))
    group.permissions.remove(perm("decide_refund"))
    changes = [(e.after["permissions"], e.flagged) for e in events("group.permissions_changed", subject)]
    assert changes == [(["refunds.decide_refund"], True), ([], False)]
    group.name = "late shift"
    group.save()
    assert [(e.before, e.after) for e in events("group.changed", subject)] == [
        ({"name": "night shift"}, {"name": "late shift"})
    ]
    pk = group.pk
    group.delete()
    assert events("group.deleted", f"group {pk}")[0].before == {"name": "late shift"}


def test_the_person_acting_in_a_request_is_the_actor():
    keeper = UserFactory(username="keeper", role=Role.ACCESS_ADMIN)
    keeper.is_staff = True
    keeper.save()
    client = Client()
    client.force_login(keeper)
    senior = Group.objects.get(name=Role.SENIOR_AGENT)
    response = client.post(
        f"/admin/auth/group/{senior.pk}/change/",
        {
            "name": Role.SENIOR_AGENT,
            "permissions": [*senior.permissions.values_list("pk", flat=True), perm("view_finance").pk],
        },
    )
    assert response.status_code == 302
    (event,) = events("group.permissions_changed", f"group {senior.pk}")
    assert (event.actor_type, event.actor_user_id, event.actor_label) == ("user", keeper.pk, "keeper")
    assert "refunds.view_finance" in event.after["permissions"]
    audit_seal_pending()
    assert list(audit_verify()) == []
