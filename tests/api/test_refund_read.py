"""A refund answer from one statement (`api.refund_read`): the same bytes as the ORM's prefetches gave."""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from api.refund_read import refund_read
from core.errors import ERR_NOT_FOUND, DomainError
from events.documents import RefundOutput
from refunds.enums import DecisionKind, RefundState
from refunds.models import Decision, Merchant, Refund
from refunds.selectors import refund_get
from tests.api.conftest import create
from tests.credits.factories import store_credit_policy
from tests.refunds.factories import UserFactory, captured_order, captured_yesterday, move_refund

pytestmark = pytest.mark.django_db

ORDER = {
    "order_id": "RR-1",
    "currency": "EUR",
    "customer": {"id": "c-rr", "email": "c@example.com", "name": "Zoë Ünal", "locale": "de"},
    "lines": [
        {"sku": "KTL", "description": "Kocher «Edel»", "unit_amount_minor": 3000, "quantity": 3, "tax_minor": 100},
        {"sku": "MUG", "description": "Becher", "unit_amount_minor": 500, "quantity": 2},
        {"sku": "TEA", "description": "Tee", "unit_amount_minor": 250, "quantity": 4},
    ],
    "payment": {
        "provider_payment_id": "pi_sim_ok_rr1",
        "rail": "card",
        "amount_minor": 11100,
        "status": "captured",
        "captured_at": captured_yesterday(),
    },
}


def rendered(refund: Refund) -> bytes:
    return JSONRenderer().render(RefundOutput(refund).data)


def loaded(instance: models.Model) -> dict:
    """Every column's value and type, as loaded."""
    return {f.attname: (type(v := getattr(instance, f.attname)), v) for f in instance._meta.concrete_fields}


def assert_loaded_alike(ours: Refund, orm: Refund) -> None:
    """The same instances, caches and children as `refund_get`'s select_related and prefetches leave."""
    assert loaded(ours) == loaded(orm)
    for relation in ("order", "payment", "policy_version"):
        assert Refund._meta.get_field(relation).is_cached(ours)
        assert loaded(getattr(ours, relation)) == loaded(getattr(orm, relation))
    assert set(ours._prefetched_objects_cache) == set(orm._prefetched_objects_cache)
    for name in ("ledger_entries", "decisions", "lines"):
        with CaptureQueriesContext(connection) as queries:
            ours_children, orm_children = list(getattr(ours, name).all()), list(getattr(orm, name).all())
        assert not queries.captured_queries, name
        assert [loaded(c) for c in ours_children] == [loaded(c) for c in orm_children], name
    with CaptureQueriesContext(connection) as queries:
        assert [d.actor_label for d in ours.decisions.all()] == [d.actor_label for d in orm.decisions.all()]
        assert [loaded(line.order_line) for line in ours.lines.all()] == [
            loaded(line.order_line) for line in orm.lines.all()
        ]
        assert all(d.refund is ours for d in ours.decisions.all())
    assert not queries.captured_queries


@pytest.fixture
def full_refund(merchant) -> Refund:
    """A refund by line (two of three lines) with metadata and evidence, decisions by a person and by no one,
    and one ledger entry per step to completed."""
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    response = merchant.post(
        "/v1/orders/RR-1/refunds",
        {
            "currency": "EUR",
            "reason": "quality",
            "lines": [{"sku": "TEA", "quantity": 2}, {"sku": "KTL", "quantity": 1}],
            "note": "Kaputt angekommen — «leider»",
            "evidence": [{"type": "photo", "uri": "https://example.com/p/1.jpg"}],
            "metadata": {"ticket": "Z-1", "ünicode": "✓"},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="full",
    )
    assert response.status_code == 202, response.json().get("details")
    refund = Refund.objects.get(public_id=response.json()["refund_id"])
    senior = UserFactory(username="senior-rr")
    Decision.objects.create(refund=refund, kind=DecisionKind.APPROVE, actor=senior, as_senior=True, note="ok")
    Decision.objects.create(refund=refund, kind=DecisionKind.EDIT, actor=None, note="edited")
    if refund.state == RefundState.REQUESTED:
        refund = move_refund(refund, RefundState.APPROVED)
    for state in (RefundState.SUBMITTING, RefundState.PROVIDER_PENDING, RefundState.COMPLETED):
        refund = move_refund(refund, state)
    return refund


def test_a_refund_with_lines_decisions_and_ledger_entries_reads_as_the_same_bytes(merchant, full_refund):
    tenant = Merchant.objects.get(pk=full_refund.order.merchant_id)
    orm = refund_get(public_id=full_refund.public_id, merchant=tenant)
    ours = refund_read(public_id=full_refund.public_id, merchant=tenant)
    # What the refund has, so the comparison compares something.
    assert len(orm.lines.all()) == 2 and len(orm.decisions.all()) >= 3 and len(orm.ledger_entries.all()) >= 2
    assert_loaded_alike(ours, orm)
    assert rendered(ours) == rendered(orm)
    assert merchant.get(f"/v1/refunds/{full_refund.public_id}").content == rendered(orm)


def test_a_store_credit_refund_reads_as_the_same_bytes(merchant):
    store_credit_policy(bonus_percent=10)
    order = captured_order()
    response = create(merchant, order.order_id, amount_minor=2000, instrument="store_credit")
    assert response.status_code == 202 and response.json()["state"] == "completed"
    refund_id = response.json()["refund_id"]
    orm = refund_get(public_id=refund_id, merchant=order.merchant)
    ours = refund_read(public_id=refund_id, merchant=order.merchant)
    assert loaded(ours.store_credit) == loaded(orm.store_credit) and ours.store_credit.refund is ours
    assert_loaded_alike(ours, orm)
    assert rendered(ours) == rendered(orm)
    assert merchant.get(f"/v1/refunds/{refund_id}").content == rendered(orm)


def test_a_refund_by_amount_without_a_credit_reads_as_the_same_bytes(merchant):
    order = captured_order()
    refund_id = create(merchant, order.order_id, amount_minor=700, reason="goodwill").json()["refund_id"]
    orm = refund_get(public_id=refund_id, merchant=order.merchant)
    ours = refund_read(public_id=refund_id, merchant=order.merchant)
    with pytest.raises(Refund.store_credit.RelatedObjectDoesNotExist):
        ours.store_credit  # noqa: B018 - cached as absent, as select_related leaves it
    assert_loaded_alike(ours, orm)
    assert rendered(ours) == rendered(orm)


def test_a_read_is_one_statement_besides_the_api_key(merchant, full_refund):
    with CaptureQueriesContext(connection) as read:
        assert merchant.get(f"/v1/refunds/{full_refund.public_id}").status_code == 200
    statements = [q["sql"] for q in read.captured_queries]
    assert len(statements) == 2, statements
    assert "refunds_apikey" in statements[0] and "refunds_refund" in statements[1]


def test_another_merchants_refund_is_not_found(merchant, full_refund, globex):
    with pytest.raises(DomainError) as refused:
        refund_read(public_id=full_refund.public_id, merchant=globex)
    assert refused.value.code == ERR_NOT_FOUND
    tenant = Merchant.objects.get(pk=full_refund.order.merchant_id)
    with pytest.raises(DomainError):
        refund_read(public_id="rf_unknown", merchant=tenant)


def test_without_json_rows_it_is_refund_get(merchant, full_refund, monkeypatch):
    """The demo's SQLite, or a model with a column JSON cannot carry exactly: the ORM's prefetches."""
    monkeypatch.setattr("api.refund_read._supported", lambda: False)
    tenant = Merchant.objects.get(pk=full_refund.order.merchant_id)
    with CaptureQueriesContext(connection) as read:
        refund = refund_read(public_id=full_refund.public_id, merchant=tenant)
    assert "prefetch" not in read.captured_queries[0]["sql"] and len(read.captured_queries) == 4
    assert rendered(refund) == rendered(refund_get(public_id=full_refund.public_id, merchant=tenant))
