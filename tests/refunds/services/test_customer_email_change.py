"""A customer's address changed by a push (issue 10 item 4, within one merchant).

Across merchants a push cannot reach another merchant's customer at all
(tests/api/test_tenancy.py). Within a merchant the merchant system may change
an address — people do change them — but the change is audited without the
addresses themselves, and a refund keeps the address it was requested under.
"""

from __future__ import annotations

import logging

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from refunds.enums import PaymentStatus, Rail, Reason
from refunds.services.merchants import merchant_default
from refunds.services.orders import OrderInput, PaymentInput, order_upsert
from tests.refunds.factories import make_refund, requester

pytestmark = pytest.mark.django_db

OLD = "jane.doe@example.com"
NEW = "mallory@attacker.example"


def _push(email: str, *, order_id: str = "O-1", payment_id: str = "pi_sim_ok_o1"):
    order, _ = order_upsert(
        data=OrderInput(
            order_id=order_id,
            currency="USD",
            customer_id="c-1",
            customer_email=email,
            payment=PaymentInput(
                provider_payment_id=payment_id, rail=Rail.CARD, amount_minor=10000, status=PaymentStatus.CAPTURED
            ),
        ),
        merchant=merchant_default(),
        actor=requester(),
    )
    return order


def test_an_email_change_is_audited_with_masked_and_hashed_addresses_only(caplog):
    _push(OLD)
    with caplog.at_level(logging.DEBUG):
        _push(NEW)
    event = AuditEvent.objects.get(action=AuditAction.CUSTOMER_EMAIL_CHANGED)
    assert event.before["email"] == "j•••@example.com"
    assert event.after["email"] == "m•••@attacker.example"
    assert event.before["email_hash"] != event.after["email_hash"]
    recorded = repr([event.subject, event.note, event.before, event.after]) + caplog.text
    for address in (OLD, NEW, "jane.doe", "mallory"):
        assert address not in recorded
    # Pushing the same address again is no change.
    _push(NEW)
    assert AuditEvent.objects.filter(action=AuditAction.CUSTOMER_EMAIL_CHANGED).count() == 1


def test_the_hash_lets_an_investigator_match_an_address_they_already_know():
    _push(OLD)
    _push(NEW)
    _push(OLD)
    first, back = AuditEvent.objects.filter(action=AuditAction.CUSTOMER_EMAIL_CHANGED).order_by("id")
    assert first.before["email_hash"] == back.after["email_hash"]
    assert first.after["email_hash"] == back.before["email_hash"]


def test_a_refund_keeps_the_address_it_was_requested_under():
    order = _push(OLD)
    before = make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL)
    order = _push(NEW)
    after = make_refund(order=order, amount_minor=1000, reason=Reason.GOODWILL)
    before.refresh_from_db()
    assert before.customer_email == OLD
    assert after.customer_email == NEW
