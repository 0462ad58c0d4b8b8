"""Orders and payments pushed by the merchant system (SPEC §9 `POST /v1/orders`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.services import audit_record
from core.actor import Actor
from core.errors import ERR_CONFLICT_ORDER, ERR_VALIDATION, DomainError
from providers.registry import default_provider_name, provider_names
from refunds.enums import PAYMENT_FROZEN_STATUSES, PAYMENT_STATUS_EDGES
from refunds.models import Merchant, Order, OrderLine, Payment
from refunds.services.customers import customer_upsert

logger = logging.getLogger("refunds")


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
    service_ends_at: datetime | None = None
    lines: list[LineInput] = field(default_factory=list)


class _OrderCreatedMeanwhile(Exception):
    """Another push created the order between this one's look-up and its insert."""


def order_upsert(*, data: OrderInput, merchant: Merchant, actor: Actor) -> tuple[Order, bool]:
    """Create or update `merchant`'s order with its customer, lines and payment.

    Orders and customers are looked up within `merchant` only: an order or
    customer id another merchant uses is a different order or customer.

    Updates are how the merchant tells us about captures, voids and
    chargebacks — and nothing more: once the payment is captured (status
    captured, charged back or voided) its amount, currency, capture time,
    provider and provider payment id are history; its status moves only along
    `PAYMENT_STATUS_EDGES` (never back to captured); and once the order has a
    refund its `service_starts_at` (which the fee schedule priced) and
    `service_ends_at` (which prorations counted days to) are frozen.
    A refused change raises DomainError(ERR_CONFLICT_ORDER, field=…) and, the
    whole upsert being one transaction, changes nothing (customer included).
    A database trigger (migration refunds/0013) refuses the same payment
    changes from any other path. Lines are replaced only while the order has
    no refund, since refunds were split over them. Side effects: customer
    (`customer_upsert`: a changed address is audited), order, lines, payment
    rows; audit `order.created` / `order.updated`. Returns (order, created).

    Concurrent pushes are settled by the unique keys, never answered with a
    crash: of two creating one order, the second becomes an update of what
    the first committed (with every rule above); of two orders claiming one
    provider payment id, the second is refused with ERR_CONFLICT_ORDER.
    """
    try:
        return _order_upsert(data=data, merchant=merchant, actor=actor)
    except _OrderCreatedMeanwhile:
        # Everything this attempt wrote was rolled back; the order exists now and is locked on the retry.
        return _order_upsert(data=data, merchant=merchant, actor=actor)


def _order_upsert(*, data: OrderInput, merchant: Merchant, actor: Actor) -> tuple[Order, bool]:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(merchant=merchant, order_id=data.order_id).first()
        created = order is None
        payment = None if created else Payment.objects.select_for_update().filter(order=order).first()
        has_refunds = not created and order.refunds.exists()
        if data.payment.provider and data.payment.provider not in provider_names():
            raise DomainError(ERR_VALIDATION, f"Unknown provider '{data.payment.provider}'.", field="payment.provider")
        if data.payment.amount_minor <= 0:
            raise DomainError(ERR_VALIDATION, "The payment amount must be positive.", field="payment.amount_minor")
        if not created:
            _refuse_rewrite(order, payment, data, has_refunds=has_refunds)
        _refuse_payment_id_of_another_order(data, order)
        customer = customer_upsert(
            merchant=merchant,
            external_id=data.customer_id,
            email=data.customer_email,
            name=data.customer_name,
            locale=data.customer_locale,
            actor=actor,
        )
        before = None
        if created:
            try:
                with transaction.atomic():
                    order = Order.objects.create(
                        merchant=merchant,
                        order_id=data.order_id,
                        customer=customer,
                        currency=data.currency,
                        placed_at=data.placed_at,
                        service_starts_at=data.service_starts_at,
                        service_ends_at=data.service_ends_at,
                    )
            except IntegrityError as error:
                # The insert waited for the other push's commit, so a fresh read sees its order.
                if Order.objects.filter(merchant=merchant, order_id=data.order_id).exists():
                    raise _OrderCreatedMeanwhile from error
                raise
        else:
            before = _order_snapshot(order, payment)
            order.customer = customer
            order.currency = data.currency
            order.placed_at = data.placed_at
            order.service_starts_at = data.service_starts_at
            order.service_ends_at = data.service_ends_at
            order.save()
        if not has_refunds:
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
        try:
            with transaction.atomic():
                if payment is None:
                    payment = Payment.objects.create(order=order, **payment_fields)
                else:
                    for name, value in payment_fields.items():
                        setattr(payment, name, value)
                    payment.save()
        except IntegrityError:
            # Another order's push took the payment id after our check and committed first: the
            # check, read again now, sees it and refuses; anything else is not ours to translate.
            _refuse_payment_id_of_another_order(data, order)
            raise
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


def _refuse_rewrite(order: Order, payment: Payment | None, data: OrderInput, *, has_refunds: bool) -> None:
    """Raise ERR_CONFLICT_ORDER naming the first field the push may no longer change (see `order_upsert`)."""
    if payment is not None and payment.status in PAYMENT_FROZEN_STATUSES:
        pushed = data.payment
        frozen = [
            ("payment.provider_payment_id", payment.provider_payment_id, pushed.provider_payment_id),
            # An omitted provider means "the one it has" (as at creation it means the default).
            ("payment.provider", payment.provider, pushed.provider or payment.provider),
            ("payment.amount_minor", payment.amount_minor, pushed.amount_minor),
            ("currency", order.currency, data.currency),
            ("payment.captured_at", payment.captured_at, pushed.captured_at),
        ]
        for name, kept, asked in frozen:
            if kept != asked:
                raise _conflict(order, name, f"The payment was {payment.status}: its {name} cannot change.")
    moved = payment is not None and data.payment.status != payment.status
    if moved and data.payment.status not in PAYMENT_STATUS_EDGES[payment.status]:
        raise _conflict(order, "payment.status", f"A {payment.status} payment cannot become {data.payment.status}.")
    if has_refunds and data.service_starts_at != order.service_starts_at:
        raise _conflict(order, "service_starts_at", "The order has refunds: its service start cannot change.")
    if has_refunds and data.service_ends_at != order.service_ends_at:
        raise _conflict(order, "service_ends_at", "The order has refunds: its service end cannot change.")


def _refuse_payment_id_of_another_order(data: OrderInput, order: Order | None) -> None:
    taken = Payment.objects.filter(provider_payment_id=data.payment.provider_payment_id)
    if order is not None:
        taken = taken.exclude(order=order)
    if taken.exists():
        raise DomainError(
            ERR_CONFLICT_ORDER,
            "This provider payment id belongs to another order.",
            field="payment.provider_payment_id",
        )


def _conflict(order: Order, name: str, message: str) -> DomainError:
    # A refused rewrite is worth a line for whoever watches the merchant integration (no customer data).
    logger.warning(
        "order change refused",
        extra={"message_id": "MSG.order.change_refused", "order_id": order.order_id, "field": name},
    )
    return DomainError(ERR_CONFLICT_ORDER, message, field=name)


def _order_snapshot(order: Order, payment: Payment | None) -> dict:
    return {
        "order_id": order.order_id,
        "currency": order.currency,
        "payment_id": payment.provider_payment_id if payment else None,
        "provider": payment.provider if payment else None,
        "payment_status": payment.status if payment else None,
        "amount_minor": payment.amount_minor if payment else None,
    }
