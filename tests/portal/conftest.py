from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from portal.codes import access_code_send
from portal.models import AccessCode
from refunds.models import Order
from tests.refunds.factories import CustomerFactory, OrderFactory, OrderLineFactory, PaymentFactory
from tests.support.customer_states import compile_catalogues

EMAIL = "Jane.Doe@Example.com"


@pytest.fixture(scope="session", autouse=True)
def _catalogues() -> None:
    compile_catalogues()


def shop_order(
    *, order_id: str = "1002", email: str = EMAIL, merchant=None, status: str = "captured", **order
) -> Order:
    """An order of two lines (2 × mugs at 20.00 + 4.00 tax, 1 × poster at 10.00 + 2.00 tax), paid 56.00."""
    extra = {"merchant": merchant} if merchant is not None else {}
    customer = CustomerFactory(email=email, **extra)
    order = OrderFactory(order_id=order_id, customer=customer, merchant=customer.merchant, **order)
    OrderLineFactory(order=order, line_no=1, sku="MUG", description="Blue mug", unit_amount_minor=2000, quantity=2,
                     tax_minor=800)  # fmt: skip
    OrderLineFactory(order=order, line_no=2, sku="POSTER", description="Poster", unit_amount_minor=1000, quantity=1,
                     tax_minor=200)  # fmt: skip
    PaymentFactory(order=order, amount_minor=6000, status=status)
    return order


def send_pending_codes() -> None:
    """What the email task does for every code waiting for its email (tests run it in-process)."""
    for code_id in AccessCode.objects.filter(sent_at__isnull=True).exclude(code_sealed="").values_list("pk", flat=True):
        access_code_send(code_id=code_id)


def code_from_mail(index: int = -1) -> str:
    return re.search(r"^\s+(\d{6})\s*$", mail.outbox[index].body, re.MULTILINE).group(1)


def ask_code(client: Client, *, order_id: str = "1002", email: str = EMAIL, **extra):
    return client.post("/request/", {"order_id": order_id, "email": email, "website": "", **extra})


def verified_client(order_id: str = "1002", email: str = EMAIL) -> Client:
    client = Client()
    ask_code(client, order_id=order_id, email=email)
    send_pending_codes()
    response = client.post("/request/code/", {"code": code_from_mail()})
    assert response.status_code == 302 and response.url == "/request/order/", response
    return client
