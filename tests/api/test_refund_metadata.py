"""`metadata` on `POST /v1/orders/{order_id}/refunds`: stored, returned, part of the idempotent request (issue 14)."""

from __future__ import annotations

import pytest

from core.errors import ERR_CONFLICT_IDEMPOTENCY, ERR_VALIDATION
from refunds.models import Refund
from tests.api.conftest import create
from tests.refunds.factories import captured_order

pytestmark = pytest.mark.django_db

METADATA = {"ticket_id": "ZD-4410", "warehouse": "BER-2"}


def test_metadata_is_stored_and_returned_on_reads(merchant):
    order = captured_order()
    refund_id = create(merchant, order.order_id, metadata=METADATA).json()["refund_id"]

    assert Refund.objects.get(public_id=refund_id).metadata == METADATA
    assert merchant.get(f"/v1/refunds/{refund_id}").json()["metadata"] == METADATA
    assert merchant.get("/v1/refunds").json()["data"][0]["metadata"] == METADATA


def test_without_metadata_a_refund_shows_an_empty_object(merchant):
    refund_id = create(merchant, captured_order().order_id).json()["refund_id"]
    assert merchant.get(f"/v1/refunds/{refund_id}").json()["metadata"] == {}


@pytest.mark.parametrize("metadata", [{"n": 42}, {"flag": True}, {"gone": None}, {"v": "x" * 501}, ["x"], "x"])
def test_metadata_breaking_what_the_schema_says_is_400_naming_the_field(merchant, metadata):
    order = captured_order()
    response = create(merchant, order.order_id, metadata=metadata)
    assert response.status_code == 400
    assert response.json()["code"] == ERR_VALIDATION and "metadata" in response.json()["details"]["fields"]
    assert not Refund.objects.filter(order=order).exists()


@pytest.mark.parametrize("metadata", [{"k" * 41: "v"}, {"a[b]": "v"}, {"": "v"}])
def test_a_key_breaking_stripes_rules_is_400_and_not_stored_for_the_idempotency_key(merchant, metadata):
    order = captured_order()
    response = create(merchant, order.order_id, key="same", metadata=metadata)
    assert response.status_code == 400
    assert response.json()["code"] == ERR_VALIDATION and response.json()["details"] == {"field": "metadata"}
    assert not Refund.objects.filter(order=order).exists()
    assert create(merchant, order.order_id, key="same").status_code == 202  # fixed, the same key goes through


def test_metadata_is_part_of_the_idempotent_request(merchant):
    order = captured_order()
    first = create(merchant, order.order_id, key="k", metadata=METADATA)
    other = create(merchant, order.order_id, key="k", metadata={**METADATA, "warehouse": "HAM-1"})
    assert first.status_code == 202
    assert other.status_code == 409 and other.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
