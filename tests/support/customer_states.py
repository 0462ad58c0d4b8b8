"""Refunds in every customer-visible state, and compiled catalogues, for the status page and email tests."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from refunds.enums import Reason, RefundState
from refunds.models import Customer, Refund
from refunds.services.cancel import refund_cancel
from refunds.services.decide import refund_deny
from refunds.services.merchants import merchant_default
from scripts.compile_messages import compile_all
from tests.refunds.factories import OrderLineFactory, PaymentFactory, agent, make_refund, merchant_system

S = RefundState
LANGUAGES = ("en", "ar", "de")
# Every state a customer can see, with how the provider step ended where it matters.
CUSTOMER_STATES = (
    "requested",
    "approved",
    "submitting",
    "provider_pending",
    "completed",
    "denied",
    "canceled",
    "failed",
    "failed_retryable",
)
DECLINE_REASON = "The parcel was delivered and signed for on 3 March."


def compile_catalogues() -> None:
    """Compile locale/*.po like `make test` does, then make Django reload them.

    Tests must not depend on a compile step having run before them; the
    override_settings round trip clears Django's cached catalogues.
    """
    assert compile_all() >= 0, "a .po file has errors (see stderr)"
    with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
        pass


def _move(refund: Refund, *states: str, **fields) -> Refund:
    """Walk the refund along edges of the state machine (the database trigger checks each)."""
    for state in states:
        Refund.objects.filter(pk=refund.pk).update(state=state, updated_at=timezone.now())
    if fields:
        Refund.objects.filter(pk=refund.pk).update(**fields)
    refund.refresh_from_db()
    return refund


def customer_order(
    *,
    locale: str = "en",
    currency: str = "USD",
    amount_minor: int = 10000,
    rail: str = "card",
    lines: int = 1,
    email: str = "jane.doe@example.com",
    name: str = "Jane Doe",
    **payment_fields,
):
    customer = Customer.objects.create(
        merchant=merchant_default(),
        external_id=f"cust-{Customer.objects.count() + 1}-{locale}",
        email=email,
        name=name,
        locale=locale,
    )
    payment = PaymentFactory(
        order__customer=customer,
        order__currency=currency,
        currency=currency,
        amount_minor=amount_minor,
        rail=rail,
        **payment_fields,
    )
    for n in range(lines):
        OrderLineFactory(order=payment.order, line_no=n + 1, description=f"Blue ceramic mug {n + 1}", sku=f"MUG-{n}")
    return payment.order


def refund_in_state(customer_state: str, *, refund_minor: int = 4250, **order_fields) -> Refund:
    """A refund of `refund_minor` the customer would see in `customer_state` (see CUSTOMER_STATES)."""
    order_fields.setdefault("amount_minor", max(10000, refund_minor))
    order = customer_order(**order_fields)
    if customer_state in ("requested", "denied", "canceled"):
        # Goodwill is always reviewed by a person, so it stays requested.
        refund = make_refund(order=order, amount_minor=refund_minor, reason=Reason.GOODWILL)
        if customer_state == "denied":
            refund = refund_deny(refund_id=refund.pk, actor=agent("agent-deny"), note=DECLINE_REASON)
        elif customer_state == "canceled":
            refund = refund_cancel(refund_id=refund.pk, actor=merchant_system())
        return Refund.objects.select_related("order__customer", "payment").get(pk=refund.pk)
    refund = make_refund(order=order, amount_minor=refund_minor, reason=Reason.OTHER)  # auto-approved
    assert refund.state == S.APPROVED
    now = timezone.now()
    if customer_state == "approved":
        return refund
    if customer_state == "submitting":
        return _move(refund, S.SUBMITTING, submitted_at=now)
    if customer_state == "provider_pending":
        return _move(refund, S.SUBMITTING, S.PROVIDER_PENDING, submitted_at=now)
    if customer_state == "completed":
        return _move(refund, S.SUBMITTING, S.COMPLETED, submitted_at=now, completed_at=now + timedelta(seconds=2))
    if customer_state in ("failed", "failed_retryable"):
        return _move(
            refund,
            S.SUBMITTING,
            S.FAILED,
            submitted_at=now,
            failure_code="card_expired" if customer_state == "failed" else "processing_error",
            failure_retryable=customer_state == "failed_retryable",
        )
    raise ValueError(customer_state)
