"""The served OpenAPI schema describes every call, its bodies and its authentication, without warnings."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn: an undocumented view, body or authenticator fails here instead of going unnoticed.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "bearer" in text
    assert "RefundCreateOutput" in text and "OrderRefundsOutput" in text


def test_create_and_list_bodies_are_the_declared_serializers(client):
    schema = client.get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    create = schema["components"]["schemas"]["RefundCreateOutput"]["properties"]
    assert set(create) == {
        "refund_id",
        "state",
        "amount_minor",
        "currency",
        "remaining_refundable_minor",
        "message_id",
        "policy_outcome",
        "policy_rule",
        "status_url",
    }
    listing = schema["components"]["schemas"]["OrderRefundsOutput"]["properties"]
    assert listing["refunds"]["type"] == "array"
