"""Evidence items on a refund request: an uploaded file id of the order, or a typed https reference."""

from __future__ import annotations

import pytest

from core.errors import ERR_VALIDATION, DomainError
from refunds.enums import Reason
from refunds.models import Refund
from refunds.services.evidence_refs import evidence_item_parse
from tests.refunds.factories import captured_order, make_refund


@pytest.mark.parametrize(
    ("item", "stored"),
    [
        (12, {"type": "file", "file_id": 12}),
        ("12", {"type": "file", "file_id": 12}),
        ({"type": "file", "file_id": 12}, {"type": "file", "file_id": 12}),
        ({"type": "photo", "uri": "https://a.example/x.jpg"}, {"type": "photo", "uri": "https://a.example/x.jpg"}),
        ({"type": "document", "uri": "https://a.example/r.pdf?v=1#p2"}, None),
        ({"type": "url", "uri": "https://a.example:8443/t/%20x"}, None),
    ],
)
def test_what_counts_as_evidence(item, stored):
    assert evidence_item_parse(item) == (stored or item)


@pytest.mark.parametrize(
    "item",
    [
        "-",
        "photo.jpg",
        "²",
        0,
        -3,
        False,
        1.5,
        None,
        {"type": "file", "file_id": "12"},
        {"type": "file", "file_id": True},
        {"type": "photo", "uri": "HTTPS://a.example/x.jpg "},
        {"type": "photo", "uri": "ftp://a.example/x.jpg"},
        {"type": "photo", "uri": "https://[::1"},
        {"type": "photo", "uri": "https://a.example/\u00e9"},
    ],
    ids=repr,
)
def test_what_does_not(item):
    with pytest.raises(ValueError):
        evidence_item_parse(item)


@pytest.mark.django_db
@pytest.mark.parametrize("evidence", [["-"], [{"type": "photo", "uri": "http://a.example/x.jpg"}], [424242]])
def test_the_service_refuses_what_the_api_would(evidence):
    """Every caller (API, console, commands) gets the same rule, not only the API's serializer."""
    order = captured_order()
    with pytest.raises(DomainError) as error:
        make_refund(order=order, amount_minor=3000, reason=Reason.QUALITY, evidence=evidence)
    assert (error.value.code, error.value.details) == (ERR_VALIDATION, {"field": "evidence"})
    assert not Refund.objects.filter(order=order).exists()
