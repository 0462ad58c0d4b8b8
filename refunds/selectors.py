"""Reads. Each returns what its callers render, with the joins done."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import ERR_NOT_FOUND, DomainError
from refunds.models import Decision, Order, Refund


def refund_queryset() -> QuerySet[Refund]:
    return Refund.objects.select_related("order", "payment", "policy_version").prefetch_related(
        "ledger_entries",
        Prefetch("decisions", queryset=Decision.objects.select_related("actor")),
    )


def refund_get(*, public_id: str) -> Refund:
    refund = refund_queryset().filter(public_id=public_id).first()
    if refund is None:
        raise DomainError(ERR_NOT_FOUND)
    return refund


def order_get(*, order_id: str) -> Order:
    order = Order.objects.select_related("payment", "customer").filter(order_id=order_id).first()
    if order is None:
        raise DomainError(ERR_NOT_FOUND)
    return order


def order_refunds(*, order: Order) -> QuerySet[Refund]:
    return refund_queryset().filter(order=order).order_by("created_at", "id")
