"""The refund card: what it shows, its three actions, and every refusal as a message (never a 500)."""

from unittest import mock

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEvent
from core.errors import CATALOG, ERR_AUTHZ_MAKER_CHECKER, ERR_EXCEEDS_REMAINING
from notifications.messages import MSG_APPROVED, MSG_DECLINED
from notifications.replies import reply_render
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from refunds.services.decide import refund_approve
from refunds.services.evidence import evidence_validate, refund_request_with_evidence
from tests.console.conftest import htmx_headers, review_refund
from tests.refunds.factories import OrderLineFactory, agent, captured_order, make_refund, requester

pytestmark = pytest.mark.django_db


def message(code: str) -> str:
    return str(CATALOG[code][2])


def card_url(refund: Refund, action: str = "") -> str:
    return f"/console/refunds/{refund.public_id}/" + (f"{action}/" if action else "")


def seen(refund: Refund) -> dict[str, int]:
    """The hidden field of the card's approve and edit forms: the version of the refund they showed."""
    return {"version": Refund.objects.values_list("version", flat=True).get(pk=refund.pk)}


def state_of(refund: Refund) -> str:
    return Refund.objects.values_list("state", flat=True).get(pk=refund.pk)


# --- what the card shows -------------------------------------------------------------


def test_card_shows_customer_amounts_cited_rule_and_drafted_reply(agent_client):
    refund = review_refund(amount_minor=5000, order_amount=20000)
    html = agent_client.get(card_url(refund)).content.decode()
    assert refund.order.customer.email in html
    assert "50.00 USD" in html  # the refund
    assert "200.00 USD" in html  # captured
    assert "150.00 USD" in html  # remaining refundable after this refund's reservation
    assert "R-GOODWILL-REVIEW" in html and refund.policy_rule_text in html
    assert refund.draft_reply in html
    assert "Approve and send reply" in html and "Decline" in html


def test_card_shows_the_items_reason_note_and_evidence(agent_client):
    order = captured_order(amount_minor=20000)
    OrderLineFactory(order=order, line_no=1, description="Ceramic teapot", sku="TEA-1", quantity=2, tax_minor=1200)
    refund = make_refund(
        order=order,
        amount_minor=3000,
        reason=Reason.QUALITY,
        customer_note="The lid arrived cracked.",
        evidence=[{"type": "photo", "uri": "https://photos.example.com/ref-77.jpg"}],
    )
    html = agent_client.get(card_url(refund)).content.decode()
    assert "Ceramic teapot" in html and "TEA-1 · tax 12.00 USD" in html
    assert '<td class="num">2</td>' in html  # quantity
    assert "<strong>Quality</strong>" in html and "The lid arrived cracked." in html
    assert '<a href="https://photos.example.com/ref-77.jpg" rel="noopener noreferrer nofollow">' in html
    assert "No evidence attached." not in html


def test_card_links_a_file_uploaded_with_an_earlier_refund_of_the_order(agent_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    order = captured_order(amount_minor=20000)
    png = SimpleUploadedFile("lid.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, content_type="image/png")
    earlier = refund_request_with_evidence(
        order=order,
        amount_minor=1000,
        currency="USD",
        reason=Reason.QUALITY,
        actor=requester(),
        uploads=evidence_validate(files=[png]),
    )
    (uploaded,) = earlier.evidence_files.all()
    refund = make_refund(order=order, amount_minor=2000, reason=Reason.QUALITY, evidence=[uploaded.pk])

    html = agent_client.get(card_url(refund)).content.decode()

    assert f'href="/console/refunds/{earlier.public_id}/evidence/{uploaded.pk}/"' in html
    assert f"lid.png ({earlier.public_id})" in html


def test_reader_without_decide_permission_sees_the_card_without_actions(login):
    refund = review_refund()
    html = login("fin", Role.FINANCE).get(card_url(refund)).content.decode()
    assert "R-GOODWILL-REVIEW" in html
    assert "Approve and send reply" not in html and 'action="' + card_url(refund, "decline") not in html
    assert "Your role cannot approve refunds." in html


def test_unknown_refund_is_404(agent_client):
    assert agent_client.get("/console/refunds/rf_doesnotexist/").status_code == 404


# --- approve -------------------------------------------------------------------------


def test_approve_records_the_decision_and_moves_the_refund_on(agent_client):
    refund = review_refund()
    response = agent_client.post(card_url(refund, "approve"), {**seen(refund), "note": "Loyal customer"})
    assert response.status_code == 302 and response["Location"] == card_url(refund)
    assert state_of(refund) == RefundState.APPROVED
    decision = Decision.objects.get(refund=refund, kind=DecisionKind.APPROVE)
    assert (decision.actor, decision.note) == (agent_client.user, "Loyal customer")
    assert "Approved 50.00 USD" in agent_client.get(card_url(refund)).content.decode()


def test_approve_over_htmx_swaps_in_the_fresh_card_with_its_message(agent_client):
    refund = review_refund()
    response = agent_client.post(card_url(refund, "approve"), seen(refund), **htmx_headers("card"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<article id="card"')
    assert "Approved 50.00 USD" in html and "No decision is pending" in html


def test_requester_cannot_approve_their_own_refund(login):
    client = login("maker", Role.AGENT)
    refund = review_refund(by=agent("maker"))
    assert "someone else must approve it (maker-checker)" in client.get(card_url(refund)).content.decode()
    response = client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 403
    assert message(ERR_AUTHZ_MAKER_CHECKER) in response.content.decode()
    assert state_of(refund) == RefundState.REQUESTED


def test_refusal_over_htmx_is_a_swappable_card_with_the_message(login):
    client = login("maker", Role.AGENT)
    refund = review_refund(by=agent("maker"))
    response = client.post(card_url(refund, "approve"), seen(refund), **htmx_headers("card"))
    assert response.status_code == 200  # htmx only swaps 2xx answers
    assert message(ERR_AUTHZ_MAKER_CHECKER) in response.content.decode()


def test_wrong_role_cannot_approve_or_decline(login):
    refund = review_refund()
    client = login("fin", Role.FINANCE)
    for action, data in [("approve", {}), ("decline", {"note": "no"}), ("edit", {"reply": "x", "amount": "1.00"})]:
        response = client.post(card_url(refund, action), data)
        assert response.status_code == 403, action
        assert "Your role does not allow this" in response.content.decode()
    assert state_of(refund) == RefundState.REQUESTED


def test_actions_need_the_csrf_token(login):
    refund = review_refund()
    client = login("agent", Role.AGENT, enforce_csrf_checks=True)
    for action in ["approve", "decline", "edit"]:
        assert client.post(card_url(refund, action), {"note": "x"}).status_code == 403
    assert state_of(refund) == RefundState.REQUESTED


def test_actions_are_posts_only(agent_client):
    refund = review_refund()
    assert agent_client.get(card_url(refund, "approve")).status_code == 405
    assert agent_client.get(card_url(refund, "decline")).status_code == 405


def test_acting_on_a_refund_that_was_already_decided_shows_a_conflict(agent_client):
    refund = review_refund()
    agent_client.post(card_url(refund, "decline"), {"note": "No"})
    response = agent_client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 409
    assert "cannot move to" in response.content.decode()


@pytest.fixture
def emails_sent_inline():
    """Run the customer-email task in-process when the approving transaction commits."""
    from notifications.outbox import deliver_email

    def run_now(*, kwargs, **options):
        return deliver_email.apply(kwargs=kwargs)

    with mock.patch.object(deliver_email, "apply_async", side_effect=run_now):
        yield


def test_approving_on_the_card_sends_the_customer_the_drafted_reply(
    agent_client, emails_sent_inline, django_capture_on_commit_callbacks
):
    refund = review_refund()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(card_url(refund, "approve"), seen(refund))
    [email] = mail.outbox
    assert email.to == [refund.order.customer.email]
    assert email.extra_headers["X-Refund-Message"] == MSG_APPROVED
    assert reply_render(refund.draft_reply, refund=refund) in email.body
    assert "{amount}" in refund.draft_reply and "{amount}" not in email.body


def test_declining_on_the_card_sends_a_kind_decline_with_the_reason(
    agent_client, emails_sent_inline, django_capture_on_commit_callbacks
):
    refund = review_refund()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(card_url(refund, "decline"), {"note": "The lamp was a final-sale item."})
    [email] = mail.outbox
    assert email.extra_headers["X-Refund-Message"] == MSG_DECLINED
    assert "The lamp was a final-sale item." in email.body
    assert refund.draft_reply not in email.body


# --- dual control ----------------------------------------------------------------------


def test_goodwill_above_the_threshold_shows_one_of_two_approvals_and_who_gave_it(login):
    refund = review_refund(amount_minor=25000)
    senior = login("senior1", Role.SENIOR_AGENT)
    response = senior.post(card_url(refund, "approve"), seen(refund), follow=True)
    html = response.content.decode()
    assert "Your approval is recorded (1 of 2)" in html
    assert "1 of 2 approvals" in html and "<strong>senior1</strong> (senior) approved" in html
    assert "a different senior agent must give the second one" in html
    assert state_of(refund) == RefundState.REQUESTED


def test_second_approval_by_the_same_senior_is_refused(login):
    refund = review_refund(amount_minor=25000)
    senior = login("senior1", Role.SENIOR_AGENT)
    senior.post(card_url(refund, "approve"), seen(refund))
    response = senior.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 403
    assert "a different senior must" in response.content.decode()
    assert state_of(refund) == RefundState.REQUESTED


def test_a_second_different_senior_completes_dual_control(login):
    refund = review_refund(amount_minor=25000)
    login("senior1", Role.SENIOR_AGENT).post(card_url(refund, "approve"), seen(refund))
    response = login("senior2", Role.SENIOR_AGENT).post(card_url(refund, "approve"), seen(refund), follow=True)
    assert "Approved 250.00 USD" in response.content.decode()
    assert state_of(refund) == RefundState.APPROVED


def test_an_agent_without_the_senior_role_cannot_approve_a_dual_control_refund(agent_client):
    refund = review_refund(amount_minor=25000)
    assert "needs two senior agents" in agent_client.get(card_url(refund)).content.decode()
    response = agent_client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 403
    assert "needs approvals from senior agents" in response.content.decode()
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).exists()


# --- decline ----------------------------------------------------------------------------


def test_decline_without_a_reason_is_refused(agent_client):
    refund = review_refund()
    response = agent_client.post(card_url(refund, "decline"), {"note": "   "})
    assert response.status_code == 400
    assert "Declining a refund needs a message to the customer." in response.content.decode()
    assert state_of(refund) == RefundState.REQUESTED


def test_declining_against_an_approve_recommendation_is_flagged_loudly(agent_client):
    refund = review_refund()  # goodwill: the policy recommends approving
    html = agent_client.get(card_url(refund)).content.decode()
    assert "Declining it is flagged loudly" in html
    response = agent_client.post(card_url(refund, "decline"), {"note": "Item was used"}, follow=True)
    assert "overrides the policy&#x27;s approve recommendation" in response.content.decode()
    refund.refresh_from_db()
    assert (refund.state, refund.decline_reason, refund.override_flagged) == (
        RefundState.DENIED,
        "Item was used",
        True,
    )
    assert AuditEvent.objects.get(refund=refund, action="refund.denied").flagged


def test_declining_as_the_policy_recommends_is_not_flagged(agent_client):
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=3000, reason=Reason.QUALITY)  # no evidence: recommends decline
    assert refund.recommendation == "decline"
    agent_client.post(card_url(refund, "decline"), {"note": "Please send a photo of the damage."})
    refund.refresh_from_db()
    assert refund.state == RefundState.DENIED and not refund.override_flagged


def decline_recommended_refund() -> Refund:
    """Quality without evidence: reviewed, the policy recommends declining and drafts a decline reply."""
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=3000, reason=Reason.QUALITY)
    assert refund.recommendation == "decline" and "cannot approve it" in refund.draft_reply
    return refund


def test_approving_against_a_decline_recommendation_warns_and_is_flagged(agent_client):
    refund = decline_recommended_refund()
    html = agent_client.get(card_url(refund)).content.decode()
    assert "the policy recommends declining" in html
    response = agent_client.post(
        card_url(refund, "edit"),
        {
            **seen(refund),
            "reply": "We have seen your photo: refunding 30.00.",
            "amount": "30.00",
            "note": "Photo seen on the phone",
            "action": "approve",
        },
    )
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED and refund.override_flagged
    assert refund.draft_reply == "We have seen your photo: refunding 30.00."
    assert AuditEvent.objects.get(refund=refund, action="refund.approved").flagged


def test_the_decline_draft_is_never_sent_as_an_approval_reply(agent_client):
    """The approval email carries the drafted reply: "approved" plus "we cannot approve it" must not go out."""
    refund = decline_recommended_refund()
    html = agent_client.get(card_url(refund)).content.decode()
    assert "Approve and send reply" not in html and "Write the approval reply" in html

    response = agent_client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 400
    assert "The drafted reply still declines this refund" in response.content.decode()
    # "Save and approve" with the decline draft left as it is is refused the same way, on the reply field.
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": refund.draft_reply, "amount": "20.00", "action": "approve"}
    )
    assert response.status_code == 400
    assert 'id="edit_reply_error"' in response.content.decode()
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor, refund.override_flagged) == (RefundState.REQUESTED, 3000, False)
    assert not Decision.objects.filter(refund=refund).exists()


def test_an_amount_only_edit_does_not_unlock_approving_with_the_decline_draft(agent_client):
    refund = decline_recommended_refund()
    agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": refund.draft_reply, "amount": "20.00", "action": "save"}
    )
    assert agent_client.post(card_url(refund, "approve"), seen(refund)).status_code == 400
    agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "Refunding 20.00 for the chip.", "amount": "20.00"}
    )
    response = agent_client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 302
    assert state_of(refund) == RefundState.APPROVED


# --- edit -------------------------------------------------------------------------------


def test_edit_opens_the_draft_in_place(agent_client):
    refund = review_refund()
    html = agent_client.get(card_url(refund, "edit")).content.decode()
    assert "Edit the draft" in html and "autofocus" in html
    assert 'value="50.00"' in html and "Up to 1000.00 USD" in html
    fragment = agent_client.get(card_url(refund, "edit"), **htmx_headers("card")).content.decode()
    assert fragment.lstrip().startswith('<article id="card"') and "Save and approve" in fragment


def test_edit_saves_wording_and_amount_and_audits_both_versions(agent_client):
    refund = review_refund(amount_minor=5000)
    original_reply = refund.draft_reply
    response = agent_client.post(
        card_url(refund, "edit"),
        {
            **seen(refund),
            "reply": "We are sorry. Here is 40.00 back.",
            "amount": "40.00",
            "note": "Partial",
            "action": "save",
        },
    )
    assert response.status_code == 302
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor, refund.draft_reply) == (
        RefundState.REQUESTED,
        4000,
        "We are sorry. Here is 40.00 back.",
    )
    event = AuditEvent.objects.get(refund=refund, action="refund.edited")
    assert (event.before["draft_reply"], event.after["draft_reply"]) == (original_reply, refund.draft_reply)
    assert (event.before["amount_minor"], event.after["amount_minor"]) == (5000, 4000)


def test_edit_then_approve_in_one_submission_records_both_steps(agent_client):
    refund = review_refund(amount_minor=5000)
    response = agent_client.post(
        card_url(refund, "edit"),
        {**seen(refund), "reply": "Refunding 60.00.", "amount": "60.00", "action": "approve"},
        follow=True,
    )
    assert "Approved 60.00 USD" in response.content.decode()
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.APPROVED, 6000)
    actions = list(AuditEvent.objects.filter(refund=refund).values_list("action", flat=True))
    assert actions[-2:] == ["refund.edited", "refund.approved"]


def test_edit_above_the_remaining_refundable_is_refused_and_nothing_changes(agent_client):
    refund = review_refund(amount_minor=5000, order_amount=10000)
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": refund.draft_reply, "amount": "100.01", "action": "approve"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message(ERR_EXCEEDS_REMAINING) in html
    assert 'value="100.01"' in html  # the form comes back as typed
    refund.refresh_from_db()
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 5000)
    assert not AuditEvent.objects.filter(refund=refund, action="refund.edited").exists()


@pytest.mark.parametrize(("amount", "error"), [("0", "more than zero"), ("12.345", "2 decimal places"), ("x", "45.00")])
def test_edit_with_an_invalid_amount_is_refused_on_the_field(agent_client, amount, error):
    refund = review_refund()
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "ok", "amount": amount, "action": "save"}
    )
    assert response.status_code == 400
    assert error in response.content.decode()


def test_a_refused_approval_rolls_back_the_edit_it_came_with(agent_client):
    # Raising goodwill above the dual-control threshold makes it a seniors' decision: the agent's
    # "Save and approve" is refused, and the raise goes with it.
    refund = review_refund(amount_minor=5000)
    response = agent_client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "Changed", "amount": "250.00", "action": "approve"}
    )
    assert response.status_code == 403
    assert "needs approvals from senior agents" in response.content.decode()
    refund.refresh_from_db()
    assert (refund.amount_minor, refund.state, refund.approvals_required) == (5000, RefundState.REQUESTED, 1)
    assert not AuditEvent.objects.filter(refund=refund, action="refund.edited").exists()


def test_edit_is_closed_after_the_first_of_two_approvals(login):
    refund = review_refund(amount_minor=25000)
    refund_approve(refund_id=refund.pk, actor=agent("senior1", Role.SENIOR_AGENT))
    client = login("senior2", Role.SENIOR_AGENT)
    assert "The draft is locked" in client.get(card_url(refund)).content.decode()
    response = client.post(
        card_url(refund, "edit"), {**seen(refund), "reply": "x", "amount": "100.00", "action": "save"}
    )
    assert response.status_code == 409
    assert "can no longer be edited" in response.content.decode()


def test_refused_actions_never_answer_500(login):
    """Every refusal path of the card in one sweep: each answers 4xx with a message."""
    client = login("senior1", Role.SENIOR_AGENT)
    denied = review_refund()
    client.post(card_url(denied, "decline"), {"note": "No"})
    for action, data in [
        ("approve", {}),
        ("decline", {"note": "again"}),
        ("edit", {"reply": "x", "amount": "1.00", "action": "approve"}),
    ]:
        response = client.post(card_url(denied, action), data)
        assert 400 <= response.status_code < 500 or response.status_code == 302, (action, response.status_code)
    assert Client().post(card_url(denied, "approve")).status_code == 302  # anonymous: to the login page


def test_repeating_a_decision_says_nothing_changed(agent_client):
    refund = review_refund()
    agent_client.post(card_url(refund, "decline"), {"note": "First reason"})
    response = agent_client.post(card_url(refund, "decline"), {"note": "Second reason"}, follow=True)
    assert "already declined" in response.content.decode()
    refund.refresh_from_db()
    assert refund.decline_reason == "First reason"


def test_the_requester_of_a_decline_recommended_refund_hears_about_maker_checker_first(login):
    client = login("maker", Role.AGENT)
    refund = make_refund(
        order=captured_order(amount_minor=10000), amount_minor=3000, reason=Reason.QUALITY, actor=agent("maker")
    )
    response = client.post(card_url(refund, "approve"), seen(refund))
    assert response.status_code == 403
    assert message(ERR_AUTHZ_MAKER_CHECKER) in response.content.decode()
