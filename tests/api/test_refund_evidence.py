"""Evidence on `POST /v1/orders/{id}/refunds` is an uploaded file id or a typed reference (issue 10 item 7).

`"evidence": ["-"]` satisfied the policy's evidence rule (a quality refund was
auto-approved on a dash), while the body of the brief,
`[{"type": "photo", "uri": "https://…"}]`, was refused with 400.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.actor import Actor
from refunds.enums import Reason
from refunds.models import EvidenceFile, Refund
from refunds.services.evidence import evidence_attach, evidence_validate
from tests.api.conftest import create
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

PHOTO = {"type": "photo", "uri": "https://photos.example.com/orders/A-1/cracked-lid.jpg"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


def quality(merchant, order, evidence, key="k-1"):
    return create(merchant, order.order_id, key=key, amount_minor=3000, reason="quality", evidence=evidence)


def assert_refused(response, *, by_the_service: bool = False) -> None:
    """400 with the usual error JSON naming `evidence`: among the body's `fields` when its shape is wrong,
    as the `field` of the service's refusal when only the database can tell (a file id)."""
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "ERR.VALIDATION.request"
    if by_the_service:
        assert body["details"]["field"] == "evidence"
    else:
        assert "evidence" in body["details"]["fields"]


def test_a_dash_is_not_evidence(merchant):
    order = captured_order()

    response = quality(merchant, order, ["-"])

    assert_refused(response)
    assert not Refund.objects.filter(order=order).exists()


@pytest.mark.parametrize("kind", ["photo", "document", "url"])
def test_the_typed_reference_of_the_brief_is_evidence_and_is_stored(merchant, kind):
    order = captured_order()
    reference = {"type": kind, "uri": "https://files.example.com/claims/77"}

    response = quality(merchant, order, [reference])

    assert response.status_code == 202, response.json()
    refund = Refund.objects.get(public_id=response.json()["refund_id"])
    assert refund.evidence == [reference]
    assert refund.policy_rule != "R-EVIDENCE-QUALITY"  # the evidence rule is satisfied
    assert merchant.get(f"/v1/refunds/{refund.public_id}").json()["evidence"] == [reference]


@pytest.mark.parametrize(
    "item",
    [
        "-",
        "photo.jpg",
        "",
        True,
        None,
        ["https://photos.example.com/a.jpg"],
        {"type": "photo", "uri": "http://photos.example.com/a.jpg"},
        {"type": "photo", "uri": "javascript:alert(1)"},
        {"type": "photo", "uri": "https:///no-host"},
        {"type": "photo", "uri": "https://user:secret@photos.example.com/a.jpg"},
        {"type": "photo", "uri": "https://photos.example.com/a b.jpg"},
        {"type": "photo", "uri": "https://photos.example.com/" + "a" * 2000},
        {"type": "image", "uri": "https://photos.example.com/a.jpg"},
        {"type": "photo"},
        {"uri": "https://photos.example.com/a.jpg"},
        {"type": "photo", "uri": 7},
        {"type": "photo", "uri": "https://photos.example.com/a.jpg", "note": "extra"},
    ],
    ids=repr,
)
def test_anything_else_is_refused_with_the_usual_error(merchant, item):
    order = captured_order()

    assert_refused(quality(merchant, order, [item]))
    assert not Refund.objects.filter(order=order).exists()


def test_an_unknown_file_id_is_refused(merchant):
    order = captured_order()

    assert_refused(quality(merchant, order, [987654]), by_the_service=True)
    assert_refused(quality(merchant, order, ["987654"], key="k-2"), by_the_service=True)


def _uploaded(order) -> EvidenceFile:
    """A file uploaded with an earlier refund of `order` (the console's evidence upload)."""
    earlier = make_refund(order=order, amount_minor=1000, reason=Reason.OTHER)
    (row,) = evidence_attach(
        refund=earlier,
        uploads=evidence_validate(files=[SimpleUploadedFile("lid.png", PNG, content_type="image/png")]),
        actor=Actor.system("test"),
    )
    return row


def test_a_file_uploaded_for_the_order_is_evidence(merchant):
    order = captured_order()
    uploaded = _uploaded(order)

    response = quality(merchant, order, [uploaded.pk])

    assert response.status_code == 202, response.json()
    refund = Refund.objects.get(public_id=response.json()["refund_id"])
    assert refund.evidence == [{"type": "file", "file_id": uploaded.pk}]
    assert refund.policy_rule != "R-EVIDENCE-QUALITY"
    # What the API shows is what it takes.
    again = quality(merchant, order, merchant.get(f"/v1/refunds/{refund.public_id}").json()["evidence"], key="k-2")
    assert again.status_code == 202, again.json()


def test_a_file_of_another_order_is_refused(merchant):
    """A file id is not a capability: another order's file would show a stranger's evidence on this card."""
    uploaded = _uploaded(captured_order())

    assert_refused(quality(merchant, captured_order(), [uploaded.pk]), by_the_service=True)
