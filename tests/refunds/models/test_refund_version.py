"""The database keeps a refund's version moving with its terms, whatever code path changes them."""

from __future__ import annotations

import pytest
from django.db import connection

from refunds.enums import Reason
from refunds.models import Refund
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


def version_of(refund: Refund) -> int:
    return Refund.objects.values_list("version", flat=True).get(pk=refund.pk)


def test_a_raw_change_of_the_amount_or_reply_bumps_the_version():
    refund = make_refund(order=captured_order(amount_minor=50000), amount_minor=1000, reason=Reason.GOODWILL)
    before = version_of(refund)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE refunds_refund SET amount_minor = 19900 WHERE id = %s", [refund.pk])
    assert version_of(refund) == before + 1
    Refund.objects.filter(pk=refund.pk).update(draft_reply="Something else")
    assert version_of(refund) == before + 2


def test_the_version_never_goes_back_and_other_fields_leave_it_alone():
    refund = make_refund(order=captured_order(amount_minor=50000), amount_minor=1000, reason=Reason.GOODWILL)
    Refund.objects.filter(pk=refund.pk).update(draft_reply="Reworded")
    before = version_of(refund)
    assert before >= 2
    Refund.objects.filter(pk=refund.pk).update(version=before - 1, provider_status="x")
    assert version_of(refund) == before
    Refund.objects.filter(pk=refund.pk).update(override_flagged=True)
    assert version_of(refund) == before
