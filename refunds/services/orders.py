"""Orders and payments pushed by the merchant system (SPEC §9 `POST /v1/orders`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CURRENCY_MISMATCH, ERR_VALIDATION, DomainError
from providers.registry import default_provider_name, provider_names
from refunds.models import Merchant, Order, OrderLine, Payment
from refunds.services.customers import customer_upsert


@dataclass(frozen=True)
class LineInput:
    unit_amount_minor: int
    quantity: int = 1
    tax_minor: int = 0
    discount_minor: int = 0
    sku: str = ""
    description: str = ""


@dataclass(frozen=True)
class PaymentInput:
    provider_payment_id: str
    rail: str
    amount_minor: int
    status: str
    captured_at: datetime | None = None
    provider: str = ""  # a name of providers.registry.PROVIDERS; empty: the default (PROVIDER)


@dataclass(frozen=True)
class OrderInput:
    order_id: str
    currency: str
    customer_id: str
    payment: PaymentInput
    customer_email: str = ""
    customer_name: str = ""
    customer_locale: str = "en"
    placed_at: datetime | None = None
    service_starts_at: datetime | None = None
    lines: list[LineInput] = field(default_factory=list)


def order_upsert(*, data: OrderInput, merchant: Merchant, actor: Actor) -> tuple[Order, bool]:
    """Create or update `merchant`'s order with its customer, lines and payment.

    Orders and customers are looked up within `merchant` only: an order or
    customer id another merchant uses is a different order or customer.

    Updates are how the merchant tells us about captures, voids and
    chargebacks. Refused: changing the currency, the payment or the payment's
    provider of an order that already has refunds (its refunds are on their
    way through that provider), and lowering a payment below what its refunds
    already hold (the payment CHECK constraint also guards this). Lines are
    replaced only while the order has no refund, since refunds were split over
    them. Side effects: customer (`customer_upsert`: a changed address is
    audited), order, lines, payment rows; audit `order.created` /
    `order.updated`. Returns (order, created).
    """
    with transaction.atomic():
        customer = customer_upsert(
            merchant=merchant,
            external_id=data.customer_id,
            email=data.customer_email,
            name=data.customer_name,
            locale=data.customer_locale,
            actor=actor,
        )
        order = Order.objects.select_for_update().filter(merchant=merchant, order_id=data.order_id).first()
        created = order is None
        payment = None
        before = None
        if created:
            order = Order.objects.create(
                merchant=merchant,
                order_id=data.order_id,
                customer=customer,
                currency=data.currency,
                placed_at=data.placed_at,
                service_starts_at=data.service_starts_at,
            )
        else:
            payment = Payment.objects.select_for_update().filter(order=order).first()
            before = _order_snapshot(order, payment)
            has_refunds = order.refunds.exists()
            if has_refunds and data.currency != order.currency:
                raise DomainError(ERR_CURRENCY_MISMATCH, "The order already has refunds in another currency.")
            if has_refunds and payment and payment.provider_payment_id != data.payment.provider_payment_id:
                raise DomainError(ERR_VALIDATION, "The order already has refunds on another payment.")
            if has_refunds and payment and data.payment.provider and data.payment.provider != payment.provider:
                raise DomainError(
                    ERR_VALIDATION,
                    f"The order already has refunds through provider '{payment.provider}'.",
                    field="payment.provider",
                )
            order.customer = customer
            order.currency = data.currency
            order.placed_at = data.placed_at
            order.service_starts_at = data.service_starts_at
            order.save()
        if data.payment.provider and data.payment.provider not in provider_names():
            raise DomainError(ERR_VALIDATION, f"Unknown provider '{data.payment.provider}'.", field="payment.provider")
        if data.payment.amount_minor <= 0:
            raise DomainError(ERR_VALIDATION, "The payment amount must be positive.", field="payment.amount_minor")
        if payment is not None and data.payment.amount_minor < payment.refund_reserved_minor:
            raise DomainError(ERR_VALIDATION, "The payment amount is below what its refunds already hold.")
        if created or not order.refunds.exists():
            order.lines.all().delete()
            OrderLine.objects.bulk_create(
                OrderLine(order=order, line_no=n, **vars(line)) for n, line in enumerate(data.lines, start=1)
            )
        payment_fields = {
            "provider": data.payment.provider or (payment.provider if payment else default_provider_name()),
            "rail": data.payment.rail,
            "provider_payment_id": data.payment.provider_payment_id,
            "amount_minor": data.payment.amount_minor,
            "currency": data.currency,
            "status": data.payment.status,
            "captured_at": data.payment.captured_at,
        }
        if payment is None:
            payment = Payment.objects.create(order=order, **payment_fields)
        else:
            for name, value in payment_fields.items():
                setattr(payment, name, value)
            payment.save()
        audit_record(
            actor=actor,
            action=AuditAction.ORDER_CREATED if created else AuditAction.ORDER_UPDATED,
            subject=order.order_id,
            amount_minor=payment.amount_minor,
            currency=order.currency,
            before=before,
            after=_order_snapshot(order, payment),
        )
    return order, created


def _order_snapshot(order: Order, payment: Payment | None) -> dict:
    return {
        "order_id": order.order_id,
        "currency": order.currency,
        "payment_id": payment.provider_payment_id if payment else None,
        "provider": payment.provider if payment else None,
        "payment_status": payment.status if payment else None,
        "amount_minor": payment.amount_minor if payment else None,
    }
