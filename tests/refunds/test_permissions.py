"""Who may approve: one answer for the services and the console card (refunds.permissions)."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from console.presenters.card import console_refund, refund_card
from core.actor import Actor
from core.errors import DomainError
from refunds.enums import Reason, RefundState, Role
from refunds.permissions import ROLE_PERMISSIONS, ApprovalRefusal, Perm, approval_refusal, has_perm
from refunds.services.decide import refund_approve
from tests.refunds.factories import UserFactory, captured_order, make_refund, requester

pytestmark = pytest.mark.django_db


def refund_needing(approvals: int, *, by=None):
    amount = 25000 if approvals == 2 else 5000  # goodwill above the 200.00 threshold needs two seniors
    order = captured_order(amount_minor=100000)
    return make_refund(order=order, amount_minor=amount, reason=Reason.GOODWILL, actor=by or requester())


def test_refusals_come_in_order_of_how_fundamental_they_are():
    maker = UserFactory(username="maker", role=Role.FINANCE)
    refund = refund_needing(2, by=Actor.for_user(maker))
    # The maker lacks the role too, but maker-checker is the reason given.
    assert approval_refusal(refund, maker, approver_ids=[]) is ApprovalRefusal.MAKER
    assert (
        approval_refusal(refund, UserFactory(username="f", role=Role.FINANCE), approver_ids=[]) is ApprovalRefusal.ROLE
    )
    agent = UserFactory(username="a", role=Role.AGENT)
    assert approval_refusal(refund, agent, approver_ids=[]) is ApprovalRefusal.NOT_SENIOR
    senior = UserFactory(username="s", role=Role.SENIOR_AGENT)
    assert approval_refusal(refund, senior, approver_ids=[senior.pk]) is ApprovalRefusal.ALREADY_APPROVED
    assert approval_refusal(refund, senior, approver_ids=[]) is None


def test_an_inactive_or_missing_user_holds_no_permission():
    user = UserFactory(username="gone", role=Role.ADMIN)
    assert has_perm(user, Perm.DECIDE)
    user.is_active = False
    assert not has_perm(user, Perm.DECIDE)
    assert not has_perm(None, Perm.DECIDE)


def test_every_role_permission_exists():
    from django.contrib.auth.models import Permission

    for role, perms in ROLE_PERMISSIONS.items():
        for perm in perms:
            app_label, codename = str(perm).split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (
                role,
                perm,
            )


SENIORS = (Role.SENIOR_AGENT, Role.ADMIN)
CASES = [
    (role, needed, is_maker, approved_before)
    for role, needed, is_maker, approved_before in itertools.product(
        [Role.AGENT, Role.SENIOR_AGENT, Role.FINANCE, Role.RISK, Role.ADMIN],  # the approver's role
        [1, 2],  # approvals the refund needs
        [False, True],  # the approver requested the refund
        [False, True],  # the approver already gave the first of two approvals
    )
    # Only a senior who is not the maker can have given the first of two approvals.
    if not approved_before or (needed == 2 and not is_maker and role in SENIORS)
]


@pytest.mark.parametrize(("role", "needed", "is_maker", "approved_before"), CASES)
def test_the_card_offers_approve_exactly_when_the_service_accepts_it(role, needed, is_maker, approved_before):
    user = UserFactory(username="approver", role=role)
    refund = refund_needing(needed, by=Actor.for_user(user) if is_maker else None)
    if approved_before:
        refund_approve(refund_id=refund.pk, actor=Actor.for_user(user))
    card = refund_card(refund=console_refund(public_id=refund.public_id), user=user)

    accepted = True
    try:
        with transaction.atomic():
            result = refund_approve(refund_id=refund.pk, actor=Actor.for_user(user))
            assert result.state in (RefundState.REQUESTED, RefundState.APPROVED)
            transaction.set_rollback(True)
    except DomainError:
        accepted = False
    assert card.can_approve == accepted
    assert bool(card.approve_blocker) == (not accepted)
