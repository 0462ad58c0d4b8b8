"""The order page and the request: lines left, choices the policy allows, one refund per form, the answer."""

from __future__ import annotations

import copy
import re
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from notifications.models import CustomerEmail
from portal.models import PortalSubmission
from refunds.enums import ActorType, Reason, RefundState
from refunds.models import EvidenceFile, OrderLine, Refund
from refunds.services.lines import LineRequest
from refunds.services.policy import policy_get_active
from tests.portal.conftest import shop_order, verified_client
from tests.refunds.factories import make_refund

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _token(page: str) -> str:
    return re.search(r'name="submission" value="([0-9a-f]+)"', page).group(1)


def _form(client, **fields) -> dict:
    page = client.get("/request/order/").content.decode()
    return {"submission": _token(page), "reason": Reason.NOT_RECEIVED, "note": "", **fields}


def test_the_order_page_lists_each_line_with_what_is_left():
    order = shop_order()
    make_refund(order=order, lines=[LineRequest(sku="MUG", quantity=1)], amount_minor=None)
    page = verified_client().get("/request/order/").content.decode()
    assert "1 of 2 left" in page and "$24.00" in page  # one mug left: 20.00 + 4.00 tax
    assert "1 of 1 left" in page and "$12.00" in page
    assert 'max="1"' in page


def test_goodwill_is_not_a_reason_customers_pick():
    shop_order()
    page = verified_client().get("/request/order/").content.decode()
    assert 'value="goodwill"' not in page and 'value="not_received"' in page


def test_a_request_by_line_with_a_photo_is_made_by_the_customer_with_its_evidence():
    order = shop_order()
    client = verified_client()
    photo = SimpleUploadedFile("parcel.jpg", JPEG, content_type="image/jpeg")
    response = client.post("/request/order/", _form(client, qty_1="1", reason=Reason.QUALITY, evidence=[photo]))
    assert response.status_code == 302, response.content.decode()[:2000]
    refund = Refund.objects.get()
    assert response.url == f"/request/done/{refund.public_id}/"
    assert refund.order == order and refund.amount_minor == 2400
    assert [(line.order_line.sku, line.quantity) for line in refund.lines.all()] == [("MUG", 1)]
    assert refund.requested_via == ActorType.CUSTOMER and refund.requested_by is None
    assert EvidenceFile.objects.filter(refund=refund).count() == 1
    assert OrderLine.objects.get(order=order, sku="MUG").refunded_quantity == 1


def test_the_answer_of_a_reviewed_request_says_when_to_expect_it_and_links_the_status(settings):
    settings.REFUND_DECISION_SLA_HOURS = 24
    shop_order()
    client = verified_client()
    # Quality without evidence goes to review (the default policy asks for evidence).
    response = client.post("/request/order/", _form(client, qty_2="1", reason=Reason.QUALITY))
    refund = Refund.objects.get()
    assert refund.state == RefundState.REQUESTED
    page = client.get(response.url).content.decode()
    assert "within 24 hours" in page
    assert refund.status_url in page
    # The confirmation email is the one every request gets (notifications: refund.request.accepted).
    assert CustomerEmail.objects.filter(refund=refund, message_id="refund.request.accepted").exists()


def test_an_auto_approved_request_shows_the_answer_at_once():
    shop_order()
    client = verified_client()
    response = client.post("/request/order/", _form(client, qty_2="1", reason=Reason.NOT_RECEIVED))
    refund = Refund.objects.get()
    page = client.get(response.url).content.decode()
    assert refund.state == RefundState.APPROVED, refund.policy_rule
    assert "Your refund has been approved" in page and "within" not in page


def test_a_form_sent_twice_creates_one_refund():
    shop_order()
    client = verified_client()
    form = _form(client, qty_2="1")
    first = client.post("/request/order/", form)
    second = client.post("/request/order/", form)
    assert Refund.objects.count() == 1
    assert first.url == second.url


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_form_racing_create_one_refund():
    shop_order()
    client = verified_client()
    form = _form(client, qty_2="1")
    barrier, answers = threading.Barrier(2), []
    # Two tabs of one browser: the same cookies, each its own client (a test Client is not thread-safe).
    tabs = [Client() for _ in range(2)]
    for tab in tabs:
        tab.cookies = copy.deepcopy(client.cookies)

    def send(tab: Client) -> None:
        try:
            barrier.wait()
            answers.append(tab.post("/request/order/", form))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(tab,)) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Refund.objects.count() == 1 and PortalSubmission.objects.count() == 1
    assert {a.status_code for a in answers} == {302} and len({a.url for a in answers}) == 1


def test_more_than_is_left_is_refused_and_nothing_is_created():
    order = shop_order()
    make_refund(order=order, lines=[LineRequest(sku="POSTER", quantity=1)], amount_minor=None)
    client = verified_client()
    page = client.get("/request/order/").content.decode()
    assert "qty_2" not in page and "Nothing left to refund" in page
    response = client.post("/request/order/", {"submission": _token(page), "reason": "other", "qty_1": "3"})
    assert response.status_code == 400
    assert Refund.objects.count() == 1


def test_choosing_nothing_is_refused():
    shop_order()
    client = verified_client()
    response = client.post("/request/order/", _form(client))
    assert response.status_code == 400 and "Choose at least one item" in response.content.decode()


def test_a_file_that_is_not_a_photo_or_pdf_is_refused_and_nothing_is_stored():
    shop_order()
    client = verified_client()
    fake = SimpleUploadedFile("parcel.jpg", b"MZ\x90\x00not an image", content_type="image/jpeg")
    response = client.post("/request/order/", _form(client, qty_2="1", evidence=[fake]))
    assert response.status_code == 400 and "could not be accepted" in response.content.decode()
    assert Refund.objects.count() == 0 and EvidenceFile.objects.count() == 0


def test_store_credit_is_offered_only_when_the_policy_allows_it():
    shop_order()
    client = verified_client()
    assert 'value="store_credit"' not in client.get("/request/order/").content.decode()
    policy = policy_get_active()
    policy.store_credit_enabled = True
    policy.save()
    assert 'value="store_credit"' in client.get("/request/order/").content.decode()


def test_an_authorized_payment_says_the_hold_is_released_whole():
    shop_order(status="authorized")
    page = verified_client().get("/request/order/").content.decode()
    assert "only been authorized" in page and "qty_1" not in page
    assert "Cancel and release the hold" in page


def test_an_order_with_nothing_left_says_so_and_takes_no_request():
    order = shop_order()
    make_refund(order=order, amount_minor=6000)
    client = verified_client()
    page = client.get("/request/order/").content.decode()
    assert "already been refunded" in page and '<form method="post" action="/request/order/"' not in page
    assert client.post("/request/order/", {"reason": "other", "qty_1": "1"}).status_code == 409


def test_a_charged_back_payment_cannot_be_refunded_online():
    shop_order(status="charged_back")
    page = verified_client().get("/request/order/").content.decode()
    assert "cannot be refunded online" in page


@pytest.mark.parametrize(("language", "text"), [("de", "bis zu 5 Dateien"), ("ar", "حتى 5 ملفات")])
def test_the_order_page_speaks_the_browsers_language_down_to_the_help_texts(language, text):
    shop_order()
    client = verified_client()
    page = client.get("/request/order/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'lang="{language}"' in page and text in page
    # The switch wins over the browser, and is remembered for the visit.
    client.get("/request/order/?lang=en", HTTP_ACCEPT_LANGUAGE=language)
    assert 'lang="en"' in client.get("/request/order/", HTTP_ACCEPT_LANGUAGE=language).content.decode()


def test_a_service_order_offers_time_not_used_when_the_policy_allows_it():
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    order = shop_order(service_starts_at=now - timedelta(days=2), service_ends_at=now + timedelta(days=8))
    client = verified_client()
    assert 'value="prorate"' not in client.get("/request/order/").content.decode()
    policy = policy_get_active()
    policy.proration_enabled = True
    policy.save()
    response = client.post("/request/order/", _form(client, mode="prorate", reason=Reason.NOT_RECEIVED))
    assert response.status_code == 302, response.content.decode()[:3000]
    refund = Refund.objects.get(order=order)
    assert refund.proration is not None and refund.proration["unused_days"] > 0
    assert refund.lines.count() == 0


def test_store_credit_chosen_is_the_refunds_instrument():
    shop_order()
    policy = policy_get_active()
    policy.store_credit_enabled = True
    policy.save()
    client = verified_client()
    response = client.post("/request/order/", _form(client, qty_2="1", instrument="store_credit"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Refund.objects.get().instrument == "store_credit"
