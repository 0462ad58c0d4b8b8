"""Evidence is served only to signed-in staff, decrypted, and always as a download."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.actor import Actor
from refunds.enums import Reason, Role
from refunds.services.evidence import evidence_validate, refund_request_with_evidence
from tests.refunds.factories import UserFactory, captured_order

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture
def refund_with_pdf():
    uploads = evidence_validate(files=[SimpleUploadedFile("receipt (1).pdf", PDF)])
    return refund_request_with_evidence(
        order=captured_order(amount_minor=10000),
        amount_minor=3000,
        currency="USD",
        reason=Reason.QUALITY,
        actor=Actor.for_user(UserFactory(username="caller")),
        uploads=uploads,
    )


def url(refund, evidence_id) -> str:
    return f"/console/refunds/{refund.public_id}/evidence/{evidence_id}/"


def test_agent_downloads_the_decrypted_file_as_an_attachment(agent_client, refund_with_pdf):
    evidence = refund_with_pdf.evidence_files.get()
    response = agent_client.get(url(refund_with_pdf, evidence.pk))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "receipt (1).pdf" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_card_links_the_evidence_file(agent_client, refund_with_pdf):
    evidence = refund_with_pdf.evidence_files.get()
    html = agent_client.get(f"/console/refunds/{refund_with_pdf.public_id}/").content.decode()
    assert url(refund_with_pdf, evidence.pk) in html and "receipt (1).pdf" in html


def test_anonymous_and_roleless_users_cannot_download_evidence(login, refund_with_pdf):
    evidence = refund_with_pdf.evidence_files.get()
    assert Client().get(url(refund_with_pdf, evidence.pk)).status_code == 302
    assert login("nobody", role=None).get(url(refund_with_pdf, evidence.pk)).status_code == 403


def test_evidence_is_only_reachable_through_its_own_refund(login, refund_with_pdf):
    evidence = refund_with_pdf.evidence_files.get()
    other = refund_with_pdf.order.refunds.exclude(pk=refund_with_pdf.pk).first()
    assert other is None
    response = login("agent", Role.AGENT).get(f"/console/refunds/rf_other/evidence/{evidence.pk}/")
    assert response.status_code == 404


def test_a_file_missing_from_storage_is_reported_on_the_card(agent_client, refund_with_pdf, settings):
    from pathlib import Path

    evidence = refund_with_pdf.evidence_files.get()
    (Path(settings.MEDIA_ROOT) / "evidence" / evidence.stored_name).unlink()
    response = agent_client.get(url(refund_with_pdf, evidence.pk), follow=True)
    assert "missing from storage" in response.content.decode()
