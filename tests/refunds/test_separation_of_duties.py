"""Issue 10 item 9: who administers access never decides refunds (refunds.permissions).

A superuser holds every permission Django knows, and an access admin can
make anyone a senior: if either could also approve, one person could create
the second approver dual control asks for. So both are refused whatever
other groups they hold — in the services, over the API, and on the card.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from console.presenters.card import console_refund, refund_card
from core.actor import Actor
from core.errors import ERR_AUTHZ_ROLE, DomainError
from refunds.enums import Reason, RefundState, Role
from refunds.models import Refund
from refunds.permissions import ROLE_PERMISSIONS, ApprovalRefusal, Perm, approval_refusal, edit_refusal
from refunds.services.decide import refund_approve, refund_deny, refund_edit
from tests.refunds.factories import UserFactory, api_key, captured_order, make_refund

pytestmark = pytest.mark.django_db

DECIDING = {Perm.DECIDE, Perm.APPROVE_SENIOR, Perm.REQUEST, Perm.MARK_PAYOUT_PAID}


def reviewed_refund() -> Refund:
    return make_refund(order=captured_order(amount_minor=50000), amount_minor=1000, reason=Reason.GOODWILL)


def superuser(username: str = "root", role: str | None = None):
    user = UserFactory(username=username, role=role)
    user.is_superuser = True
    user.save()
    return user


def access_admin_who_is_also(role: str):
    user = UserFactory(username="keeper", role=Role.ACCESS_ADMIN)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.parametrize(
    "make_user",
    [
        pytest.param(lambda: superuser(), id="superuser"),
        pytest.param(lambda: superuser(role=Role.SENIOR_AGENT), id="superuser-and-senior"),
        pytest.param(lambda: access_admin_who_is_also(Role.SENIOR_AGENT), id="access-admin-and-senior"),
        pytest.param(lambda: access_admin_who_is_also(Role.ADMIN), id="access-admin-and-admin"),
    ],
)
def test_who_administers_access_may_not_approve_edit_or_decline(make_user):
    user = make_user()
    refund = reviewed_refund()
    assert approval_refusal(refund, user, approver_ids=[]) is ApprovalRefusal.ADMINISTERS_ACCESS
    assert edit_refusal(refund, user, approvals_given=0) is not None
    actor = Actor.for_user(user)
    for act, kwargs in [
        (refund_approve, {}),
        (refund_edit, {"amount_minor": 500}),
        (refund_deny, {"note": "no"}),
    ]:
        with pytest.raises(DomainError) as error:
            act(refund_id=refund.pk, actor=actor, **kwargs)
        assert error.value.code == ERR_AUTHZ_ROLE, act.__name__
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 1000)
    card = refund_card(refund=console_refund(public_id=refund.public_id), user=user)
    assert not card.can_approve and not card.can_edit and not card.can_decide
    assert "administer" in card.approve_blocker


def test_an_api_key_of_a_superuser_cannot_approve():
    superuser("root")
    checker = APIClient()
    checker.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('root')}")
    refund_id = reviewed_refund().public_id
    response = checker.post(f"/v1/refunds/{refund_id}/decision", {"decision": "approve"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, ERR_AUTHZ_ROLE)
    assert Refund.objects.get(public_id=refund_id).state == RefundState.REQUESTED


def test_the_access_admin_role_holds_access_administration_and_nothing_of_refunds():
    perms = set(ROLE_PERMISSIONS[Role.ACCESS_ADMIN])
    assert {"auth.add_user", "auth.change_user", "auth.change_group", "refunds.change_apikey"} <= perms
    assert not perms & DECIDING


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ACCESS_ADMIN])
def test_no_other_role_administers_users_groups_permissions_or_keys(role):
    held = Permission.objects.filter(group__name=role)
    assert not held.filter(content_type__app_label="auth").exclude(codename__startswith="view_").exists()
    assert not held.filter(content_type__model="apikey").exists()
