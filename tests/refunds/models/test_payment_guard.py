"""The database keeps a captured payment as it was captured, whatever code (or SQL) runs (issue 10 item 1)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from refunds.enums import PAYMENT_STATUS_EDGES, PaymentStatus
from refunds.models import Payment
from tests.refunds.factories import PaymentFactory

pytestmark = pytest.mark.django_db
P = PaymentStatus


@pytest.mark.parametrize(
    "change",
    [
        {"amount_minor": 10_000_000},
        {"currency": "EUR"},
        {"provider_payment_id": "pi_rewritten"},
        {"provider": "manual"},
        {"captured_at": None},
    ],
    ids=lambda change: next(iter(change)),
)
@pytest.mark.parametrize("status", [P.CAPTURED, P.CHARGED_BACK, P.VOIDED])
def test_database_refuses_rewriting_a_captured_payment(status, change):
    payment = PaymentFactory(status=status)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(**change)


@pytest.mark.parametrize(
    ("source", "target"),
    [(a, b) for a in P.values for b in P.values if a != b and b not in PAYMENT_STATUS_EDGES[a]],
)
def test_database_refuses_illegal_status_moves(source, target):
    payment = PaymentFactory(status=source)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(status=target)


def test_database_allows_what_the_service_allows():
    payment = PaymentFactory(status=P.CAPTURE_PENDING, captured_at=None)
    Payment.objects.filter(pk=payment.pk).update(amount_minor=9000)  # a partial capture, before capture
    Payment.objects.filter(pk=payment.pk).update(status=P.CAPTURED, captured_at=timezone.now() - timedelta(days=1))
    Payment.objects.filter(pk=payment.pk).update(refund_reserved_minor=1000)  # refunds hold money as ever
    Payment.objects.filter(pk=payment.pk).update(status=P.CHARGED_BACK)
    assert Payment.objects.get(pk=payment.pk).status == P.CHARGED_BACK


def test_database_trigger_and_enums_know_the_same_status_edges():
    migration = importlib.import_module("refunds.migrations.0025_lines_instruments_proration")
    assert {(a, b) for a, targets in PAYMENT_STATUS_EDGES.items() for b in targets} == set(migration.STATUS_EDGES)
