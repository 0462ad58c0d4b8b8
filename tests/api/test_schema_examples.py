"""Every operation of the served schema shows examples, and each example is what the API really takes or answers.

Issue 12, item 14: the docs at /v1/docs show them. An example is held three
ways: to the schema (strictly: no property the schema does not name), a
request example to the input serializer the view reads it with, and an error
example to the catalogue of codes (its status and message id).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api import serializers as s
from api import serializers_credits as sc
from api import serializers_events as se
from api.views_portal import RequestLinkOutput
from core.errors import CATALOG

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def served(django_db_setup, django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _strict(node: Any) -> Any:
    """The OpenAPI 3.0 schema as JSON Schema: `nullable` as a null type, and no property it does not name."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    elif "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def validate(schema: dict, media_schema: dict, value: Any) -> None:
    root = {**_strict(copy.deepcopy(media_schema)), "components": _strict(copy.deepcopy(schema["components"]))}
    jsonschema.Draft202012Validator(root).validate(value)


def test_every_operation_has_a_request_example_for_its_body_and_an_example_for_every_answer(served):
    assert len(operations(served)) >= 8
    for path, method, operation in operations(served):
        body = operation.get("requestBody")
        if body is not None:
            for media_type, content in body["content"].items():
                assert content.get("examples"), f"{method.upper()} {path}: no request example ({media_type})"
        for status, response in operation["responses"].items():
            examples = response.get("content", {}).get("application/json", {}).get("examples")
            assert examples, f"{method.upper()} {path}: no example of its {status} answer"


def test_every_example_is_valid_against_the_schema(served):
    for path, method, operation in operations(served):
        media = list(operation.get("requestBody", {}).get("content", {}).values())
        media += [response["content"]["application/json"] for response in operation["responses"].values()]
        for content in media:
            for name, example in content["examples"].items():
                try:
                    validate(served, content["schema"], example["value"])
                except jsonschema.ValidationError as error:
                    raise AssertionError(f"{method.upper()} {path} example {name}: {error.message}") from None


# The serializer each view reads its body with (the schema shows DecisionInput as its two shapes).
INPUT_SERIALIZERS = {
    "OrderInputRequest": s.OrderInput,
    "RefundCreateInputRequest": s.RefundCreateInput,
    "DecisionInputRequest": s.DecisionInput,
    "CancelInputRequest": s.CancelInput,
    "PayoutInputRequest": s.PayoutInput,
    "WebhookEndpointInputRequest": se.WebhookEndpointInput,
    "PatchedWebhookEndpointUpdateInputRequest": se.WebhookEndpointUpdateInput,
    "RedeliverInputRequest": se.RedeliverInput,
    "EvidenceUploadInputRequest": s.EvidenceUploadInput,
    "RedeemInputRequest": sc.RedeemInput,
}


def _uploaded(value: dict[str, Any]) -> dict[str, Any]:
    """A multipart example as the view reads it: each file part (shown as a placeholder text) as an upload."""
    return {
        key: [SimpleUploadedFile("example.png", b"\x89PNG\r\n\x1a\n" + item.encode()) for item in items]
        for key, items in value.items()
    }


def test_every_request_example_is_accepted_by_the_views_serializer(served):
    for path, method, operation in operations(served):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            component = content["schema"]["$ref"].rsplit("/", 1)[1]
            serializer_class = INPUT_SERIALIZERS[component]
            for name, example in content["examples"].items():
                value = _uploaded(example["value"]) if media_type == "multipart/form-data" else example["value"]
                serializer = serializer_class(data=value)
                assert serializer.is_valid(), (method, path, name, serializer.errors)


def test_every_error_example_carries_a_code_of_its_status(served):
    for path, method, operation in operations(served):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            for name, example in response["content"]["application/json"]["examples"].items():
                body = example["value"]
                http_status, message_id, _ = CATALOG[body["code"]]
                assert (str(http_status), body["message_id"]) == (status, message_id), (method, path, name)


def test_success_examples_name_every_field_of_the_output_serializer(served):
    outputs = {
        "OrderOutput": s.OrderOutput,
        "OrderRefundsOutput": s.OrderRefundsOutput,
        "RefundCreateOutput": s.RefundCreateOutput,
        "RefundOutput": s.RefundOutput,
        "EventOutput": se.EventOutput,
        "EventList": se.EventListOutput,
        "WebhookEndpointOutput": se.WebhookEndpointOutput,
        "WebhookEndpointCreatedOutput": se.WebhookEndpointCreatedOutput,
        "WebhookEndpointRotatedOutput": se.WebhookEndpointRotatedOutput,
        "WebhookEndpointDeletedOutput": se.WebhookEndpointDeletedOutput,
        "WebhookEndpointList": se.WebhookEndpointListOutput,
        "WebhookAttemptList": se.WebhookAttemptListOutput,
        "RedeliverOutput": se.RedeliverOutput,
        "RefundList": s.RefundListOutput.__class__,
        "PaymentRefundsOutput": s.PaymentRefundsOutput,
        "CreditOutput": sc.CreditOutput,
        "RedeemOutput": sc.RedeemOutput,
        "RequestLinkOutput": RequestLinkOutput,
    }
    seen = set()
    for path, method, operation in operations(served):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = response["content"]["application/json"]
            component = content["schema"]["$ref"].rsplit("/", 1)[1]
            output = outputs[component]
            fields = set((output if isinstance(output, s.serializers.Serializer) else output()).fields)
            for name, example in content["examples"].items():
                assert set(example["value"]) == fields, (method, path, name)
                seen.add(component)
    assert seen == set(outputs)
