"""The served OpenAPI schema describes every call, its bodies and its authentication, without warnings."""

import pytest
from django.core.management import call_command

from api.idempotency import KEY_PATTERN
from core.errors import ERR_VALIDATION

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
        "instrument",
        "lines",
        "proration",
    }
    listing = schema["components"]["schemas"]["OrderRefundsOutput"]["properties"]
    assert listing["refunds"]["type"] == "array"


# --- the schema says what the server answers (issue 11, item 9; Schemathesis: tests/e2e/journeys/test_schemathesis.py)


@pytest.fixture
def served(client) -> dict:
    return client.get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_every_operation_documents_its_error_answers_with_the_one_error_component(served):
    error_ref = "#/components/schemas/ErrorOutput"
    assert set(served["components"]["schemas"]["ErrorOutput"]["required"]) == {
        "code",
        "message_id",
        "message",
        "correlation_id",
    }
    for path, item in served["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"401", "403", "500", "503"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"]["$ref"] == error_ref
            assert operation["security"] == [{"apiKey": []}]


def test_create_documents_conflict_payment_refusals_and_the_rate_limit(served):
    create = served["paths"]["/v1/orders/{order_id}/refunds"]["post"]["responses"]
    assert {"400", "402", "404", "409", "413", "422", "429"} <= set(create)
    assert "429" in served["paths"]["/v1/refunds/{refund_id}/decision"]["post"]["responses"]
    assert "409" in served["paths"]["/v1/orders"]["post"]["responses"]


def test_currency_is_the_enum_of_known_iso_codes(served):
    from core.money import CURRENCY_EXPONENTS

    schemas = served["components"]["schemas"]
    for body in ("RefundCreateInputRequest", "OrderInputRequest"):
        currency = schemas[body]["properties"]["currency"]
        assert currency["allOf"] == [{"$ref": "#/components/schemas/CurrencyEnum"}]
    codes = sorted(CURRENCY_EXPONENTS)
    assert schemas["CurrencyEnum"]["enum"] == codes + [code.lower() for code in codes]


def test_idempotency_key_rules_are_published(served):
    (header,) = [
        p
        for p in served["paths"]["/v1/orders/{order_id}/refunds"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    ]
    assert header["required"] is True
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN}


def test_a_deny_requires_a_note_in_the_schema(served):
    schemas = served["components"]["schemas"]
    decision = schemas["DecisionInputRequest"]
    assert decision["discriminator"]["propertyName"] == "decision"
    deny = schemas["DenyInputRequest"]
    approve = schemas["ApproveInputRequest"]
    assert "note" in deny["required"] and "pattern" in deny["properties"]["note"]
    assert "note" not in approve.get("required", [])
    # Both shapes require `decision`: a decision without a body is refused, so the body is required.
    assert served["paths"]["/v1/refunds/{refund_id}/decision"]["post"]["requestBody"]["required"] is True


@pytest.mark.parametrize(
    ("field", "value"),
    [("currency", "Usd"), ("currency", "XXX"), ("currency", "xxx"), ("note", 7), ("reason", 1), ("evidence", [10**18])],
)
def test_what_the_schema_refuses_the_server_refuses(merchant, field, value):
    from tests.api.conftest import create
    from tests.refunds.factories import captured_order

    order = captured_order()
    response = create(merchant, order.order_id, **{field: value})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == ERR_VALIDATION


def test_a_lower_case_currency_is_accepted_and_answered_in_upper_case(merchant):
    from tests.api.conftest import create
    from tests.refunds.factories import captured_order

    order = captured_order()
    response = create(merchant, order.order_id, currency=order.currency.lower())
    assert response.status_code == 202, response.content
    assert merchant.get(f"/v1/refunds/{response.json()['refund_id']}").json()["currency"] == order.currency


def test_a_schema_pattern_and_the_idempotency_rules_agree():
    import re

    for key in ["a", "k" * 255, "a b", "550e8400-e29b-41d4-a716-446655440000"]:
        assert re.fullmatch(KEY_PATTERN, key)
    for key in ["", " a", "a ", "k" * 256, "caf\u00e9", "a\tb"]:
        assert not re.fullmatch(KEY_PATTERN, key)
