"""`POST /v1/orders/{id}/refunds` by line and for time not used (issue 15); the documents list both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.serializers import ONE_WAY_TO_THE_AMOUNT, SERVICE_END_NOT_AFTER_START, SKU_NAMED_TWICE
from core.errors import (
    ERR_CONFLICT_ORDER,
    ERR_EXCEEDS_REMAINING,
    ERR_INSTRUMENT_NOT_ALLOWED,
    ERR_VALIDATION,
)
from events.models import Event
from refunds.enums import PolicyStatus
from refunds.models import RefundPolicy
from refunds.services.policy import policy_get_active
from tests.api.conftest import create
from tests.refunds.factories import captured_yesterday

pytestmark = pytest.mark.django_db

ORDER = {
    "order_id": "L-1",
    "currency": "USD",
    "customer": {"id": "c-1", "email": "c@example.com"},
    "lines": [
        {"sku": "KTL", "description": "Kettle", "unit_amount_minor": 3000, "quantity": 3, "tax_minor": 100},
        {"sku": "MUG", "description": "Mug", "unit_amount_minor": 500, "quantity": 2},
    ],
    "payment": {
        "provider_payment_id": "pi_sim_ok_l1",
        "rail": "card",
        "amount_minor": 10100,
        "status": "captured",
        "captured_at": captured_yesterday(),
    },
}


def post(client, key: str, order_id: str = "L-1", **body):
    payload = {"currency": "USD", "reason": "other", **body}
    return client.post(f"/v1/orders/{order_id}/refunds", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def order(merchant):
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201


def test_a_refund_by_line_answers_with_its_lines_and_amount(merchant, order):
    response = post(merchant, "k-1", lines=[{"sku": "KTL", "quantity": 1}, {"sku": "MUG", "quantity": 2}])

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["amount_minor"] == 3033 + 1000
    assert body["lines"] == [
        {"sku": "KTL", "description": "Kettle", "quantity": 1, "amount_minor": 3033, "tax_minor": 33},
        {"sku": "MUG", "description": "Mug", "quantity": 2, "amount_minor": 1000, "tax_minor": 0},
    ]
    assert body["proration"] is None
    detail = merchant.get(f"/v1/refunds/{body['refund_id']}").json()
    assert detail["lines"] == body["lines"] and detail["proration"] is None
    # The merchant's event carries the same document.
    created = Event.objects.get(type="refund.created")
    assert created.data["lines"] == body["lines"]


def test_a_refund_by_amount_lists_no_lines(merchant, order):
    body = post(merchant, "k-1", amount_minor=100).json()
    assert (body["lines"], body["proration"]) == ([], None)
    assert merchant.get(f"/v1/refunds/{body['refund_id']}").json()["lines"] == []


def test_a_second_request_for_refunded_units_is_refused_with_what_is_left(merchant, order):
    assert post(merchant, "k-1", lines=[{"sku": "KTL", "quantity": 2}]).status_code == 202
    response = post(merchant, "k-2", lines=[{"sku": "KTL", "quantity": 2}])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == ERR_EXCEEDS_REMAINING
    assert (body["details"]["sku"], body["details"]["quantity_left"]) == ("KTL", 1)


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ({}, "non_field_errors", ONE_WAY_TO_THE_AMOUNT),
        ({"amount_minor": 100, "lines": [{"sku": "KTL", "quantity": 1}]}, "non_field_errors", ONE_WAY_TO_THE_AMOUNT),
        ({"amount_minor": 100, "prorate": True}, "non_field_errors", ONE_WAY_TO_THE_AMOUNT),
        ({"lines": [{"sku": "KTL", "quantity": 1}], "prorate": True}, "non_field_errors", ONE_WAY_TO_THE_AMOUNT),
        ({"lines": [{"sku": "KTL", "quantity": 1}, {"sku": "KTL", "quantity": 1}]}, "lines", SKU_NAMED_TWICE),
    ],
)
def test_the_body_says_how_much_in_exactly_one_way(merchant, order, body, where, message):
    response = post(merchant, "k-1", **body)
    assert response.status_code == 400
    assert response.json()["code"] == ERR_VALIDATION
    assert message in str(response.json()["details"]["fields"][where])


@pytest.mark.parametrize(
    "lines",
    [[], [{"sku": "KTL", "quantity": 0}], [{"sku": "KTL", "quantity": "1"}], [{"sku": " ", "quantity": 1}], [{}]],
)
def test_malformed_lines_are_400(merchant, order, lines):
    response = post(merchant, "k-1", lines=lines)
    assert (response.status_code, response.json()["code"]) == (400, ERR_VALIDATION)


def test_an_unknown_sku_names_the_line(merchant, order):
    response = post(merchant, "k-1", lines=[{"sku": "MUG", "quantity": 1}, {"sku": "NOPE", "quantity": 1}])
    assert (response.status_code, response.json()["code"]) == (400, ERR_VALIDATION)
    assert response.json()["details"]["field"] == "lines[1].sku"


def test_prorate_must_be_a_json_boolean(merchant, order):
    response = post(merchant, "k-1", prorate="true")
    assert (response.status_code, response.json()["code"]) == (400, ERR_VALIDATION)


def test_an_instrument_outside_the_contract_is_400(merchant, order):
    response = post(merchant, "k-1", amount_minor=100, instrument="void")
    assert (response.status_code, response.json()["code"]) == (400, ERR_VALIDATION)


def test_reading_a_refund_by_line_keeps_the_read_budget(merchant, order):
    refund_id = post(merchant, "k-1", lines=[{"sku": "KTL", "quantity": 1}, {"sku": "MUG", "quantity": 1}]).json()[
        "refund_id"
    ]
    with CaptureQueriesContext(connection) as read:
        assert merchant.get(f"/v1/refunds/{refund_id}").status_code == 200
    # The lines and their order lines come in the read's one statement, whatever their number.
    assert len([q for q in read.captured_queries if "SAVEPOINT" not in q["sql"]]) == 2


# --- orders: service_ends_at ---------------------------------------------------------------------


SERVICE = {
    **ORDER,
    "order_id": "S-1",
    "currency": "EUR",
    "lines": [],
    "service_starts_at": "2027-03-01T00:00:00Z",
    "service_ends_at": "2027-03-31T00:00:00Z",
    "payment": {**ORDER["payment"], "provider_payment_id": "pi_sim_ok_s1", "amount_minor": 30000},
}


def test_an_order_takes_a_service_end_after_its_start(merchant):
    assert merchant.post("/v1/orders", SERVICE, format="json").status_code == 201
    for bad in ({"service_ends_at": "2027-03-01T00:00:00Z"}, {"service_starts_at": None}):
        response = merchant.post("/v1/orders", {**SERVICE, "order_id": "S-2", **bad}, format="json")
        assert response.status_code == 400
        assert response.json()["details"]["fields"]["service_ends_at"] == [SERVICE_END_NOT_AFTER_START]


def test_the_service_end_is_frozen_once_the_order_has_refunds(merchant):
    merchant.post("/v1/orders", SERVICE, format="json")
    assert create(merchant, "S-1", currency="EUR", amount_minor=100).status_code == 202
    moved = {**SERVICE, "service_ends_at": "2027-04-30T00:00:00Z"}
    response = merchant.post("/v1/orders", moved, format="json")
    assert (response.status_code, response.json()["code"]) == (409, ERR_CONFLICT_ORDER)
    assert response.json()["details"]["field"] == "service_ends_at"


# --- time not used -------------------------------------------------------------------------------


def prorating_policy(enabled: bool = True) -> None:
    policy_get_active()
    now = timezone.now() - timedelta(seconds=1)
    RefundPolicy.objects.create(
        version=2, status=PolicyStatus.APPROVED, reviewed_at=now, activates_at=now, proration_enabled=enabled
    )


def running_service(merchant) -> None:
    """30 days from midnight UTC 18 days ago: 11 days unused today (the books' calendar is UTC here)."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=18)
    body = {
        **SERVICE,
        "service_starts_at": start.isoformat(),
        "service_ends_at": (start + timedelta(days=30)).isoformat(),
    }
    assert merchant.post("/v1/orders", body, format="json").status_code == 201


def test_a_prorated_refund_answers_with_its_arithmetic(merchant):
    prorating_policy()
    running_service(merchant)
    # "quality": outside the fee schedule's reasons, so the whole unused share.
    response = post(merchant, "k-1", "S-1", prorate=True, currency="EUR", reason="quality")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["amount_minor"] == 11000
    assert body["proration"] == {
        "text": "€300.00 × 11/30 days unused = €110.00",
        "total_days": 30,
        "unused_days": 11,
        "base_minor": 11000,
        "fee_percent": 100,
        "amount_minor": 11000,
    }
    assert merchant.get(f"/v1/refunds/{body['refund_id']}").json()["proration"] == body["proration"]


def test_prorating_without_the_policy_option_is_422(merchant):
    prorating_policy(enabled=False)
    running_service(merchant)
    response = post(merchant, "k-1", "S-1", prorate=True, currency="EUR")
    assert (response.status_code, response.json()["code"]) == (422, ERR_INSTRUMENT_NOT_ALLOWED)
