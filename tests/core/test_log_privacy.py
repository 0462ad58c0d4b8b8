"""No log line names a customer: not their email address, not their name (issue 10, item 15).

A refund's whole journey runs in this process — the merchant pushes the
order, asks for the refund, an agent searches the queue by the customer's
address and approves, the customer email is sent through a backend that
refuses it, a database error on the customer row is logged — while every
record any logger emits is captured and formatted exactly as production
prints it (core.logging.JsonFormatter), at the most verbose LOG_LEVEL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from rest_framework.test import APIClient

from core.logging import CorrelationIdFilter, JsonFormatter
from notifications.models import CustomerEmail
from notifications.outbox import deliver_email
from refunds.enums import Role
from refunds.models import Customer, Refund
from tests.api.conftest import create
from tests.refunds.factories import UserFactory, api_key, captured_yesterday

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Zephyrine Quackenbush"
EMAIL = "zephyrine.quackenbush@example.net"
ORDER = {
    "order_id": "PRIV-1",
    "currency": "USD",
    "customer": {"id": "cust-priv-1", "email": EMAIL, "name": NAME, "locale": "en"},
    "lines": [{"sku": "X", "unit_amount_minor": 9000, "tax_minor": 1000}],
    "payment": {
        "provider_payment_id": "pi_sim_ok_priv1",
        "rail": "card",
        "amount_minor": 10000,
        "status": "captured",
        "captured_at": captured_yesterday(),
    },
}


class RecipientRefused(Exception):
    """What an HTTP email service's Django backend raises: not an SMTPException, and it names the address."""


class RefusingBackend:
    def __init__(self, **kwargs) -> None:
        pass

    def send_messages(self, messages) -> int:
        raise RecipientRefused(f"Recipient address rejected: {', '.join(messages[0].to)} (hard bounce)")


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(CorrelationIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every line any logger prints, formatted as in production, with the root logger at DEBUG."""
    root = logging.getLogger()
    handler, level = Captured(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def leaks(lines: list[str]) -> list[str]:
    needles = [EMAIL, EMAIL.split("@")[0], NAME, *NAME.split()]
    return [line for line in lines if any(needle.lower() in line.lower() for needle in needles)]


def test_a_refund_journey_never_logs_the_customers_email_or_name(log_lines, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    merchant = APIClient()
    merchant.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key('privacy-merchant', None, None)}")
    assert merchant.post("/v1/orders", ORDER, format="json").status_code == 201
    refund_id = create(merchant, "PRIV-1", amount_minor=2500, reason="goodwill").json()["refund_id"]
    refund = Refund.objects.get(public_id=refund_id)

    console = Client()
    console.force_login(UserFactory(username="privacy-agent", role=Role.AGENT))
    assert console.get("/console/", {"q": EMAIL}).status_code == 200
    assert console.get(f"/console/refunds/{refund_id}/").status_code == 200
    # The approve form carries the version the card showed (ERR.CONFLICT.changed otherwise).
    refund.refresh_from_db()
    approve = {"note": "", "version": refund.version}
    assert console.post(f"/console/refunds/{refund_id}/approve/", approve).status_code in {200, 302}

    # The email task as a worker runs it; the backend's refusal carries the address.
    email = CustomerEmail.objects.get(refund=refund, message_id="refund.approved")
    deliver_email.apply(kwargs={"email_id": email.pk})

    assert Customer.objects.filter(email=EMAIL, name=NAME).exists()  # the journey really had the customer
    assert any("MSG.notification.failed" in line for line in log_lines)  # and really logged its steps
    assert leaks(log_lines) == []


INSERT_CUSTOMER = "INSERT INTO refunds_customer (external_id, email, name, locale, created_at) VALUES "


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        # PostgreSQL repeats the whole refused row ("Failing row contains (…)")…
        (
            INSERT_CUSTOMER + "(%s, %s, %s, NULL, now())",
            ["cust-priv-2", EMAIL, NAME],
        ),
        # …or the key ("Key (external_id)=(…) already exists"): merchants often use the address as customer id.
        (
            INSERT_CUSTOMER + "(%s, '', '', 'en', now()), (%s, '', '', 'en', now())",
            [EMAIL, EMAIL],
        ),
    ],
)
def test_a_database_error_on_a_customer_row_is_logged_without_its_values(log_lines, statement, params):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        try:
            cursor.execute(statement, params)
        except IntegrityError:
            # What django.request (a 500) and Celery (a failed task) log: the message and the traceback.
            logging.getLogger("django.request").exception("Internal Server Error: /v1/orders")
            raise
    [line] = [line for line in log_lines if "Internal Server Error" in line]
    assert "DETAIL" in line and "[redacted]" in line  # PostgreSQL's detail is kept, its values are not
    assert leaks(log_lines) == []
