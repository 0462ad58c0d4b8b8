"""`api.rendering`: one serializer per class and thread renders every object as a new one would."""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from rest_framework.renderers import JSONRenderer

from api.rendering import rendered
from api.serializers import RefundCreateOutput
from events.documents import RefundOutput
from refunds.enums import RefundState
from refunds.selectors import refund_documents_queryset
from tests.api.conftest import create
from tests.refunds.factories import captured_order, move_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunds(merchant):
    """Refunds unlike each other: auto-approved, under review, canceled, completed."""
    made = []
    for n, (amount, reason) in enumerate([(700, "not_received"), (900, "goodwill"), (1100, "other")]):
        order = captured_order(amount_minor=10000)
        made.append(create(merchant, order.order_id, key=f"r-{n}", amount_minor=amount, reason=reason).json())
    queryset = refund_documents_queryset()
    first = queryset.get(public_id=made[0]["refund_id"])
    move_refund(queryset.get(public_id=made[2]["refund_id"]), RefundState.CANCELED)
    for state in (RefundState.SUBMITTING, RefundState.PROVIDER_PENDING, RefundState.COMPLETED):
        first = move_refund(first, state)
    return list(refund_documents_queryset().filter(public_id__in=[m["refund_id"] for m in made]))


def test_every_refund_renders_as_a_new_serializer_renders_it_in_any_order(refunds):
    for refund in [*refunds, *reversed(refunds), *refunds]:
        assert rendered(RefundOutput, refund) == RefundOutput(refund).data
        assert JSONRenderer().render(rendered(RefundOutput, refund)) == JSONRenderer().render(RefundOutput(refund).data)
        assert rendered(RefundCreateOutput, refund) == RefundCreateOutput(refund).data
    assert len({rendered(RefundOutput, r)["state"] for r in refunds}) == 3


@pytest.mark.django_db(transaction=True)
def test_threads_render_side_by_side_without_mixing_refunds(refunds):
    expected = {r.public_id: JSONRenderer().render(RefundOutput(r).data) for r in refunds}
    problems: list[str] = []
    start = threading.Barrier(4, timeout=30)

    def render_many() -> None:
        try:
            start.wait()
            for _ in range(50):
                for refund in refunds:
                    if JSONRenderer().render(rendered(RefundOutput, refund)) != expected[refund.public_id]:
                        problems.append(refund.public_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=render_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert problems == []
