"""Issue 10 item 8 over the API: `POST /v1/refunds/{id}/decision` carries what the approver saw.

An approval whose `amount_minor` (or `version`) differs from the refund's
current one answers 409 ERR.CONFLICT.changed and nothing moves.
"""

from __future__ import annotations

import pytest

from core.errors import ERR_CONFLICT_CHANGED
from refunds.enums import DecisionKind, Reason, RefundState, Role
from refunds.models import Decision, Refund
from refunds.services.decide import refund_edit
from tests.api.conftest import create
from tests.refunds.factories import agent, captured_order

pytestmark = pytest.mark.django_db


def decide(client, refund_id: str, **body):
    return client.post(f"/v1/refunds/{refund_id}/decision", {"decision": "approve", **body}, format="json")


@pytest.fixture
def raised_refund(merchant) -> tuple[str, dict]:
    """A 10.00 goodwill refund as the checker read it, then raised to 199.00 by an agent."""
    order = captured_order(amount_minor=50000)
    refund_id = create(merchant, order.order_id, reason=Reason.GOODWILL, amount_minor=1000).json()["refund_id"]
    seen = merchant.get(f"/v1/refunds/{refund_id}").json()
    refund_edit(refund_id=Refund.objects.get(public_id=refund_id).pk, actor=agent("other"), amount_minor=19900)
    return refund_id, seen


def assert_nothing_moved(refund_id: str) -> None:
    refund = Refund.objects.get(public_id=refund_id)
    assert (refund.state, refund.amount_minor) == (RefundState.REQUESTED, 19900)
    assert not Decision.objects.filter(refund=refund, kind=DecisionKind.APPROVE).exists()


def test_an_approval_naming_the_amount_before_the_edit_is_a_conflict(client_for, raised_refund):
    refund_id, seen = raised_refund
    response = decide(client_for("checker", role=Role.SENIOR_AGENT), refund_id, amount_minor=seen["amount_minor"])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == ERR_CONFLICT_CHANGED
    assert body["details"] == {"amount_minor": 19900, "version": seen["version"] + 1}
    assert_nothing_moved(refund_id)


def test_an_approval_naming_the_version_before_the_edit_is_a_conflict(client_for, raised_refund):
    refund_id, seen = raised_refund
    response = decide(client_for("checker", role=Role.SENIOR_AGENT), refund_id, version=seen["version"])
    assert (response.status_code, response.json()["code"]) == (409, ERR_CONFLICT_CHANGED)
    assert_nothing_moved(refund_id)


def test_an_approval_naming_the_current_amount_goes_through(client_for, raised_refund):
    refund_id, _ = raised_refund
    body = decide(client_for("checker", role=Role.SENIOR_AGENT), refund_id, amount_minor=19900).json()
    assert (body["state"], body["amount_minor"]) == (RefundState.APPROVED, 19900)


@pytest.mark.parametrize("bad", [0, -1, "10", True, 2**63])
def test_a_malformed_amount_or_version_is_a_400(client_for, raised_refund, bad):
    refund_id, _ = raised_refund
    checker = client_for("checker", role=Role.SENIOR_AGENT)
    for field in ("amount_minor", "version"):
        assert decide(checker, refund_id, **{field: bad}).status_code == 400, field
    assert_nothing_moved(refund_id)
