"""SPEC §11 journey 3: goodwill 250.00 → review; one senior approval leaves it requested; a
second, different senior approves → proceeds; the requester could approve neither."""

from core.errors import ERR_AUTHZ_DUAL_CONTROL, ERR_AUTHZ_MAKER_CHECKER
from refunds.enums import Role
from tests.refunds.factories import api_key
from tests.support.live import ApiClient
from tests.support.merchant import push_order, refund_body, wait_state


def test_goodwill_over_threshold_needs_two_different_seniors(stack, stack_merchant):
    # The requester is itself a senior: maker-checker must still refuse it.
    requester = ApiClient(stack.url, api_key("senior-requester", role=Role.SENIOR_AGENT))
    senior1 = ApiClient(stack.url, api_key("senior-one", role=Role.SENIOR_AGENT))
    senior2 = ApiClient(stack.url, api_key("senior-two", role=Role.SENIOR_AGENT))
    order_id, _ = push_order(stack_merchant, mode="ok", amount_minor=50000)

    created = requester.post(
        f"/v1/orders/{order_id}/refunds", refund_body(25000, reason="goodwill"), **{"Idempotency-Key": "j3"}
    ).json()
    refund_id = created["refund_id"]
    assert created["state"] == "requested"
    assert created["policy_rule"] == "R-GOODWILL-DUAL-CONTROL"
    decide = f"/v1/refunds/{refund_id}/decision"

    refused = requester.post(decide, {"decision": "approve"})
    assert (refused.status_code, refused.json()["code"]) == (403, ERR_AUTHZ_MAKER_CHECKER)

    one = senior1.post(decide, {"decision": "approve", "note": "loyal customer"}).json()
    assert one["state"] == "requested"
    assert [a["by"] for a in one["approvals"]] == ["senior-one"]

    twice = senior1.post(decide, {"decision": "approve"})
    assert (twice.status_code, twice.json()["code"]) == (403, ERR_AUTHZ_DUAL_CONTROL)
    refused_again = requester.post(decide, {"decision": "approve"})
    assert refused_again.json()["code"] == ERR_AUTHZ_MAKER_CHECKER

    two = senior2.post(decide, {"decision": "approve"}).json()
    assert two["state"] in {"approved", "submitting", "completed"}
    assert sorted(a["by"] for a in two["approvals"]) == ["senior-one", "senior-two"]
    done = wait_state(senior1, refund_id, {"completed"})
    assert [e["type"] for e in done["ledger_entries"]] == ["REFUND_PENDING", "REFUND_SETTLED"]
