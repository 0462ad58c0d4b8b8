"""Issue 10 item 9: one admin satisfied dual control alone by creating a puppet senior.

Administering people (users, groups, permissions, API keys) is the access
admin's role, which cannot approve refunds; superusers cannot approve; and
every change to who may do what is an event of the hash-chained audit trail,
from the Django admin too.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_seal_pending, audit_verify
from refunds.enums import Reason, RefundState, Role
from refunds.models import ApiKey, Refund
from tests.refunds.factories import api_key, captured_order, make_refund, staff_client

pytestmark = pytest.mark.django_db

User = get_user_model()


def dual_control_refund() -> Refund:
    """Goodwill above the 200.00 threshold: two different seniors must approve."""
    order = captured_order(amount_minor=100000)
    return make_refund(order=order, amount_minor=25000, reason=Reason.GOODWILL)


def create_puppet_senior(admin: Client, username: str = "puppet") -> User:
    """What the attacker did: add a user in the Django admin, then put them in the senior group."""
    added = admin.post(
        "/admin/auth/user/add/",
        {
            "username": username,
            "password1": "Puppet-pass-9137",
            "password2": "Puppet-pass-9137",
            "usable_password": "true",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    puppet = User.objects.get(username=username)
    changed = admin.post(
        f"/admin/auth/user/{puppet.pk}/change/",
        {
            "username": username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_active": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name=Role.SENIOR_AGENT).pk],
            "user_permissions": [],
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2025-01-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert changed.status_code == 302, changed.content.decode()[:2000]
    puppet.refresh_from_db()
    return puppet


def approve_on_card(client: Client, refund: Refund) -> int:
    """Approve as the card's form does, with the hidden fields the card rendered for this person."""
    card = f"/console/refunds/{refund.public_id}/"
    forms = re.findall(r'name="version" value="(\d+)"', client.get(card).content.decode())
    return client.post(card + "approve/", {"version": forms[0]} if forms else {}).status_code


def test_a_superuser_cannot_approve_a_refund_even_as_one_of_two():
    """The attack as filed: the superuser approves, their puppet senior gives the second approval."""
    refund = dual_control_refund()
    admin = staff_client("boss", Role.ADMIN, superuser=True)
    puppet = create_puppet_senior(admin)
    puppet_client = Client()
    puppet_client.force_login(puppet)

    assert approve_on_card(admin, refund) == 403
    assert approve_on_card(puppet_client, refund) == 302  # the puppet's one approval: one of two
    refund.refresh_from_db()
    assert refund.state == RefundState.REQUESTED
    assert refund.decisions.filter(kind="approve").count() == 1


def test_creating_a_puppet_senior_in_the_admin_is_in_the_audit_trail():
    admin = staff_client("keeper", Role.ACCESS_ADMIN)
    puppet = create_puppet_senior(admin)

    created = AuditEvent.objects.get(action="user.created", subject=f"user {puppet.pk}")
    assert (created.actor_type, created.actor_user_id) == ("user", admin.user.pk)
    assert created.after["username"] == "puppet"
    granted = AuditEvent.objects.get(action="user.groups_changed", subject=f"user {puppet.pk}")
    assert granted.actor_user_id == admin.user.pk
    assert (granted.before, granted.after) == ({"groups": []}, {"groups": [Role.SENIOR_AGENT]})
    assert granted.flagged  # a grant of access is loud
    staffed = AuditEvent.objects.get(action="user.changed", subject=f"user {puppet.pk}")
    assert (staffed.before["is_staff"], staffed.after["is_staff"]) == (False, True)
    # The events are links of the hash chain like every other.
    audit_seal_pending()
    assert list(audit_verify()) == []


def test_an_access_admin_cannot_approve_whatever_other_groups_they_hold():
    refund = Refund.objects.get(
        pk=make_refund(order=captured_order(amount_minor=50000), amount_minor=1000, reason=Reason.GOODWILL).pk
    )
    keeper = staff_client("keeper", Role.ACCESS_ADMIN)
    keeper.user.groups.add(Group.objects.get(name=Role.SENIOR_AGENT))
    assert approve_on_card(keeper, refund) == 403
    assert Refund.objects.get(pk=refund.pk).state == RefundState.REQUESTED


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT, Role.FINANCE, Role.RISK, Role.ADMIN])
def test_no_other_role_administers_users_groups_or_keys(role):
    client = staff_client("someone", role)
    for url in ["/admin/auth/user/", "/admin/auth/user/add/", "/admin/auth/group/", "/admin/refunds/apikey/"]:
        assert client.get(url).status_code == 403, url


def test_the_access_admin_administers_users_groups_and_keys():
    client = staff_client("keeper", Role.ACCESS_ADMIN)
    for url in ["/admin/auth/user/", "/admin/auth/user/add/", "/admin/auth/group/", "/admin/refunds/apikey/"]:
        assert client.get(url).status_code == 200, url


def test_api_keys_are_revoked_in_the_admin_never_deleted_and_the_revocation_is_audited():
    api_key("merchant")
    key = ApiKey.objects.get(user__username="merchant")
    client = staff_client("keeper", Role.ACCESS_ADMIN)
    assert client.get(f"/admin/refunds/apikey/{key.pk}/delete/").status_code == 403
    response = client.post("/admin/refunds/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="api_key.revoked")
    assert event.actor_user_id == client.user.pk
