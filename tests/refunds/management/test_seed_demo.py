"""seed_demo: only with DEBUG=1 (issue 10, item 11); its logins fit separation of duties."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from core.actor import Actor
from refunds.enums import PaymentStatus, Reason, Role
from refunds.models import ApiKey, Order
from refunds.permissions import Perm, administers_access, has_perm
from refunds.services.lines import LineRequest
from refunds.services.policy import policy_get_active
from refunds.services.request import refund_request

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_no_superuser_and_a_separate_access_admin(settings):
    settings.DEBUG = True
    call_command("seed_demo", password="Demo-pass-5150", stdout=io.StringIO())
    users = {user.username: user for user in get_user_model().objects.all()}
    assert not any(user.is_superuser for user in users.values())
    access = users["access"]
    assert access.groups.filter(name=Role.ACCESS_ADMIN).exists()
    assert administers_access(access) and not has_perm(access, Perm.DECIDE)
    for name in ("admin", "senior1", "senior2", "agent", "finance", "risk"):
        assert not administers_access(users[name]), name
    assert has_perm(users["admin"], Perm.APPROVE_SENIOR)


def test_seed_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(username__in=["agent", "senior1", "admin"]).exists()
    assert not ApiKey.objects.exists()


def test_seed_demo_gives_the_portal_orders_by_line_a_service_in_progress_and_an_authorized_payment(settings):
    """What the README's portal walk uses (issue 15), each usable as the demo says; a re-run changes nothing."""
    settings.DEBUG = True
    call_command("seed_demo", password="Demo-pass-5150", stdout=io.StringIO())
    policy = policy_get_active()
    out = io.StringIO()
    call_command("seed_demo", password="Demo-pass-5150", stdout=out)

    assert policy_get_active().pk == policy.pk
    assert (policy.store_credit_enabled, policy.store_credit_bonus_percent, policy.proration_enabled) == (
        True,
        10,
        True,
    )
    assert (policy.created_by.username, policy.reviewed_by.username) == ("risk", "risk2")
    orders = {o.order_id: o for o in Order.objects.filter(order_id__in=["DEMO-LINES", "DEMO-SERVICE", "DEMO-AUTH"])}
    assert {o.customer.email for o in orders.values()} == {"shopper@example.com"}
    assert [(line.sku, line.quantity) for line in orders["DEMO-LINES"].lines.all()] == [
        ("TEE-BLUE-M", 3),
        ("MUG-LOGO", 2),
        ("SOCKS-3PK", 1),
    ]
    assert all(line.tax_minor > 0 for line in orders["DEMO-LINES"].lines.all())
    assert orders["DEMO-AUTH"].payment.status == PaymentStatus.AUTHORIZED
    assert "shopper@example.com" in out.getvalue()

    actor = Actor.system("test")
    by_line = refund_request(
        order=orders["DEMO-LINES"],
        lines=[LineRequest("TEE-BLUE-M", 2)],
        currency="USD",
        reason=Reason.NOT_RECEIVED,
        actor=actor,
    )
    assert by_line.amount_minor == 4400  # 2 of 3 shirts: 2 × 20.00 and their 4.00 of tax
    # Day 11 of 30 (today counts as used): 19 days unused of 300.00 is 190.00, and after the start half of it.
    prorated = refund_request(
        order=orders["DEMO-SERVICE"], prorate=True, currency="USD", reason=Reason.OTHER, actor=actor
    )
    assert (prorated.proration["total_days"], prorated.proration["unused_days"]) == (30, 19)
    assert prorated.amount_minor == 9500
