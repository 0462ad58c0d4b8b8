"""Demo users for every role, a merchant API key, orders covering SPEC §9's fixtures, and a second merchant."""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.actor import Actor
from ledger.calendar import business_timezone
from refunds.enums import PaymentStatus, Rail, Reason, Role, Scope
from refunds.models import ApiKey, Merchant, Order, Refund
from refunds.services.api_keys import api_key_create
from refunds.services.merchants import merchant_create, merchant_default
from refunds.services.orders import LineInput, OrderInput, PaymentInput, order_upsert
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import policy_draft_approve, policy_draft_create
from refunds.services.reference_data import reference_data_ensure
from refunds.services.request import refund_request

DEMO_USERS = [
    ("agent", Role.AGENT, "Support agent"),
    ("senior1", Role.SENIOR_AGENT, "Senior agent"),
    ("senior2", Role.SENIOR_AGENT, "Second senior agent"),
    ("finance", Role.FINANCE, "Finance"),
    ("risk", Role.RISK, "Risk"),
    # A policy draft needs a second risk user's approval (four-eyes).
    ("risk2", Role.RISK, "Second risk analyst"),
    ("admin", Role.ADMIN, "Operations administrator"),
    # Users, groups and API keys: a login of its own that decides no refund (separation of duties).
    ("access", Role.ACCESS_ADMIN, "Access administrator"),
]

# (order id, currency, amount, status, payment id, rail, what it demonstrates)
DEMO_ORDERS = [
    ("DEMO-10", "USD", 1000, PaymentStatus.CAPTURED, "pi_sim_ok_demo10", Rail.CARD, "captured 10.00"),
    ("DEMO-100", "USD", 10000, PaymentStatus.CAPTURED, "pi_sim_ok_demo100", Rail.CARD, "captured 100.00"),
    ("DEMO-9999", "USD", 999900, PaymentStatus.CAPTURED, "pi_sim_ok_demo9999", Rail.CARD, "captured 9999.00"),
    ("DEMO-ZERO", "USD", 5000, PaymentStatus.CAPTURED, "pi_sim_ok_demozero", Rail.CARD, "zero remaining"),
    ("DEMO-PENDING", "USD", 5000, PaymentStatus.CAPTURE_PENDING, "pi_sim_ok_demopend", Rail.CARD, "not captured"),
    ("DEMO-CB", "USD", 5000, PaymentStatus.CHARGED_BACK, "pi_sim_ok_democb", Rail.CARD, "charged back"),
    ("DEMO-VOID", "USD", 5000, PaymentStatus.VOIDED, "pi_sim_ok_demovoid", Rail.CARD, "voided"),
    ("DEMO-ASYNC", "SGD", 8000, PaymentStatus.CAPTURED, "pi_sim_async_demo", Rail.PAYNOW, "simulator: async"),
    ("DEMO-FAIL", "EUR", 4000, PaymentStatus.CAPTURED, "pi_sim_fail_demo", Rail.CARD, "simulator: fails"),
    ("DEMO-TIMEOUT", "EUR", 4000, PaymentStatus.CAPTURED, "pi_sim_timeout_demo", Rail.CARD, "simulator: timeout"),
    ("DEMO-5XX", "GBP", 4000, PaymentStatus.CAPTURED, "pi_sim_5xx_demo", Rail.BANK_TRANSFER, "simulator: 5xx"),
    ("DEMO-JPY", "JPY", 12000, PaymentStatus.CAPTURED, "pi_sim_ok_demojpy", Rail.CARD, "JPY, no minor unit"),
    ("DEMO-KWD", "KWD", 25500, PaymentStatus.CAPTURED, "pi_sim_ok_demokwd", Rail.BANK_TRANSFER, "KWD, 3 decimals"),
    ("DEMO-GOODWILL", "USD", 50000, PaymentStatus.CAPTURED, "pi_sim_ok_demogw", Rail.CARD, "goodwill review"),
    ("DEMO-BOOKING", "USD", 30000, PaymentStatus.CAPTURED, "pi_sim_ok_demobook", Rail.CARD, "booking in 4 days"),
]
# Issue 15: what the customer portal, refunds by line, voids, store credit and proration show off.
# Their customer is one of its own, so a demo user asking at /request/ knows which email the code goes to.
SHOP_CUSTOMER = ("cust-shop", "shopper@example.com", "Demo shopper")
LINES_ORDER = "DEMO-LINES"
# (sku, description, unit price, quantity, tax of the line): several lines, so a refund by line is visible.
LINES = [
    ("TEE-BLUE-M", "T-shirt, blue, M", 2000, 3, 600),
    ("MUG-LOGO", "Mug with logo", 1200, 2, 240),
    ("SOCKS-3PK", "Socks, pack of 3", 900, 1, 90),
]
SERVICE_ORDER = "DEMO-SERVICE"
SERVICE_DAYS, SERVICE_DAYS_USED = 30, 10
AUTHORIZED_ORDER = "DEMO-AUTH"
# The policy version the demo approves on top of whatever is in force (four-eyes: risk drafts, risk2 approves).
# The fee schedule's last tier refunds half (the default refunds nothing once a service started): a customer
# cancelling DEMO-SERVICE with reason "other" gets half of the unused days' price, and the card shows why.
DEMO_POLICY_OPTIONS = {
    "store_credit_enabled": True,
    "store_credit_bonus_percent": 10,
    "proration_enabled": True,
    "cancellation_fee_schedule": [
        {"min_days": 7, "percent": 100},
        {"min_days": 2, "percent": 50},
        {"min_days": 0, "percent": 50},
    ],
}
DEMO_POLICY_NOTE = "Demo: store credit (10 % bonus), refunds for time not used (half after the start)"
# The second demo merchant (tenancy): one order, whose id the default merchant uses too.
OUTLET_SLUG = "demo-outlet"
OUTLET_ORDER = "DEMO-100"
# One language per demo customer (orders share customers, so the language must not depend on the order).
CUSTOMER_LOCALES = ["en", "ar", "de", "en", "de"]


class Command(BaseCommand):
    help = "Create demo users (one per role), a merchant API key, demo orders and a second merchant. Safe to re-run."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "refunds-demo"))

    def handle(self, *args, password: str, **options) -> None:
        if not settings.DEBUG:
            # Users for every role with one published password, superuser included: a takeover kit in production.
            raise CommandError("seed_demo only runs with DEBUG=1 (the demo): its users share a published password.")
        reference_data_ensure()
        User = get_user_model()
        with transaction.atomic():
            for username, role, label in DEMO_USERS:
                user, _ = User.objects.get_or_create(username=username, defaults={"first_name": label})
                user.set_password(password)
                user.is_staff = True
                # No demo superuser: a superuser may not decide refunds, and the access admin role
                # administers people without one (an older demo database's admin is demoted here).
                user.is_superuser = False
                user.email = f"{username}@example.com"
                user.save()
                user.groups.add(Group.objects.get(name=role))
        merchant = User.objects.filter(username="merchant").first()
        raw_key = None
        if merchant is None or not ApiKey.objects.filter(user=merchant, revoked_at__isnull=True).exists():
            _, raw_key = api_key_create(
                username="merchant",
                scopes=[
                    Scope.ORDERS_WRITE,
                    Scope.REFUNDS_CREATE,
                    Scope.REFUNDS_READ,
                    Scope.REFUNDS_SUBMIT,
                    Scope.EVENTS_READ,
                    Scope.WEBHOOKS_WRITE,
                    # The merchant's checkout reads and spends store credit (issue 15, docs/api.md "Store credit").
                    Scope.CREDITS_READ,
                    Scope.CREDITS_REDEEM,
                ],
                name="demo merchant system",
            )
        merchant = User.objects.get(username="merchant")
        actor = Actor(type="api_key", label="merchant (seed)", user=merchant)
        now = timezone.now()
        default = merchant_default()
        for n, (order_id, currency, amount, status, payment_id, rail, _) in enumerate(DEMO_ORDERS):
            tax = amount // 11
            # Re-runs keep an existing order as it is: a captured payment is history and may not be
            # re-pushed with a new capture time, nor a refunded booking with a new start (issue 10).
            order = Order.objects.filter(merchant=default, order_id=order_id).first()
            if order is None:
                order, _ = order_upsert(
                    data=OrderInput(
                        order_id=order_id,
                        currency=currency,
                        customer_id=f"cust-{n % 5}",
                        customer_email=f"customer{n % 5}@example.com",
                        customer_name=f"Demo customer {n % 5}",
                        customer_locale=CUSTOMER_LOCALES[n % 5],
                        placed_at=now - timedelta(days=3),
                        # A booking: its cancellation follows the fee schedule (50 % between 2 and 7 days ahead).
                        service_starts_at=now + timedelta(days=4) if order_id == "DEMO-BOOKING" else None,
                        lines=[
                            LineInput(unit_amount_minor=amount - tax, tax_minor=tax, sku=f"SKU-{n}", description="Item")
                        ],
                        payment=PaymentInput(
                            provider_payment_id=payment_id,
                            rail=rail,
                            amount_minor=amount,
                            status=status,
                            captured_at=now - timedelta(days=2) if status == PaymentStatus.CAPTURED else None,
                        ),
                    ),
                    merchant=default,
                    actor=actor,
                )
            if order_id == "DEMO-ZERO" and not order.refunds.exists():
                refund_request(
                    order=order, amount_minor=amount, currency=currency, reason=Reason.DUPLICATE, actor=actor
                )
            if order_id == "DEMO-GOODWILL" and not order.refunds.exists():
                refund_request(order=order, amount_minor=25000, currency=currency, reason=Reason.GOODWILL, actor=actor)
                refund_request(order=order, amount_minor=5000, currency=currency, reason=Reason.GOODWILL, actor=actor)
            if order_id == "DEMO-BOOKING" and not order.refunds.exists():
                # The customer cancels 4 days ahead and asks for everything: reviewed under R-CANCEL-FEE-50.
                refund_request(order=order, amount_minor=amount, currency=currency, reason=Reason.OTHER, actor=actor)
        self._issue15_orders(now, actor)
        policy = self._instruments_policy()
        outlet_key = self._second_merchant(now)
        self.stdout.write(f"Demo users (password for all: {password}):")
        for username, role, label in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role:<13} {label}")
        self.stdout.write("Demo orders: " + ", ".join(f"{o[0]} ({o[6]})" for o in DEMO_ORDERS))
        self.stdout.write(
            f"  {LINES_ORDER} ({len(LINES)} lines with SKUs and tax: refund by line), "
            f"{SERVICE_ORDER} ({SERVICE_DAYS}-day service, day {SERVICE_DAYS_USED + 1}: refund for time not used), "
            f"{AUTHORIZED_ORDER} (authorized, not captured: a refund voids it)"
        )
        self.stdout.write(
            f"Policy v{policy.version} in force: store credit allowed "
            f"(+{policy.store_credit_bonus_percent} % bonus), proration for time not used "
            f"{'on' if policy.proration_enabled else 'off'}"
        )
        self.stdout.write(
            f"Customer portal demo: order {LINES_ORDER} (or {SERVICE_ORDER}, {AUTHORIZED_ORDER}), "
            f"email {SHOP_CUSTOMER[1]}"
        )
        # What the customers were emailed: their status pages (issue 6), one per seeded refund.
        self.stdout.write("Customer status pages (the page's language switch offers en, ar, de):")
        for refund in Refund.objects.filter(order__order_id__startswith="DEMO-").select_related("order__customer"):
            label = f"{refund.order.order_id} {refund.state} {refund.order.customer.locale}"
            self.stdout.write(f"  {label:<28} {refund.status_url}")
        self.stdout.write(
            f"Second merchant {OUTLET_SLUG}: its own {OUTLET_ORDER} (the same order id as the default merchant's), "
            "a goodwill refund in review; its key sees only its own orders (404 for the other's)."
        )
        if outlet_key:
            self.stdout.write(f"{OUTLET_SLUG} API key (orders:write, refunds:create/read), shown once:")
            self.stdout.write(outlet_key)
        if raw_key:
            self.stdout.write(
                "Merchant API key (orders:write, refunds:create/read/submit, events:read, webhooks:write,"
                " credits:read/redeem), shown once:"
            )
            self.stdout.write(raw_key)

    def _issue15_orders(self, now, actor: Actor) -> None:
        """An order of several lines, a service in progress and an authorized payment, for one customer."""
        customer_id, email, name = SHOP_CUSTOMER
        # From midnight of the books' calendar, so the service touches exactly SERVICE_DAYS days (its 11th today).
        today = timezone.localtime(now, business_timezone()).replace(hour=0, minute=0, second=0, microsecond=0)
        service_starts = today - timedelta(days=SERVICE_DAYS_USED)
        orders = [
            (
                LINES_ORDER,
                [
                    LineInput(unit_amount_minor=u, quantity=q, tax_minor=t, sku=s, description=d)
                    for s, d, u, q, t in LINES
                ],
                PaymentStatus.CAPTURED,
                "pi_sim_ok_demolines",
                {},
            ),
            (
                SERVICE_ORDER,
                [LineInput(unit_amount_minor=27000, tax_minor=3000, sku="GYM-30D", description="Gym, 30 days")],
                PaymentStatus.CAPTURED,
                "pi_sim_ok_demoservice",
                {
                    "service_starts_at": service_starts,
                    "service_ends_at": service_starts + timedelta(days=SERVICE_DAYS),
                },
            ),
            (
                AUTHORIZED_ORDER,
                [LineInput(unit_amount_minor=4500, tax_minor=500, sku="LAMP-01", description="Desk lamp")],
                PaymentStatus.AUTHORIZED,
                "pi_sim_ok_demoauth",
                {},
            ),
        ]
        default = merchant_default()
        for order_id, lines, status, payment_id, service in orders:
            if Order.objects.filter(merchant=default, order_id=order_id).exists():
                continue  # as above: a re-run keeps what the demo user may have refunded since
            amount = sum(line.unit_amount_minor * line.quantity + line.tax_minor for line in lines)
            order_upsert(
                data=OrderInput(
                    order_id=order_id,
                    currency="USD",
                    customer_id=customer_id,
                    customer_email=email,
                    customer_name=name,
                    placed_at=now - timedelta(days=SERVICE_DAYS_USED + 1),
                    lines=lines,
                    payment=PaymentInput(
                        provider_payment_id=payment_id,
                        rail=Rail.CARD,
                        amount_minor=amount,
                        status=status,
                        captured_at=now - timedelta(days=SERVICE_DAYS_USED)
                        if status == PaymentStatus.CAPTURED
                        else None,
                    ),
                    **service,
                ),
                merchant=default,
                actor=actor,
            )

    def _instruments_policy(self):
        """The policy in force, with store credit and proration allowed: drafted by risk, approved by risk2."""
        active = policy_get_active()
        if all(getattr(active, name) == value for name, value in DEMO_POLICY_OPTIONS.items()):
            return active
        User = get_user_model()
        for name, value in DEMO_POLICY_OPTIONS.items():
            setattr(active, name, value)
        active.note = DEMO_POLICY_NOTE
        draft = policy_draft_create(policy=active, user=User.objects.get(username="risk"))
        return policy_draft_approve(
            policy_id=draft.pk, user=User.objects.get(username="risk2"), note="Approved by the demo seed (four-eyes)"
        )

    def _second_merchant(self, now) -> str | None:
        """A second tenant with one order whose id the default merchant uses too: shows off tenancy.

        Returns its key's secret when minted now (shown once), else None.
        """
        merchant = Merchant.objects.filter(slug=OUTLET_SLUG).first() or merchant_create(
            slug=OUTLET_SLUG, name="Demo Outlet", actor=Actor.system("seed_demo")
        )
        raw_key = None
        if not ApiKey.objects.filter(merchant=merchant, revoked_at__isnull=True).exists():
            _, raw_key = api_key_create(
                username="outlet",
                scopes=[Scope.ORDERS_WRITE, Scope.REFUNDS_CREATE, Scope.REFUNDS_READ],
                merchant=OUTLET_SLUG,
                name="demo outlet system",
            )
        actor = Actor(type="api_key", label="outlet (seed)", user=get_user_model().objects.get(username="outlet"))
        # As for the default merchant's orders: a re-run keeps the order (a re-push with a new capture time is refused).
        order = Order.objects.filter(merchant=merchant, order_id=OUTLET_ORDER).first()
        if order is None:
            order, _ = order_upsert(
                data=OrderInput(
                    order_id=OUTLET_ORDER,
                    currency="EUR",
                    # The same customer id as the default merchant's first customer: another person.
                    customer_id="cust-0",
                    customer_email="outlet.customer@example.org",
                    customer_name="Outlet customer",
                    customer_locale="de",
                    placed_at=now - timedelta(days=3),
                    lines=[LineInput(unit_amount_minor=5400, tax_minor=600, sku="OUT-1", description="Outlet item")],
                    payment=PaymentInput(
                        provider_payment_id="pi_sim_ok_outlet100",
                        rail=Rail.CARD,
                        amount_minor=6000,
                        status=PaymentStatus.CAPTURED,
                        captured_at=now - timedelta(days=2),
                    ),
                ),
                merchant=merchant,
                actor=actor,
            )
        if not order.refunds.exists():
            refund_request(order=order, amount_minor=2000, currency="EUR", reason=Reason.GOODWILL, actor=actor)
        return raw_key
