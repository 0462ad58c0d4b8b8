"""Policy governance: drafts, four-eyes approval, activation time, audit (issue 12 item 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.errors import ERR_AUTHZ_MAKER_CHECKER, ERR_AUTHZ_ROLE, ERR_CONFLICT_STATE, DomainError
from refunds.enums import PolicyStatus, RefundState, Role
from refunds.models import RefundPolicy
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import policy_draft_approve, policy_draft_create, policy_draft_reject
from tests.refunds.factories import UserFactory, captured_order, make_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk_users():
    return UserFactory(username="risk1", role=Role.RISK), UserFactory(username="risk2", role=Role.RISK)


def draft_from_active(author, *, other_ceiling: int = 10000, activates_at=None) -> RefundPolicy:
    edited = policy_get_active()
    edited.limits = {**edited.limits, "USD": {**edited.limits["USD"], "other": other_ceiling}}
    edited.note = "Lower the USD ceiling for other"
    return policy_draft_create(policy=edited, user=author, activates_at=activates_at)


def refused(code, fn, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as error:
        fn(**kwargs)
    assert error.value.code == code
    return error.value


def test_a_saved_change_is_a_draft_and_does_not_apply(risk_users):
    active = policy_get_active()
    draft = draft_from_active(risk_users[0])
    assert (draft.status, draft.version) == (PolicyStatus.DRAFT, active.version + 1)
    assert policy_get_active().pk == active.pk


def test_a_second_risk_user_approves_and_the_draft_applies(risk_users):
    draft = draft_from_active(risk_users[0])
    approved = policy_draft_approve(policy_id=draft.pk, user=risk_users[1], note="Backtest looks right")
    assert (approved.status, approved.reviewed_by) == (PolicyStatus.APPROVED, risk_users[1])
    assert policy_get_active().pk == draft.pk


def test_the_author_cannot_approve_or_reject_their_own_draft(risk_users):
    draft = draft_from_active(risk_users[0])
    error = refused(ERR_AUTHZ_MAKER_CHECKER, policy_draft_approve, policy_id=draft.pk, user=risk_users[0])
    assert "four-eyes" in error.message
    refused(ERR_AUTHZ_MAKER_CHECKER, policy_draft_reject, policy_id=draft.pk, user=risk_users[0], note="no")


def test_the_database_refuses_an_author_reviewing_their_own_draft(risk_users):
    draft = draft_from_active(risk_users[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundPolicy.objects.filter(pk=draft.pk).update(
            status=PolicyStatus.APPROVED,
            reviewed_by=risk_users[0],
            reviewed_at=timezone.now(),
            activates_at=timezone.now(),
        )


def test_the_database_refuses_an_approved_version_without_activation_time(risk_users):
    draft = draft_from_active(risk_users[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundPolicy.objects.filter(pk=draft.pk).update(status=PolicyStatus.APPROVED)


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT, Role.FINANCE, Role.ADMIN])
def test_only_risk_may_draft_or_review(risk_users, role):
    other = UserFactory(username=f"u-{role}", role=role)
    refused(ERR_AUTHZ_ROLE, policy_draft_create, policy=policy_get_active(), user=other)
    draft = draft_from_active(risk_users[0])
    refused(ERR_AUTHZ_ROLE, policy_draft_approve, policy_id=draft.pk, user=other)


def test_a_decided_draft_cannot_be_decided_again(risk_users):
    draft = draft_from_active(risk_users[0])
    third = UserFactory(username="risk3", role=Role.RISK)
    policy_draft_reject(policy_id=draft.pk, user=risk_users[1], note="Too strict for EUR")
    refused(ERR_CONFLICT_STATE, policy_draft_approve, policy_id=draft.pk, user=third)


def test_rejecting_needs_a_reason_and_the_rejected_draft_never_applies(risk_users):
    active = policy_get_active()
    draft = draft_from_active(risk_users[0])
    with pytest.raises(DomainError):
        policy_draft_reject(policy_id=draft.pk, user=risk_users[1], note=" ")
    rejected = policy_draft_reject(policy_id=draft.pk, user=risk_users[1], note="Too strict")
    assert (rejected.status, rejected.review_note) == (PolicyStatus.REJECTED, "Too strict")
    assert policy_get_active().pk == active.pk


def test_an_activation_time_holds_the_approved_version_back_until_it_comes(risk_users):
    order = captured_order(amount_minor=100000)
    active = policy_get_active()
    start = timezone.now() + timedelta(hours=2)
    draft = draft_from_active(risk_users[0], activates_at=start)
    approved = policy_draft_approve(policy_id=draft.pk, user=risk_users[1])
    assert approved.activates_at == start
    before = make_refund(order=order, amount_minor=30000)
    assert policy_get_active().pk == active.pk and before.policy_version_id == active.pk
    assert policy_get_active(now=start + timedelta(seconds=1)).pk == draft.pk
    # The refund created before keeps the version that decided it.
    before.refresh_from_db()
    assert before.policy_version_id == active.pk and before.state == RefundState.APPROVED


def test_an_activation_time_already_past_at_approval_applies_from_the_approval(risk_users):
    draft = draft_from_active(risk_users[0], activates_at=timezone.now() - timedelta(days=1))
    moment = timezone.now()
    approved = policy_draft_approve(policy_id=draft.pk, user=risk_users[1], now=moment)
    assert approved.activates_at == moment


def test_drafting_approving_and_rejecting_are_audited(risk_users):
    first = draft_from_active(risk_users[0])
    policy_draft_approve(policy_id=first.pk, user=risk_users[1], note="ok")
    second = draft_from_active(risk_users[1], other_ceiling=20000)
    policy_draft_reject(policy_id=second.pk, user=risk_users[0], note="not now")
    events = list(
        AuditEvent.objects.filter(action__startswith="policy.")
        .order_by("pk")
        .values_list("action", "subject", "actor_label")
    )
    assert [(action, subject) for action, subject, _ in events] == [
        (AuditAction.POLICY_DRAFT_CREATED, f"policy v{first.version}"),
        (AuditAction.POLICY_APPROVED, f"policy v{first.version}"),
        (AuditAction.POLICY_DRAFT_CREATED, f"policy v{second.version}"),
        (AuditAction.POLICY_REJECTED, f"policy v{second.version}"),
    ]
    created = AuditEvent.objects.filter(action=AuditAction.POLICY_DRAFT_CREATED).order_by("pk").first()
    assert created.before["limits"]["USD"]["other"] == 50000 and created.after["limits"]["USD"]["other"] == 10000
