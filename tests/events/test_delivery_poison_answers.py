"""Attack: an answer (or a merchant's URL) that the delivery engine can neither record nor send.

What should happen: every attempt is recorded (status, excerpt, error) and its delivery is delivered,
backed off or failed. What happens: the attempt's INSERT fails (PostgreSQL text cannot hold NUL) or the
request line cannot be encoded; the task ends in an exception, nothing is recorded, the delivery stays
pending and due, and every sweep sends it again — forever, without backoff, never failed, the endpoint
never disabled, and always first in its endpoint's queue (oldest `next_attempt_at`).

The fix: events.transport replaces what PostgreSQL cannot store in every received string and turns
any exception of a send into a failed attempt; events.ssrf refuses a non-ASCII URL at registration;
events.delivery backs a delivery off even when its attempt cannot be recorded.
"""

from __future__ import annotations

import gzip

import pytest
from django.db import DataError
from django.utils import timezone

from core.errors import ERR_VALIDATION, DomainError
from events import delivery as engine
from events import transport
from events.delivery import deliver_endpoint
from events.enums import DeliveryStatus
from events.models import WebhookAttempt
from events.services.endpoints import endpoint_create
from refunds.services.merchants import merchant_default
from tests.events.webhook_setup import endpoint_at, make_due, pending, refund_with_events
from tests.support.raw_http_server import RawServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60


def _deliver_once(url: str):
    endpoint, _ = endpoint_at(url)
    endpoint.events = ["refund.created"]
    endpoint.save(update_fields=["events"])
    refund_with_events()
    (delivery,) = pending(endpoint)
    outcome = deliver_endpoint(endpoint.pk)
    delivery.refresh_from_db()
    return endpoint, delivery, outcome


def test_a_gzip_encoded_2xx_is_delivered_once_not_resent_forever() -> None:
    # A real receiver behind a proxy that compresses: the raw gzip bytes hold NUL (we never decode them).
    body = gzip.compress(b'{"received": true}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    with RawServer(answer + body) as server:
        endpoint, delivery, outcome = _deliver_once(server.url())
        assert outcome == "sent", outcome
        assert delivery.status == DeliveryStatus.DELIVERED
        assert WebhookAttempt.objects.filter(delivery=delivery, succeeded=True).count() == 1
        make_due(endpoint)
        deliver_endpoint(endpoint.pk)  # what the next sweep does
        assert len(server.requests) == 1


def test_a_status_line_with_a_nul_byte_is_recorded_as_a_failed_attempt() -> None:
    with RawServer(b"\x00\x01 not http\r\n\r\n") as server:
        _, delivery, outcome = _deliver_once(server.url())
        assert outcome == "sent", outcome
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_redirect_whose_location_holds_a_nul_byte_is_recorded_as_a_failed_attempt() -> None:
    answer = (
        b"HTTP/1.1 302 Found\r\nLocation: https://example.com/\x00x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with RawServer(answer) as server:
        _, delivery, outcome = _deliver_once(server.url())
        assert outcome == "sent", outcome
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert WebhookAttempt.objects.get(delivery=delivery).status_code == 302


def test_a_url_with_a_non_ascii_path_is_refused_at_registration(system_actor) -> None:
    with pytest.raises(DomainError) as refused:
        endpoint_create(
            merchant=merchant_default(),
            url="http://127.0.0.1:9/hooks/caf\u00e9",
            events=["refund.*"],
            actor=system_actor,
        )
    assert refused.value.code == ERR_VALIDATION and "percent-encode" in refused.value.message


def test_a_non_ascii_url_stored_before_the_rule_ends_in_a_recorded_attempt() -> None:
    with RawServer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n") as server:
        _, delivery, outcome = _deliver_once(server.url("/hooks/caf\u00e9"))
        assert outcome == "sent", outcome
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.next_attempt_at > timezone.now()  # backed off, not due again at once
        assert server.requests == []
        assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("refused:")


def test_any_exception_of_a_send_is_a_recorded_failed_attempt(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("a surprise \x00 from a library")

    monkeypatch.setattr(transport, "_connection", broken)
    with RawServer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n") as server:
        _, delivery, outcome = _deliver_once(server.url())
    assert outcome == "sent", outcome
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.error == "error: RuntimeError: a surprise \ufffd from a library"
    assert not attempt.succeeded


def test_an_attempt_the_database_refuses_still_backs_its_delivery_off(monkeypatch) -> None:
    def refused(**kwargs):
        raise DataError("value too long for type character varying(300)")

    monkeypatch.setattr(engine, "attempt_record", refused)
    with RawServer(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") as server:
        endpoint, delivery, outcome = _deliver_once(server.url())
        assert outcome == "sent", outcome
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert delivery.next_attempt_at > timezone.now()
        assert delivery.last_error == "attempt not recorded: DataError"
        assert deliver_endpoint(endpoint.pk) == "idle"  # not due: no hot loop
        assert len(server.requests) == 1
