"""Bulk approve / decline from the queue: one confirmation, then each refund through its own decision service."""

import pytest

from core.errors import ERR_AUTHZ_MAKER_CHECKER, DomainError
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from refunds.services.decide import refund_edit
from tests.console.conftest import review_refund
from tests.refunds.factories import agent

pytestmark = pytest.mark.django_db


def post(
    client,
    action: str,
    refunds,
    *,
    confirm: bool = False,
    note: str = "",
    rationale: str = "",
    versions=None,
    extra=None,
):
    data = {"action": action, "refund": [r.public_id for r in refunds], "back": "view=waiting"}
    if confirm:
        data["confirm"] = "on"
        for refund in refunds:
            version = (versions or {}).get(refund.public_id, Refund.objects.get(pk=refund.pk).version)
            data[f"version_{refund.public_id}"] = version
    if note:
        data["note"] = note
    if rationale:
        data["rationale"] = rationale
    data.update(extra or {})
    return client.post("/console/refunds/bulk/", data)


def outcomes(response) -> dict[str, str]:
    return {line.refund.public_id: line.outcome for line in response.context["lines"]}


def test_the_confirmation_lists_what_will_happen_and_changes_nothing(login):
    senior = login("s1", Role.SENIOR_AGENT)
    single = review_refund(amount_minor=5000)
    dual = review_refund(amount_minor=25000)  # goodwill above 200.00: two seniors
    own = review_refund(amount_minor=5000, by=agent("s1", Role.SENIOR_AGENT))

    response = post(senior, "approve", [single, dual, own])

    assert response.status_code == 200
    assert outcomes(response) == {
        single.public_id: "will_approve",
        dual.public_id: "will_record",
        own.public_id: "refused",
    }
    html = response.content.decode()
    assert "second approval from a different senior agent" in html
    assert DomainError(ERR_AUTHZ_MAKER_CHECKER).message in html
    # The confirmation carries each refund with the version shown; the button counts those that will move.
    assert f'name="version_{single.public_id}"' in html and f'name="version_{own.public_id}"' in html
    assert "Approve 2 refunds" in html
    assert Refund.objects.filter(state=RefundState.REQUESTED).count() == 3


def test_the_confirmation_names_each_high_value_refund_as_the_card_does(login):
    senior = login("s1", Role.SENIOR_AGENT)
    high = review_refund(amount_minor=250_000, reason=Reason.OTHER, order_amount=500_000)  # above 2,000.00 USD
    low = review_refund(amount_minor=5000)

    response = post(senior, "approve", [high, low])

    texts = {line.refund.public_id: line.text for line in response.context["lines"]}
    assert texts[high.public_id].startswith("High value (above 2,000.00 USD).")
    assert "High value" not in texts[low.public_id]


def test_a_high_value_refund_is_approved_in_bulk_only_with_its_own_tick(login):
    senior = login("s1", Role.SENIOR_AGENT)
    high = review_refund(amount_minor=250_000, reason=Reason.OTHER, order_amount=500_000)

    confirm_page = post(senior, "approve", [high]).content.decode()
    assert f'name="confirm_high_value_{high.public_id}"' in confirm_page

    # The confirmation step posted without the tick (a crafted request, or the box left empty): refused.
    response = post(senior, "approve", [high], confirm=True)
    assert outcomes(response) == {high.public_id: "refused"}
    assert "Tick its confirmation" in response.content.decode()
    assert not Decision.objects.filter(refund=high, kind=DecisionKind.APPROVE).exists()

    ticked = post(senior, "approve", [high], confirm=True, extra={f"confirm_high_value_{high.public_id}": "on"})
    assert outcomes(ticked) == {high.public_id: "awaiting"}  # high value: the first of two approvals


def test_bulk_approve_reports_each_refund_approved_awaiting_or_refused(login):
    senior = login("s1", Role.SENIOR_AGENT)
    single = review_refund(amount_minor=5000)
    dual = review_refund(amount_minor=25000)
    own = review_refund(amount_minor=5000, by=agent("s1", Role.SENIOR_AGENT))

    response = post(senior, "approve", [single, dual, own], confirm=True)

    assert outcomes(response) == {single.public_id: "approved", dual.public_id: "awaiting", own.public_id: "refused"}
    html = response.content.decode()
    assert "Awaiting second approval" in html and "1 of 2" in html
    assert DomainError(ERR_AUTHZ_MAKER_CHECKER).message in html
    single.refresh_from_db(), dual.refresh_from_db(), own.refresh_from_db()
    assert (single.state, dual.state, own.state) == (RefundState.APPROVED, RefundState.REQUESTED, RefundState.REQUESTED)
    assert dual.decisions.filter(kind=DecisionKind.APPROVE).count() == 1


def test_a_refund_changed_since_the_confirmation_is_refused_and_the_others_go_through(agent_client):
    stale = review_refund(amount_minor=5000)
    fine = review_refund(amount_minor=6000)
    seen = {stale.public_id: stale.version, fine.public_id: fine.version}
    refund_edit(refund_id=stale.pk, actor=agent("other"), amount_minor=4000)

    response = post(agent_client, "approve", [stale, fine], confirm=True, versions=seen)

    assert outcomes(response) == {stale.public_id: "refused", fine.public_id: "approved"}
    assert "changed" in response.content.decode()
    stale.refresh_from_db()
    assert stale.state == RefundState.REQUESTED


def test_bulk_decline_needs_the_customer_message(agent_client):
    refunds = [review_refund(), review_refund()]

    refused = post(agent_client, "decline", refunds, confirm=True)
    assert refused.status_code == 400
    assert "needs a message" in refused.content.decode()
    assert Refund.objects.filter(state=RefundState.DENIED).count() == 0

    response = post(agent_client, "decline", refunds, confirm=True, note="Outside our goodwill policy, sorry.")
    assert set(outcomes(response).values()) == {"declined"}
    assert set(Refund.objects.values_list("decline_reason", flat=True)) == {"Outside our goodwill policy, sorry."}


def test_bulk_decline_keeps_the_internal_rationale_on_each_decision(agent_client):
    refunds = [review_refund(), review_refund()]

    post(agent_client, "decline", refunds, confirm=True, note="Outside our policy, sorry.", rationale="Serial abuser")

    denials = Decision.objects.filter(refund__in=refunds, kind=DecisionKind.DENY)
    assert sorted(denials.values_list("rationale", flat=True)) == ["Serial abuser", "Serial abuser"]
    assert set(Refund.objects.values_list("decline_reason", flat=True)) == {"Outside our policy, sorry."}


def test_roles_that_cannot_decide_get_no_bulk_controls_and_are_refused(login):
    review_refund()
    finance = login("fin", Role.FINANCE)
    assert 'id="bulk-form"' in finance.get("/console/").content.decode()
    assert "Approve selected" not in finance.get("/console/").content.decode()
    assert post(finance, "approve", [Refund.objects.get()]).status_code == 403


def test_the_queue_offers_bulk_controls_to_who_may_decide(agent_client):
    refund = review_refund()
    html = agent_client.get("/console/").content.decode()
    assert 'action="/console/refunds/bulk/"' in html and "Approve selected" in html
    assert f'name="refund" value="{refund.public_id}"' in html
