"""Creating a refund on a customer's behalf: same services and policy as the API, with evidence."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from console.views import create as create_view
from core.actor import Actor
from core.errors import CATALOG, ERR_EXCEEDS_REMAINING, ERR_NOT_CAPTURED
from refunds.enums import PaymentStatus, Reason, RefundState, Role
from refunds.models import EvidenceFile, Refund
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def create_url(order) -> str:
    return f"/console/refunds/new/?order={order.order_id}"


def test_order_lookup_shows_the_remaining_refundable_and_defaults_the_amount_to_it(agent_client):
    order = captured_order(amount_minor=12000)
    html = agent_client.get(create_url(order)).content.decode()
    assert "120.00 USD" in html
    assert 'name="amount" value="120.00"' in html


def test_an_unknown_order_is_reported_on_the_lookup_field(agent_client):
    response = agent_client.get("/console/refunds/new/?order=NOPE-1")
    assert response.status_code == 404
    assert "No order with id “NOPE-1”" in response.content.decode()


def test_agent_creates_a_refund_that_the_policy_decides_like_any_other(agent_client):
    order = captured_order(amount_minor=12000)
    response = agent_client.post(
        create_url(order), {"amount": "20.00", "reason": Reason.OTHER, "customer_note": "Called in"}
    )
    refund = Refund.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == f"/console/refunds/{refund.public_id}/"
    assert (refund.amount_minor, refund.requested_by, refund.customer_note) == (2000, agent_client.user, "Called in")
    # Same policy as the API: small 'other' refunds are approved automatically.
    assert refund.state == RefundState.APPROVED and refund.policy_rule == "R-AUTO-OTHER"


def test_evidence_is_stored_encrypted_and_satisfies_the_evidence_rule(agent_client, settings):
    order = captured_order(amount_minor=12000)
    photo = SimpleUploadedFile("cracked.png", PNG, content_type="image/png")
    agent_client.post(create_url(order), {"amount": "30.00", "reason": Reason.QUALITY, "evidence": [photo]})
    refund = Refund.objects.get(order=order)
    assert refund.policy_rule != "R-EVIDENCE-QUALITY"
    stored = EvidenceFile.objects.get(refund=refund)
    assert refund.evidence == [{"type": "file", "file_id": stored.pk}]  # the API's shape for a file
    assert (stored.original_name, stored.content_type, stored.size_bytes) == ("cracked.png", "image/png", len(PNG))
    on_disk = (Path(settings.MEDIA_ROOT) / "evidence" / stored.stored_name).read_bytes()
    assert PNG not in on_disk
    assert AuditEvent.objects.filter(refund=refund, action="refund.evidence_attached").exists()


def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_created(agent_client, settings):
    order = captured_order(amount_minor=12000)
    fake = SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = agent_client.post(create_url(order), {"amount": "30.00", "reason": Reason.QUALITY, "evidence": [fake]})
    assert response.status_code == 400
    assert "invoice.pdf is not a JPEG, PNG or PDF file." in response.content.decode()
    assert not Refund.objects.filter(order=order).exists()
    assert not (Path(settings.MEDIA_ROOT) / "evidence").exists() or not any(
        (Path(settings.MEDIA_ROOT) / "evidence").iterdir()
    )


def test_more_than_the_remaining_refundable_is_refused_on_the_amount_field(agent_client, settings):
    order = captured_order(amount_minor=12000)
    photo = SimpleUploadedFile("a.png", PNG, content_type="image/png")
    response = agent_client.post(create_url(order), {"amount": "120.01", "reason": Reason.QUALITY, "evidence": [photo]})
    assert response.status_code == 400
    assert str(CATALOG[ERR_EXCEEDS_REMAINING][2]) in response.content.decode()
    assert not Refund.objects.exists()
    # The refusal came after the file was validated: no file may be left behind.
    evidence_dir = Path(settings.MEDIA_ROOT) / "evidence"
    assert not evidence_dir.exists() or not any(evidence_dir.iterdir())


def test_a_payment_that_is_not_captured_is_refused_with_the_api_message(agent_client):
    order = captured_order(amount_minor=12000, status=PaymentStatus.CAPTURE_PENDING)
    response = agent_client.post(create_url(order), {"amount": "10.00", "reason": Reason.OTHER})
    assert response.status_code == 402
    assert str(CATALOG[ERR_NOT_CAPTURED][2]) in response.content.decode()


def test_amounts_follow_the_currency_minor_unit(agent_client):
    order = captured_order(amount_minor=5000, currency="JPY")
    assert 'value="5000"' in agent_client.get(create_url(order)).content.decode()
    response = agent_client.post(create_url(order), {"amount": "10.5", "reason": Reason.OTHER})
    assert response.status_code == 400
    assert "JPY amounts have 0 decimal places at most." in response.content.decode()
    agent_client.post(create_url(order), {"amount": "1000", "reason": Reason.OTHER})
    assert Refund.objects.get(order=order).amount_minor == 1000


def test_a_role_without_the_request_permission_cannot_create_refunds(login):
    order = captured_order()
    client = login("fin", Role.FINANCE)
    assert client.get(create_url(order)).status_code == 403
    assert client.post(create_url(order), {"amount": "1.00", "reason": Reason.OTHER}).status_code == 403
    assert not Refund.objects.exists()


def test_create_needs_the_csrf_token(login):
    order = captured_order()
    client = login("agent", Role.AGENT, enforce_csrf_checks=True)
    assert client.post(create_url(order), {"amount": "1.00", "reason": Reason.OTHER}).status_code == 403
    assert not Refund.objects.exists()


def submission_token(client, order) -> str:
    form = client.get(create_url(order)).context["form"]
    token = form.initial["submission"]
    assert len(token) == 32
    return token


def test_the_same_form_sent_twice_creates_one_refund(agent_client):
    order = captured_order(amount_minor=12000)
    data = {"amount": "20.00", "reason": Reason.OTHER, "submission": submission_token(agent_client, order)}
    first = agent_client.post(create_url(order), data)
    again = agent_client.post(create_url(order), data)  # a double click, or "resend" after a timeout
    refund = Refund.objects.get(order=order)
    assert first["Location"] == again["Location"] == f"/console/refunds/{refund.public_id}/"
    assert "nothing new was created" in agent_client.get(again["Location"]).content.decode()
    # A fresh form is a new request: that one creates a second refund.
    agent_client.post(create_url(order), {**data, "submission": submission_token(agent_client, order)})
    assert Refund.objects.filter(order=order).count() == 2


def test_a_copy_of_the_form_racing_the_first_lands_on_the_refund_the_first_made(agent_client, monkeypatch):
    order = captured_order(amount_minor=12000)
    token = submission_token(agent_client, order)
    real_validate = create_view.evidence_validate

    def first_copy_commits_meanwhile(*, files):
        # Another web process handled the same POST and committed between our check and our insert.
        make_refund(order=order, amount_minor=2000, actor=Actor.for_user(agent_client.user), request_token=token)
        return real_validate(files=files)

    monkeypatch.setattr(create_view, "evidence_validate", first_copy_commits_meanwhile)
    response = agent_client.post(create_url(order), {"amount": "20.00", "reason": Reason.OTHER, "submission": token})
    refund = Refund.objects.get(order=order)  # the unique token refused the second insert
    assert response["Location"] == f"/console/refunds/{refund.public_id}/"
    assert "nothing new was created" in agent_client.get(response["Location"]).content.decode()


def test_another_agent_reusing_a_token_gets_a_refund_of_their_own(agent_client, login):
    order = captured_order(amount_minor=12000)
    token = submission_token(agent_client, order)
    agent_client.post(create_url(order), {"amount": "20.00", "reason": Reason.OTHER, "submission": token})
    other = login("other-agent", Role.AGENT)
    other.post(create_url(order), {"amount": "10.00", "reason": Reason.OTHER, "submission": token})
    assert Refund.objects.filter(order=order).count() == 2


def test_a_refused_form_can_be_corrected_and_sent_again(agent_client):
    order = captured_order(amount_minor=12000)
    token = submission_token(agent_client, order)
    refused = agent_client.post(create_url(order), {"amount": "500.00", "reason": Reason.OTHER, "submission": token})
    assert refused.status_code == 400
    assert f'value="{token}"' in refused.content.decode()  # the form comes back with its token
    agent_client.post(create_url(order), {"amount": "50.00", "reason": Reason.OTHER, "submission": token})
    assert Refund.objects.get(order=order).amount_minor == 5000


def test_an_order_with_nothing_left_to_refund_says_so(agent_client):
    order = captured_order(amount_minor=12000)
    agent_client.post(create_url(order), {"amount": "120.00", "reason": Reason.OTHER})
    html = agent_client.get(create_url(order)).content.decode()
    assert "Nothing is left to refund on this order" in html
