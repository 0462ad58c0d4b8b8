"""The merchant's contact address (refunds.services.merchants.merchant_contact_update, issue 14)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.errors import ERR_NOT_FOUND, ERR_VALIDATION, DomainError
from refunds.models import Merchant
from refunds.services.merchants import merchant_contact_update, merchant_default

pytestmark = pytest.mark.django_db


def test_a_change_is_saved_and_audited_with_old_and_new(system_actor):
    merchant = merchant_default()
    merchant_contact_update(merchant_id=merchant.pk, contact_email=" ops@acme.example ", actor=system_actor)
    assert Merchant.objects.get(pk=merchant.pk).contact_email == "ops@acme.example"
    event = AuditEvent.objects.get(action="merchant.contact_changed")
    assert (event.subject, event.before, event.after) == (
        "merchant default",
        {"contact_email": ""},
        {"contact_email": "ops@acme.example"},
    )


def test_the_same_address_again_writes_nothing_and_empty_clears_it(system_actor):
    merchant = merchant_default()
    merchant_contact_update(merchant_id=merchant.pk, contact_email="ops@acme.example", actor=system_actor)
    merchant_contact_update(merchant_id=merchant.pk, contact_email="ops@acme.example", actor=system_actor)
    assert AuditEvent.objects.filter(action="merchant.contact_changed").count() == 1
    merchant_contact_update(merchant_id=merchant.pk, contact_email="", actor=system_actor)
    assert Merchant.objects.get(pk=merchant.pk).contact_email == ""


def test_not_an_address_or_no_such_merchant_is_refused(system_actor):
    merchant = merchant_default()
    with pytest.raises(DomainError) as refused:
        merchant_contact_update(merchant_id=merchant.pk, contact_email="nope", actor=system_actor)
    assert (refused.value.code, refused.value.details) == (ERR_VALIDATION, {"field": "email"})
    with pytest.raises(DomainError) as missing:
        merchant_contact_update(merchant_id=merchant.pk + 999, contact_email="a@b.example", actor=system_actor)
    assert missing.value.code == ERR_NOT_FOUND
    assert not AuditEvent.objects.filter(action="merchant.contact_changed").exists()
