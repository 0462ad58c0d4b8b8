"""`POST /v1/refunds/{refund_id}/evidence`: files attached over the API, under the console's rules (issue 14)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_CONFLICT_IDEMPOTENCY, ERR_IDEMPOTENCY_KEY_MISSING, ERR_NOT_FOUND, ERR_VALIDATION
from refunds.enums import RefundState
from refunds.models import EvidenceFile, Refund
from refunds.services.evidence import evidence_dir, evidence_read
from refunds.services.merchants import merchant_create
from tests.api.conftest import create
from tests.refunds.factories import captured_order, make_refund, merchant_system, move_refund

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 300
PDF = b"%PDF-1.7\n" + b"\x02" * 300


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def refund():
    return make_refund(order=captured_order(), amount_minor=1000, actor=merchant_system())


def upload(client, refund_id, *files, key="ev-1"):
    parts = [SimpleUploadedFile(name, data) for name, data in files]
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/v1/refunds/{refund_id}/evidence", {"file": parts}, format="multipart", **headers)


def stored_files() -> list:
    return list(evidence_dir().glob("*")) if evidence_dir().exists() else []


# --- tenancy first ---------------------------------------------------------------


def test_an_upload_to_another_merchants_refund_is_404_and_stores_nothing(client_for, refund):
    merchant_create(slug="b-shop", name="B", actor=Actor.system("test"))
    attacker = client_for("b-key", merchant="b-shop")

    response = upload(attacker, refund.public_id, ("x.png", PNG))

    assert response.status_code == 404 and response.json()["code"] == ERR_NOT_FOUND
    assert not EvidenceFile.objects.exists() and stored_files() == []
    refund.refresh_from_db()
    assert refund.evidence == []


# --- attaching -------------------------------------------------------------------


def test_files_are_encrypted_attached_cited_and_audited(merchant, refund):
    response = upload(merchant, refund.public_id, ("lid.png", PNG), ("receipt.pdf", PDF))

    assert response.status_code == 201, response.json()
    files = list(EvidenceFile.objects.filter(refund=refund).order_by("pk"))
    assert [f.content_type for f in files] == ["image/png", "application/pdf"]
    assert response.json()["evidence"] == [{"type": "file", "file_id": f.pk} for f in files]
    assert response.json() == merchant.get(f"/v1/refunds/{refund.public_id}").json()
    assert evidence_read(evidence=files[0]) == PNG
    assert all(PNG not in path.read_bytes() for path in stored_files())  # encrypted at rest
    assert AuditEvent.objects.filter(refund=refund, action="refund.evidence_attached").count() == 1
    assert response["Idempotency-Status"] == "created"


def test_new_files_are_appended_to_what_the_refund_cites(merchant):
    order = captured_order()
    reference = {"type": "photo", "uri": "https://photos.example.com/a.jpg"}
    refund_id = create(merchant, order.order_id, key="c", reason="quality", evidence=[reference]).json()["refund_id"]

    response = upload(merchant, refund_id, ("lid.png", PNG))

    file_id = EvidenceFile.objects.get().pk
    assert response.json()["evidence"] == [reference, {"type": "file", "file_id": file_id}]


def test_a_file_uploaded_here_can_be_cited_by_a_later_refund_of_the_same_order(merchant, refund):
    upload(merchant, refund.public_id, ("lid.png", PNG))
    file_id = EvidenceFile.objects.get().pk

    later = create(merchant, refund.order.order_id, key="later", amount_minor=500, evidence=[file_id])
    other_order = create(merchant, captured_order().order_id, key="other", amount_minor=500, evidence=[file_id])

    assert later.status_code == 202, later.json()
    assert Refund.objects.get(public_id=later.json()["refund_id"]).evidence == [{"type": "file", "file_id": file_id}]
    assert other_order.status_code == 400 and other_order.json()["details"]["field"] == "evidence"


@pytest.mark.parametrize("state", [RefundState.CANCELED, RefundState.DENIED])
def test_a_decided_refund_still_takes_evidence(merchant, state):
    refund = make_refund(order=captured_order(), amount_minor=1000, actor=merchant_system(), reason="goodwill")
    move_refund(refund, state)
    response = upload(merchant, refund.public_id, ("lid.png", PNG))
    assert response.status_code == 201 and response.json()["state"] == state


# --- the console's rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("notes.txt", b"hello", "is not a JPEG, PNG or PDF"),
        ("lid.pdf", PNG, "does not match its content"),
        ("empty.png", b"", "empty"),
    ],
)
def test_type_is_checked_by_content_and_nothing_is_stored(merchant, refund, name, data, words):
    response = upload(merchant, refund.public_id, (name, data))
    assert response.status_code == 400
    assert response.json()["code"] == ERR_VALIDATION and response.json()["details"]["field"] == "evidence"
    assert words in response.json()["message"]
    assert not EvidenceFile.objects.exists() and stored_files() == []


def test_a_file_over_the_size_limit_is_cut_off_while_it_streams(merchant, refund, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    response = upload(merchant, refund.public_id, ("big.png", PNG + b"\x00" * 2048))
    assert response.status_code == 400, response.json()
    assert "larger than" in response.json()["message"]
    assert not EvidenceFile.objects.exists()


def test_the_count_limit_counts_the_files_the_refund_already_has(merchant, refund, settings):
    settings.EVIDENCE_MAX_FILES = 3
    assert upload(merchant, refund.public_id, ("a.png", PNG), ("b.png", PNG), key="1").status_code == 201

    refused = upload(merchant, refund.public_id, ("c.png", PNG), ("d.pdf", PDF), key="2")

    assert refused.status_code == 400 and "it has 2 already" in refused.json()["message"]
    assert EvidenceFile.objects.count() == 2 and len(stored_files()) == 2
    assert upload(merchant, refund.public_id, ("c.png", PNG), key="3").status_code == 201


def test_no_file_part_is_400(merchant, refund):
    response = merchant.post(
        f"/v1/refunds/{refund.public_id}/evidence", {"note": "x"}, format="multipart", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400 and "file" in response.json()["details"]["fields"]


def test_a_json_body_is_refused_saying_what_to_send(merchant, refund):
    response = merchant.post(
        f"/v1/refunds/{refund.public_id}/evidence", {"file": []}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400 and "multipart/form-data" in response.json()["message"]


# --- idempotency ----------------------------------------------------------------------


def test_a_retried_upload_attaches_once(merchant, refund):
    first = upload(merchant, refund.public_id, ("lid.png", PNG), key="same")
    again = upload(merchant, refund.public_id, ("lid.png", PNG), key="same")

    assert again.status_code == 201 and again["Idempotency-Status"] == "replayed"
    assert again.json() == first.json()
    assert EvidenceFile.objects.count() == 1 and len(stored_files()) == 1


def test_the_same_key_with_other_files_conflicts(merchant, refund):
    upload(merchant, refund.public_id, ("lid.png", PNG), key="same")
    other = upload(merchant, refund.public_id, ("receipt.pdf", PDF), key="same")
    assert other.status_code == 409 and other.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
    assert EvidenceFile.objects.count() == 1


def test_the_key_is_required(merchant, refund):
    response = upload(merchant, refund.public_id, ("lid.png", PNG), key=None)
    assert response.status_code == 400 and response.json()["code"] == ERR_IDEMPOTENCY_KEY_MISSING
    assert not EvidenceFile.objects.exists()


def test_needs_the_create_scope(client_for, refund):
    reader = client_for("reader", scopes=["refunds:read"])
    assert upload(reader, refund.public_id, ("lid.png", PNG)).status_code == 403


def test_an_upload_larger_than_a_json_body_may_be_is_let_through_to_the_evidence_rules(merchant, refund, settings):
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB), under EVIDENCE_MAX_BYTES (5 MiB): the view's own limit applies.
    photo = PNG + b"\x03" * (3 * 1024 * 1024)
    response = upload(merchant, refund.public_id, ("big.png", photo))
    assert response.status_code == 201, response.json()
    assert evidence_read(evidence=EvidenceFile.objects.get()) == photo
