"""Factories for the refunds app. Money and states are explicit in every test that cares."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.utils import timezone

from core.actor import Actor
from providers.registry import default_provider_name
from refunds.enums import PaymentStatus, Rail, Reason, RefundState, Role, Scope
from refunds.models import Customer, Order, OrderLine, Payment
from refunds.services.api_keys import api_key_create
from refunds.services.merchants import merchant_default
from refunds.services.request import refund_request
from refunds.services.transition import refund_lock, refund_transition


def captured_yesterday() -> str:
    """An ISO capture time well inside the default 60-day refund window, whatever today is."""
    return (timezone.now() - timedelta(days=1)).isoformat()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))


def staff_client(username: str, role: str | None = None, *, superuser: bool = False) -> Client:
    """A test client signed in as a staff user (the admin site's door) with `role`; the user is `client.user`."""
    user = UserFactory(username=username, role=role)
    user.is_staff = True
    user.is_superuser = superuser
    user.save()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    merchant = factory.LazyFunction(merchant_default)
    external_id = factory.Sequence(lambda n: f"cust-{n}")
    email = factory.LazyAttribute(lambda c: f"{c.external_id}@example.com")
    locale = "en"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    merchant = factory.LazyFunction(merchant_default)
    order_id = factory.Sequence(lambda n: f"ORD-{n:06d}")
    customer = factory.SubFactory(CustomerFactory, merchant=factory.SelfAttribute("..merchant"))
    currency = "USD"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    provider = factory.LazyFunction(default_provider_name)
    rail = Rail.CARD
    provider_payment_id = factory.Sequence(lambda n: f"pi_sim_ok_{n:08d}")
    amount_minor = 10000
    currency = factory.LazyAttribute(lambda p: p.order.currency)
    status = PaymentStatus.CAPTURED
    captured_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    line_no = factory.Sequence(lambda n: n + 1)
    unit_amount_minor = 9000
    quantity = 1
    tax_minor = 1000


def captured_order(*, amount_minor: int = 10000, currency: str = "USD", **payment_fields) -> Order:
    """An order with one captured payment of `amount_minor`."""
    payment = PaymentFactory(amount_minor=amount_minor, order__currency=currency, **payment_fields)
    return payment.order


def requester(username: str = "merchant") -> Actor:
    return Actor.for_user(UserFactory(username=username))


def merchant_system(username: str = "merchant-system", merchant: str | None = None) -> Actor:
    """The merchant system as the API sees it: a key (of the default merchant unless `merchant` names one)."""
    key, _ = api_key_create(username=username, scopes=ALL_SCOPES, merchant=merchant)
    return Actor.for_api_key(key)


def agent(username: str = "agent", role: str = Role.AGENT) -> Actor:
    return Actor.for_user(UserFactory(username=username, role=role))


def make_refund(*, order: Order, amount_minor: int, reason: str = Reason.OTHER, actor: Actor | None = None, **kwargs):
    return refund_request(
        order=order,
        amount_minor=amount_minor,
        currency=order.currency,
        reason=reason,
        actor=actor or requester(),
        **kwargs,
    )


ALL_SCOPES = list(Scope.values)


def api_key(
    username: str = "merchant", scopes: list[str] | None = None, role: str | None = None, merchant: str | None = None
) -> str:
    _, raw = api_key_create(username=username, scopes=scopes or ALL_SCOPES, role=role, merchant=merchant)
    return raw


def move_refund(refund, to: str, *, actor: Actor | None = None, **kwargs):
    """Move a refund as a service does: its locks and the one transition function, in one transaction.

    For tests whose subject is what follows a state, not the service that gets there.
    """
    with transaction.atomic():
        locked, payment = refund_lock(refund_id=refund.pk)
        refund_transition(locked, payment=payment, to=to, actor=actor or Actor.system("test"), **kwargs)
    return locked


def submitted_refund(*, amount_minor: int = 3000, order_amount: int = 10000, **payment_fields):
    """A refund reviewed (goodwill), approved and sent: `submitting`, its provider id not known yet."""
    order = captured_order(amount_minor=order_amount, **payment_fields)
    refund = make_refund(order=order, amount_minor=amount_minor, reason=Reason.GOODWILL)
    for state in (RefundState.APPROVED, RefundState.SUBMITTING):
        refund = move_refund(refund, state)
    return refund
