"""Evidence files: accepted by content, limited in size and count, encrypted at rest, all or nothing."""

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.actor import Actor
from core.errors import ERR_EXCEEDS_REMAINING, ERR_VALIDATION, DomainError
from refunds.enums import Reason
from refunds.models import EvidenceFile, Refund
from refunds.services.evidence import evidence_read, evidence_validate, refund_request_with_evidence
from tests.refunds.factories import UserFactory, captured_order

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 100
PDF = b"%PDF-1.4\n" + b"\x03" * 100


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def refused(files: list) -> str:
    with pytest.raises(DomainError) as error:
        evidence_validate(files=files)
    assert error.value.code == ERR_VALIDATION and error.value.details["field"] == "evidence"
    return error.value.message


def stored_files(settings) -> list[Path]:
    directory = Path(settings.MEDIA_ROOT) / "evidence"
    return sorted(directory.iterdir()) if directory.exists() else []


# --- validation ---------------------------------------------------------------------------


def test_jpeg_png_and_pdf_are_recognised_by_their_content():
    uploads = evidence_validate(
        files=[upload("a.JPG", JPEG, "text/plain"), upload("b.png", PNG), upload("c.pdf", PDF, "image/png")]
    )
    assert [u.content_type for u in uploads] == ["image/jpeg", "image/png", "application/pdf"]


def test_a_file_named_like_an_image_but_with_other_content_is_refused():
    assert refused([upload("photo.png", b"<svg onload=alert(1)>", "image/png")]) == (
        "photo.png is not a JPEG, PNG or PDF file."
    )


def test_content_and_name_must_agree():
    assert "does not match its content" in refused([upload("scan.png", PDF, "image/png")])


def test_files_over_the_size_limit_are_refused(settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    assert evidence_validate(files=[upload("ok.png", PNG)])
    assert "larger than" in refused([upload("big.png", PNG + b"\x00" * 1024)])


def test_at_most_the_configured_number_of_files(settings):
    settings.EVIDENCE_MAX_FILES = 2
    assert refused([upload(f"{n}.png", PNG) for n in range(3)]) == "At most 2 evidence files can be attached."


def test_empty_files_are_refused():
    assert refused([upload("empty.pdf", b"")]) == "empty.pdf is empty."


def test_path_parts_and_control_characters_are_removed_from_names():
    [clean] = evidence_validate(files=[upload("../../etc/\x00evil\r\n.png", PNG)])
    assert clean.name == "evil.png"


# --- storage ---------------------------------------------------------------------------------


def make(uploads, amount_minor=3000, reason=Reason.QUALITY, order=None) -> Refund:
    return refund_request_with_evidence(
        order=order or captured_order(amount_minor=10000),
        amount_minor=amount_minor,
        currency="USD",
        reason=reason,
        actor=Actor.for_user(UserFactory(username="caller")),
        uploads=uploads,
    )


@pytest.mark.django_db
def test_files_are_encrypted_at_rest_and_read_back_exactly(settings):
    refund = make(evidence_validate(files=[upload("receipt.pdf", PDF)]))
    evidence = EvidenceFile.objects.get(refund=refund)
    [path] = stored_files(settings)
    assert path.name == evidence.stored_name and "receipt" not in path.name
    assert PDF not in path.read_bytes() and b"%PDF" not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0  # readable by the app's user only
    assert evidence_read(evidence=evidence) == PDF
    assert evidence.uploaded_by.username == "caller"


@pytest.mark.django_db
def test_the_evidence_rule_sees_the_attached_files():
    with_files = make(evidence_validate(files=[upload("crack.jpg", JPEG)]))
    without = make([])
    assert with_files.policy_rule != "R-EVIDENCE-QUALITY"
    assert without.policy_rule == "R-EVIDENCE-QUALITY"


@pytest.mark.django_db
def test_attaching_is_audited_with_names_sizes_and_checksums():
    refund = make(evidence_validate(files=[upload("a.png", PNG)]))
    event = AuditEvent.objects.get(refund=refund, action="refund.evidence_attached")
    assert event.after["files"][0]["name"] == "a.png" and event.after["files"][0]["bytes"] == len(PNG)
    assert event.actor_label == "caller"


@pytest.mark.django_db
def test_a_refused_refund_leaves_no_file_and_no_row(settings):
    uploads = evidence_validate(files=[upload("a.png", PNG)])
    with pytest.raises(DomainError) as error:
        make(uploads, amount_minor=20000)
    assert error.value.code == ERR_EXCEEDS_REMAINING
    assert stored_files(settings) == [] and not EvidenceFile.objects.exists() and not Refund.objects.exists()


@pytest.mark.django_db
def test_a_failure_while_storing_removes_the_files_already_written(settings, monkeypatch):
    from refunds.services import evidence as module

    real_write = module._write_encrypted
    calls = []

    def write_then_fail(data: bytes) -> str:
        calls.append(data)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_write(data)

    monkeypatch.setattr(module, "_write_encrypted", write_then_fail)
    with pytest.raises(OSError):
        make(evidence_validate(files=[upload("a.png", PNG), upload("b.png", PNG)]))
    assert stored_files(settings) == [] and not Refund.objects.exists()


@pytest.mark.django_db
def test_a_configured_key_is_used_and_old_keys_still_decrypt_after_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.EVIDENCE_ENCRYPTION_KEY = old
    refund = make(evidence_validate(files=[upload("a.png", PNG)]))
    evidence = EvidenceFile.objects.get(refund=refund)
    [path] = stored_files(settings)
    assert Fernet(old.encode()).decrypt(path.read_bytes()) == PNG
    settings.EVIDENCE_ENCRYPTION_KEY = f"{new},{old}"
    assert evidence_read(evidence=evidence) == PNG
    settings.EVIDENCE_ENCRYPTION_KEY = new
    with pytest.raises(DomainError, match="cannot be decrypted"):
        evidence_read(evidence=evidence)


@pytest.mark.django_db
def test_a_tampered_file_is_detected(settings):
    refund = make(evidence_validate(files=[upload("a.png", PNG)]))
    evidence = EvidenceFile.objects.get(refund=refund)
    [path] = stored_files(settings)
    token = bytearray(path.read_bytes())
    token[-5] ^= 0x01
    path.write_bytes(bytes(token))
    with pytest.raises(DomainError, match="cannot be decrypted"):
        evidence_read(evidence=evidence)
