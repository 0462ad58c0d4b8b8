import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api import views as api_views
from api.rendering import rendered
from core.errors import ERR_AUTHZ_MAKER_CHECKER, ERR_CONFLICT_STATE
from refunds.enums import Role
from tests.api.conftest import create
from tests.refunds.factories import captured_order, captured_yesterday

pytestmark = pytest.mark.django_db

ORDER = {
    "order_id": "A-1",
    "currency": "USD",
    "customer": {"id": "c-1", "email": "c@example.com", "locale": "de"},
    "lines": [{"sku": "X", "unit_amount_minor": 9000, "tax_minor": 1000}],
    "payment": {
        "provider_payment_id": "pi_sim_ok_a1",
        "rail": "card",
        "amount_minor": 10000,
        "status": "captured",
        "captured_at": captured_yesterday(),
    },
}


def test_order_upsert_creates_then_updates(merchant):
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    changed = {**ORDER, "payment": {**ORDER["payment"], "status": "charged_back"}}
    response = merchant.post("/v1/orders", changed, format="json")
    assert response.status_code == 200
    assert response.json()["payment_status"] == "charged_back"


def test_order_upsert_validates_amounts(merchant):
    bad = {**ORDER, "payment": {**ORDER["payment"], "amount_minor": "100"}}
    response = merchant.post("/v1/orders", bad, format="json")
    assert response.status_code == 400


def test_create_answers_202_with_contract_fields(merchant):
    merchant.post("/v1/orders", ORDER, format="json")
    response = create(merchant, "A-1", amount_minor=4000)
    assert response.status_code == 202
    body = response.json()
    assert body["refund_id"].startswith("rf_")
    assert body["state"] == "approved"
    assert body["remaining_refundable_minor"] == 6000
    assert body["message_id"] == "refund.request.accepted"


def test_read_returns_ledger_policy_provider_ids_and_status_url(merchant):
    merchant.post("/v1/orders", ORDER, format="json")
    refund_id = create(merchant, "A-1", amount_minor=4000).json()["refund_id"]
    body = merchant.get(f"/v1/refunds/{refund_id}").json()
    assert body["ledger_entries"] == [
        {
            "type": "REFUND_PENDING",
            "amount_minor": 4000,
            "currency": "USD",
            "created_at": body["ledger_entries"][0]["created_at"],
        }
    ]
    assert body["provider_payment_id"] == "pi_sim_ok_a1"
    assert body["provider_refund_id"] is None
    assert body["policy"]["rule"] == "R-AUTO-OTHER" and body["policy"]["version"] == 1
    assert body["status_url"].startswith("http") and "/r/" in body["status_url"]


def test_list_refunds_of_an_order_with_remaining(merchant):
    merchant.post("/v1/orders", ORDER, format="json")
    create(merchant, "A-1", key="1", amount_minor=3000)
    create(merchant, "A-1", key="2", amount_minor=2000)
    body = merchant.get("/v1/orders/A-1/refunds").json()
    assert body["remaining_refundable_minor"] == 5000
    assert [r["amount_minor"] for r in body["refunds"]] == [3000, 2000]


def test_decision_api_enforces_maker_checker(client_for):
    order = captured_order(amount_minor=100000)
    maker = client_for("merchant", role=Role.SENIOR_AGENT)
    refund_id = create(maker, order.order_id, reason="goodwill", amount_minor=5000).json()["refund_id"]
    response = maker.post(f"/v1/refunds/{refund_id}/decision", {"decision": "approve"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == ERR_AUTHZ_MAKER_CHECKER


def test_decision_approve_and_deny(client_for, merchant):
    order = captured_order(amount_minor=100000)
    checker = client_for("checker", role=Role.AGENT)
    a = create(merchant, order.order_id, key="a", reason="goodwill", amount_minor=5000).json()["refund_id"]
    b = create(merchant, order.order_id, key="b", reason="goodwill", amount_minor=5000).json()["refund_id"]
    assert (
        checker.post(f"/v1/refunds/{a}/decision", {"decision": "approve"}, format="json").json()["state"] == "approved"
    )
    denied = checker.post(f"/v1/refunds/{b}/decision", {"decision": "deny", "note": "no"}, format="json").json()
    assert denied["state"] == "denied" and denied["decline_reason"] == "no"
    again = checker.post(f"/v1/refunds/{b}/decision", {"decision": "approve"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == ERR_CONFLICT_STATE


def test_cancel_via_api(merchant):
    order = captured_order(amount_minor=10000)
    refund_id = create(merchant, order.order_id, amount_minor=1000).json()["refund_id"]
    body = merchant.post(f"/v1/refunds/{refund_id}/cancel", {"note": "duplicate"}, format="json").json()
    assert body["state"] == "canceled"


def test_openapi_schema_is_served(client):
    response = client.get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert b"/v1/orders/{order_id}/refunds" in response.content


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_queries_per_create_and_read_do_not_silently_grow(merchant):
    merchant.post("/v1/orders", ORDER, format="json")
    create(merchant, "A-1", key="warm", amount_minor=100)  # warm: first use of the policy, content types
    with CaptureQueriesContext(connection) as create_queries:
        refund_id = create(merchant, "A-1", key="measured", amount_minor=100).json()["refund_id"]
    with CaptureQueriesContext(connection) as read_queries:
        assert merchant.get(f"/v1/refunds/{refund_id}").status_code == 200
    # Budgets: update them knowingly, with the reason, when a feature needs more.
    # Savepoints are bookkeeping of nested atomics, not round trips with work.
    create_sql = [q["sql"] for q in create_queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    read_sql = [q["sql"] for q in read_queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # 27 until issue 16; 4 since issue 17 (docs/architecture.md, "A create in two statements", plus the API's two):
    # 1. the API key with its Idempotency-Key's record, if any (api.auth: a replay costs this one only);
    # 2. the order's payment FOR UPDATE OF the payment, with in its target list (run again once the
    #    lock is granted, so read after the lock) the kill switch under its shared lock, the active
    #    policy, the customer's 24 h velocity and the order's lines (refunds.services.request_lock);
    # 3. every write of the move in one statement of data-modifying CTEs (core.write_batch): the
    #    reservation, the refund (inserted approved when auto-approved) and its history row, the
    #    ledger entry and postings in an open period, the audit events, the merchant's events with
    #    their sequence, the decision, the provider outbox row and the customer email's row;
    # 4. the idempotency record, last, carrying the answer (its unique key serialises a duplicate).
    assert len(create_sql) == 4, "\n".join(q[:150] for q in create_sql)
    # 5 until issue 17; 2: the API key, then the refund with its lines, decisions and ledger entries as one
    # JSON document (api.refund_read, core.jsonrows).
    assert len(read_sql) == 2, [q[:90] for q in read_sql]


def test_a_create_locks_the_merchants_event_sequence_only_from_its_last_statements(merchant, monkeypatch):
    """Every create and completion of a merchant takes its event sequence row (events.writer), held to
    COMMIT: the answer is rendered before the writes are sent, so only the record's INSERT comes after."""
    merchant.post("/v1/orders", ORDER, format="json")
    create(merchant, "A-1", key="warm", amount_minor=100)
    sent_before_rendering: list[int] = []

    def rendering(serializer_class, instance):
        sent_before_rendering.append(len(queries.captured_queries))
        return rendered(serializer_class, instance)

    monkeypatch.setattr(api_views, "rendered", rendering)
    with CaptureQueriesContext(connection) as queries:
        response = create(merchant, "A-1", key="measured", amount_minor=100)
    sql = [q["sql"] for q in queries.captured_queries]
    [writes] = [n for n, one in enumerate(sql) if "events_eventsequence" in one]
    assert sent_before_rendering == [writes], "the writes were sent before the answer was rendered"
    # The test's own transaction makes the request's a savepoint: its RELEASE stands for the COMMIT.
    after = [one.split(" ")[0:3] for one in sql[writes + 1 :] if not one.startswith("RELEASE SAVEPOINT")]
    assert after == [["INSERT", "INTO", '"api_idempotencyrecord"']], [one[:70] for one in sql]
    # Rendered from the refund in memory before its writes went: the same answer as the refund read after.
    body = response.json()
    read = merchant.get(f"/v1/refunds/{body['refund_id']}").json()
    for field in ("refund_id", "state", "amount_minor", "currency", "instrument", "lines", "proration"):
        assert body[field] == read[field], field
    assert body["remaining_refundable_minor"] == 10000 - 200
