"""Merchant slugs: `synthetic` is reserved for the synthetic refund's own merchant (issue 16, attack tests first).

Every SLO measure leaves out the synthetic journey's refunds, and the journey puts test orders,
refunds and merchant webhooks into its merchant every few minutes. Known by its slug alone, a
real tenant onboarded as `synthetic` ("Synthetic Fabrics Ltd") would silently leave the SLO
measures (an insider could hide a breach) and receive the test traffic. So the merchant is a flag
(`Merchant.synthetic`) only the journey sets, the slug is refused to anyone else, and the journey
never adopts a merchant it did not onboard.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from core.actor import Actor
from core.errors import ERR_VALIDATION, DomainError
from operations.synthetic import StepFailed, synthetic_merchant
from refunds.metrics import is_synthetic
from refunds.models import Merchant, Refund
from refunds.services.merchants import merchant_create

pytestmark = pytest.mark.django_db


def test_an_operator_cannot_onboard_a_tenant_under_the_synthetic_slug():
    with pytest.raises(CommandError, match="reserved"):
        call_command("create_merchant", "synthetic", "--name", "Synthetic Fabrics Ltd", "--email", "it@fabrics.test")
    with pytest.raises(DomainError) as refused:
        merchant_create(slug="synthetic", name="Synthetic Fabrics Ltd", actor=Actor.system("test"))
    assert refused.value.code == ERR_VALIDATION and refused.value.details["field"] == "slug"
    assert not Merchant.objects.filter(slug="synthetic").exists()


def test_the_journey_never_adopts_a_merchant_it_did_not_onboard():
    real = Merchant.objects.create(slug="synthetic", name="Synthetic Fabrics Ltd", contact_email="it@fabrics.test")

    # Refused (the run fails at its payment step, before any provider call), never adopted.
    with pytest.raises(StepFailed, match="did not onboard"):
        synthetic_merchant()
    real.refresh_from_db()
    assert not real.synthetic


def test_the_journey_onboards_its_own_flagged_merchant_once():
    first = synthetic_merchant()

    assert first.slug == "synthetic" and first.synthetic
    assert synthetic_merchant().pk == first.pk


def test_only_the_flag_takes_refunds_out_of_the_slo_measures():
    """A tenant's refunds count whatever its name; the journey's merchant is known by its flag."""
    tenant = Merchant.objects.create(slug="synthetic-fabrics", name="Synthetic Fabrics Ltd")
    journey = synthetic_merchant()

    assert not is_synthetic(Refund(merchant_id=tenant.pk))
    assert is_synthetic(Refund(merchant_id=journey.pk))


def test_there_is_at_most_one_synthetic_merchant():
    synthetic_merchant()
    with pytest.raises(IntegrityError), transaction.atomic():
        Merchant.objects.create(slug="another", synthetic=True)
