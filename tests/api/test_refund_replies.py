"""The decision body's reply (approve) and rationale (deny) (issue 12, items 1 and 2)."""

from __future__ import annotations

from core.errors import ERR_REPLY_AMOUNT_MISMATCH, ERR_REPLY_PLACEHOLDER
from refunds.enums import DecisionKind, Role
from refunds.models import Decision, Refund
from tests.api.conftest import create
from tests.refunds.factories import captured_order

RATIONALE = "customer gaming the window"


def _reviewed(merchant, key: str = "a") -> str:
    order = captured_order(amount_minor=100000)
    return create(merchant, order.order_id, key=key, reason="goodwill", amount_minor=500).json()["refund_id"]


def test_deny_stores_the_rationale_and_never_returns_it(client_for, merchant):
    refund_id = _reviewed(merchant)
    checker = client_for("checker", role=Role.AGENT)
    response = checker.post(
        f"/v1/refunds/{refund_id}/decision",
        {"decision": "deny", "note": "Final-sale item.", "rationale": RATIONALE},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["decline_reason"] == "Final-sale item."
    assert RATIONALE not in response.content.decode()
    assert RATIONALE not in merchant.get(f"/v1/refunds/{refund_id}").content.decode()
    decision = Decision.objects.get(refund__public_id=refund_id, kind=DecisionKind.DENY)
    assert decision.rationale == RATIONALE


def test_the_decline_message_is_returned_as_the_customer_reads_it_not_as_a_template(client_for, merchant):
    refund_id = _reviewed(merchant)
    checker = client_for("checker", role=Role.AGENT)
    checker.post(
        f"/v1/refunds/{refund_id}/decision",
        {"decision": "deny", "note": "We cannot refund {amount} for order {order}."},
        format="json",
    )

    reason = merchant.get(f"/v1/refunds/{refund_id}").json()["decline_reason"]

    order_id = Refund.objects.get(public_id=refund_id).order.order_id
    assert reason == f"We cannot refund $5.00 for order {order_id}."


def test_approve_with_a_reply_stating_another_amount_is_refused_and_nothing_moves(client_for, merchant):
    refund_id = _reviewed(merchant)
    checker = client_for("checker", role=Role.AGENT)
    response = checker.post(
        f"/v1/refunds/{refund_id}/decision",
        {"decision": "approve", "reply": "We refund 4.00 USD."},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == ERR_REPLY_AMOUNT_MISMATCH
    assert "{amount}" in response.json()["message"]
    assert Refund.objects.get(public_id=refund_id).state == "requested"


def test_approve_with_a_reply_template_saves_it_and_approves(client_for, merchant):
    refund_id = _reviewed(merchant)
    checker = client_for("checker", role=Role.AGENT)
    response = checker.post(
        f"/v1/refunds/{refund_id}/decision",
        {"decision": "approve", "reply": "Sorry about the mug: {amount} is on its way."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert Refund.objects.get(public_id=refund_id).draft_reply == "Sorry about the mug: {amount} is on its way."


def test_approve_with_an_unknown_placeholder_is_refused(client_for, merchant):
    refund_id = _reviewed(merchant)
    checker = client_for("checker", role=Role.AGENT)
    response = checker.post(
        f"/v1/refunds/{refund_id}/decision", {"decision": "approve", "reply": "Hi {first_name}"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == ERR_REPLY_PLACEHOLDER
