"""Around the card: assign to me / to a senior (audited, the senior emailed after commit) and "being viewed by"."""

import pytest
from django.core import mail

from audit.models import AuditEvent
from console import presence
from refunds.enums import RefundState, Role
from refunds.models import Refund
from refunds.services.decide import refund_deny
from tests.console.conftest import review_refund
from tests.refunds.factories import UserFactory, agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_inline(monkeypatch, settings):
    """The assignment task runs in place of the broker (the enqueue is what is tested to wait for commit)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    queued = []

    def apply_async(kwargs, **options):
        queued.append(kwargs)
        from notifications.staff import send_assignment_email

        send_assignment_email.run(**kwargs)

    monkeypatch.setattr("notifications.staff.send_assignment_email.apply_async", apply_async)
    return queued


def test_assign_to_me_is_audited_and_filters_the_queue(agent_client):
    mine = review_refund()
    review_refund()

    response = agent_client.post(f"/console/refunds/{mine.public_id}/assign/", {"to": "me"})

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.assignee == agent_client.user and mine.assigned_at is not None
    event = AuditEvent.objects.get(action="refund.assigned")
    assert event.after == {"assignee": "agent"} and event.refund_id == mine.pk
    listed = agent_client.get("/console/?mine=on").context["rows"]
    assert [row.refund.public_id for row in listed] == [mine.public_id]


def test_assigning_to_a_senior_emails_them_only_after_commit(
    agent_client, sent_inline, django_capture_on_commit_callbacks
):
    refund = review_refund()
    senior = UserFactory(username="senior1", role=Role.SENIOR_AGENT, email="senior1@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        agent_client.post(f"/console/refunds/{refund.public_id}/assign/", {"to": str(senior.pk)})
    assert sent_inline == [] and mail.outbox == []  # nothing leaves inside the transaction
    for callback in callbacks:
        callback()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["senior1@example.com"]
    assert refund.public_id in mail.outbox[0].body
    refund.refresh_from_db()
    assert refund.assignee == senior


def test_only_seniors_are_offered_and_accepted_as_senior_assignees(agent_client):
    refund = review_refund()
    other_agent = UserFactory(username="plain", role=Role.AGENT)
    UserFactory(username="senior1", role=Role.SENIOR_AGENT, first_name="Sam")

    assert "Sam" in agent_client.get(f"/console/refunds/{refund.public_id}/").content.decode()
    agent_client.post(f"/console/refunds/{refund.public_id}/assign/", {"to": str(other_agent.pk)})
    refund.refresh_from_db()
    assert refund.assignee is None
    assert not AuditEvent.objects.filter(action="refund.assigned").exists()


def test_a_decided_refund_cannot_be_assigned(agent_client):
    refund = review_refund()
    refund_deny(refund_id=refund.pk, actor=agent("other"), note="No")
    agent_client.post(f"/console/refunds/{refund.public_id}/assign/", {"to": "me"})
    assert Refund.objects.get(pk=refund.pk).assignee is None
    assert Refund.objects.get(pk=refund.pk).state == RefundState.DENIED


def test_assigning_does_not_change_the_version_an_approver_saw(agent_client):
    refund = review_refund()
    agent_client.post(f"/console/refunds/{refund.public_id}/assign/", {"to": "me"})
    assert Refund.objects.get(pk=refund.pk).version == refund.version


def test_a_second_viewer_sees_the_first_on_the_card_and_in_the_queue(login):
    refund = review_refund()
    first = login("mara", Role.AGENT)
    second = login("jon", Role.AGENT)

    first.get(f"/console/refunds/{refund.public_id}/")
    card = second.get(f"/console/refunds/{refund.public_id}/").content.decode()
    assert "Being viewed by mara" in card
    assert "Being viewed by jon" in first.get("/console/").content.decode()
    # The heartbeat answers who else is there; leaving takes one off at once.
    beat = first.post(f"/console/refunds/{refund.public_id}/presence/")
    assert beat.json() == {"viewers": ["jon"]}
    second.post(f"/console/refunds/{refund.public_id}/presence/", {"leave": "1"})
    assert first.post(f"/console/refunds/{refund.public_id}/presence/").json() == {"viewers": []}


def test_presence_fails_open_when_the_cache_is_down(agent_client, monkeypatch):
    refund = review_refund()

    class DownCache:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("cache unreachable")

            return fail

    monkeypatch.setattr(presence, "cache", DownCache())
    assert agent_client.get(f"/console/refunds/{refund.public_id}/").status_code == 200
    assert agent_client.get("/console/").status_code == 200
    assert agent_client.post(f"/console/refunds/{refund.public_id}/presence/").json() == {"viewers": []}
