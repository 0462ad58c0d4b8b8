"""A signed webhook with a hostile envelope is a 400 with the error JSON, never a 500 (issue 10, item 14; 11, 7).

The signature proves who sent the body, not that it fits our inbox: an id,
type or refund id longer than its column, a metadata that is no object, a
body nested too deep or carrying NUL, must each be refused (400, nothing
stored) instead of failing inside the insert.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from providers.stripe.signature import sign_payload
from refunds.enums import RefundState
from refunds.models import WebhookEvent
from tests.refunds.factories import submitted_refund
from tests.support.routes import routes
from tests.support.stripe_events import SECRET, post, refund_event_body

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_webhooks")]


def envelope(**changes: object) -> dict:
    """A well-formed refund event with `changes` to its envelope and `object_changes` to its refund object."""
    body = refund_event_body(event_id="evt_ok")
    body["data"]["object"].update(changes.pop("object_changes", {}))
    return {**body, **changes}


def assert_rejected(response) -> None:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "ERR.WEBHOOK.rejected"
    assert {"code", "message_id", "message", "correlation_id"} <= set(body)
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(envelope(id="evt_" + "x" * 146), id="150-character id"),
        pytest.param(envelope(type="refund." + "x" * 73), id="80-character type"),
        pytest.param(envelope(object_changes={"metadata": "x"}), id="metadata a string"),
        pytest.param(envelope(object_changes={"metadata": ["rf_1"]}), id="metadata a list"),
        pytest.param(envelope(object_changes={"id": "re_" + "x" * 200}), id="200-character refund id"),
        pytest.param(envelope(object_changes={"id": 12}), id="refund id a number"),
        pytest.param(envelope(object_changes={"metadata": {"refund_id": 12}}), id="refund_id a number"),
        pytest.param(envelope(object_changes={"amount": 2**70}), id="amount beyond bigint"),
        pytest.param(envelope(object_changes={"amount": "3000"}), id="amount a string"),
        pytest.param(envelope(object_changes={"currency": "dollars"}), id="currency not a code"),
        pytest.param(envelope(object_changes={"status": {"deep": 1}}), id="status an object"),
        pytest.param(envelope(id=["evt_1"]), id="id a list"),
        pytest.param(envelope(type=7), id="type a number"),
        pytest.param(envelope(id=""), id="id empty"),
        pytest.param(envelope(object_changes={"note": "a\u0000b"}), id="NUL in a string"),
        pytest.param(envelope(object_changes={"a\u0000": 1}), id="NUL in a key"),
        pytest.param(envelope(id="evt_\u0000"), id="NUL in the id"),
        pytest.param(envelope(type="refund.\u0000updated"), id="NUL in the type"),
        pytest.param(envelope(object_changes={"id": "re_\u0000"}), id="NUL in the refund id"),
        pytest.param(envelope(object_changes={"metadata": {"refund_id": "rf_\u0000"}}), id="NUL in the refund_id"),
        pytest.param(envelope(data={"object": [refund_event_body()["data"]["object"]]}), id="data.object a list"),
        pytest.param(envelope(data={"object": "re_1"}), id="data.object a string"),
        pytest.param(envelope(data=[{"object": {}}]), id="data a list"),
        pytest.param(envelope(data="x"), id="data a string"),
        pytest.param(envelope(object_changes={"metadata": "x"}, id="evt_\u0000"), id="metadata a string, NUL id"),
    ],
)
def test_a_signed_event_with_a_hostile_envelope_is_a_400_and_nothing_is_stored(body):
    assert_rejected(post(json.dumps(body).encode()))


def test_a_signed_event_nested_five_thousand_levels_is_a_400():
    payload = b'{"id": "evt_deep", "type": "refund.updated", "data": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001

    assert_rejected(post(payload))


@pytest.mark.parametrize("route", routes("webhooks/"), ids=lambda r: r.name)
def test_a_signed_event_nested_five_thousand_levels_is_a_400_on_every_webhook_endpoint(route):
    payload = b'{"id": "evt_deep", "type": "refund.updated", "data": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001

    response = Client(raise_request_exception=False).post(
        route.path({"provider": "stripe"}),
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_payload(payload, SECRET),
    )

    assert_rejected(response)


def test_a_signed_event_nested_deeper_than_the_limit_is_a_400():
    deep: object = 1
    for _ in range(100):
        deep = {"a": deep}
    assert_rejected(post(json.dumps(envelope(object_changes={"extra": deep})).encode()))


def test_a_long_metadata_refund_id_is_only_a_refund_we_do_not_know():
    body = envelope(object_changes={"metadata": {"refund_id": "rf_" + "x" * 400}})

    response = post(json.dumps(body).encode())

    assert response.status_code == 200
    assert response.json()["status"] == "unknown_refund"


def test_a_well_formed_event_is_still_received():
    refund = submitted_refund(amount_minor=3000)
    body = envelope(object_changes={"metadata": {"refund_id": refund.public_id}})

    response = post(json.dumps(body).encode())

    assert response.status_code == 200
    refund.refresh_from_db()
    assert refund.state == RefundState.COMPLETED
