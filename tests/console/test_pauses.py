"""Kill switches in the console (issue 16): who may not first, then pulling and lifting them, and the banner."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.enums import AuditAction
from audit.models import AuditEvent
from core.actor import Actor
from refunds.enums import PauseKind, Role
from refunds.models import OperationsPause
from refunds.permissions import Perm, has_perm
from refunds.services.pauses import auto_approval_paused, pause, submission_paused
from tests.refunds.factories import UserFactory, staff_client

pytestmark = pytest.mark.django_db
PAGE = "/console/operations/pauses/"
PAUSE = "/console/operations/pauses/pause/"
RESUME = "/console/operations/pauses/resume/"
SYSTEM = Actor.system("system:test")


# --- who may not -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.AGENT, Role.SENIOR_AGENT, Role.FINANCE, Role.ACCESS_ADMIN, None])
def test_staff_without_the_permission_cannot_see_nor_pull_nor_lift_a_switch(login, role):
    pause(PauseKind.SUBMISSION, provider="stripe", reason="set by risk", actor=SYSTEM)
    client = login(f"user-{role}", role)
    assert not has_perm(client.user, Perm.MANAGE_PAUSES)

    assert client.get(PAGE).status_code == 403
    refused = client.post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "attack"})
    lifted = client.post(RESUME, {"kind": PauseKind.SUBMISSION, "provider": "stripe", "reason": "attack"})

    assert (refused.status_code, lifted.status_code) == (403, 403)
    assert not auto_approval_paused("stripe") and submission_paused("stripe")
    assert OperationsPause.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.OPERATIONS_RESUMED).exists()


def test_a_signed_out_visitor_is_sent_to_sign_in():
    response = Client().post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "reason": "attack"})

    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
    assert not OperationsPause.objects.exists()


def test_a_post_without_the_csrf_token_is_refused_even_for_risk(login):
    client = login("risk", Role.RISK, enforce_csrf_checks=True)

    response = client.post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "forged"})

    assert response.status_code == 403
    assert not OperationsPause.objects.exists()


@pytest.mark.parametrize("role", [Role.RISK, Role.ADMIN])
def test_risk_and_the_operations_admin_hold_the_permission_and_see_the_navigation(login, role):
    assert has_perm(UserFactory(username=f"u-{role}", role=role), Perm.MANAGE_PAUSES)
    client = login(f"nav-{role}", role)
    assert "Kill switches" in client.get(PAGE).content.decode()
    assert "Kill switches" not in login("agent-nav", Role.AGENT).get("/console/").content.decode()


# --- pulling and lifting -----------------------------------------------------------------------


def test_risk_pauses_auto_approval_with_a_reason_and_resumes_it(login):
    client = login("risk", Role.RISK)

    response = client.post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "fraud wave INC-9"})

    assert response.status_code == 302 and response["Location"] == PAGE
    assert auto_approval_paused("stripe")
    row = OperationsPause.objects.get()
    assert (row.paused_by, row.paused_by_label) == (client.user, "risk")
    page = client.get(PAGE).content.decode()
    assert "Paused auto-approval for every provider." in page  # the message
    assert "fraud wave INC-9" in page

    response = client.post(RESUME, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "INC-9 closed"})

    assert response.status_code == 302
    assert not auto_approval_paused("stripe")
    history = client.get(PAGE).content.decode()
    assert "INC-9 closed" in history and "Resumed auto-approval for every provider." in history


def test_the_operations_admin_pauses_one_providers_submission(login):
    client = login("ops", Role.ADMIN)

    client.post(PAUSE, {"kind": PauseKind.SUBMISSION, "provider": "stripe", "reason": "provider incident"})

    assert submission_paused("stripe")
    assert AuditEvent.objects.get(action=AuditAction.OPERATIONS_PAUSED).after["provider"] == "stripe"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "  "}, "A reason is required."),
        ({"kind": PauseKind.SUBMISSION, "provider": "manual", "reason": "x"}, "paid out by hand"),
        ({"kind": PauseKind.SUBMISSION, "provider": "paypal", "reason": "x"}, "Select a valid choice"),
        ({"kind": "everything", "provider": "", "reason": "x"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_shown_beside_the_form_and_changes_nothing(login, data, error):
    response = login("risk", Role.RISK).post(PAUSE, data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not OperationsPause.objects.exists()


def test_pausing_what_is_paused_and_resuming_what_is_not_are_clear_refusals_never_a_500(login):
    client = login("risk", Role.RISK)
    client.post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "first"})

    again = client.post(PAUSE, {"kind": PauseKind.AUTO_APPROVAL, "provider": "", "reason": "second"})
    nothing = client.post(RESUME, {"kind": PauseKind.SUBMISSION, "provider": "stripe", "reason": "why not"})

    assert again.status_code == 400 and "already paused" in again.content.decode()
    assert nothing.status_code == 400 and "is not paused" in nothing.content.decode()
    assert OperationsPause.objects.count() == 1


# --- the banner on every staff page ------------------------------------------------------------


def test_the_banner_says_what_is_paused_since_when_by_whom_and_why_on_console_finance_and_admin(login):
    risk = login("rita", Role.RISK)
    risk.post(PAUSE, {"kind": PauseKind.SUBMISSION, "provider": "stripe", "reason": "provider double-charging"})
    expected = ["Provider submission paused", "for stripe", "by rita", "provider double-charging", "<time datetime="]

    pages = [
        (login("agent", Role.AGENT), "/console/"),
        (login("fin", Role.FINANCE), "/finance/"),
        (staff_client("risk-admin", Role.RISK), "/admin/"),
        (staff_client("ops-admin", Role.ADMIN), "/admin/refunds/refund/"),
    ]
    for client, path in pages:
        response = client.get(path, follow=True)
        page = response.content.decode()
        assert response.status_code == 200, path
        for text in expected:
            assert text in page, (path, text)


def test_no_banner_when_nothing_is_paused(login):
    pause(PauseKind.AUTO_APPROVAL, reason="short", actor=SYSTEM)
    client = login("agent", Role.AGENT)
    assert "Kill switch in force" in client.get("/console/").content.decode()

    from refunds.services.pauses import resume

    resume(PauseKind.AUTO_APPROVAL, reason="over", actor=SYSTEM)
    assert "Kill switch in force" not in client.get("/console/").content.decode()
