import pytest

from core.errors import ERR_CONFLICT_IDEMPOTENCY, ERR_EXCEEDS_REMAINING
from refunds.models import Refund
from tests.api.conftest import create
from tests.refunds.factories import captured_order

pytestmark = pytest.mark.django_db


def test_same_key_same_body_replays_the_first_answer(merchant):
    order = captured_order(amount_minor=10000)
    first = create(merchant, order.order_id, key="abc", amount_minor=3000)
    second = create(merchant, order.order_id, key="abc", amount_minor=3000)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert first["Idempotency-Status"] == "created"
    assert second["Idempotency-Status"] == "replayed"
    assert Refund.objects.count() == 1


def test_same_key_other_body_is_409(merchant):
    order = captured_order(amount_minor=10000)
    create(merchant, order.order_id, key="abc", amount_minor=3000)
    response = create(merchant, order.order_id, key="abc", amount_minor=3001)
    assert response.status_code == 409
    assert response.json()["code"] == ERR_CONFLICT_IDEMPOTENCY
    assert Refund.objects.count() == 1


def test_keys_are_scoped_per_api_key(client_for):
    order = captured_order(amount_minor=10000)
    a, b = client_for("merchant-a"), client_for("merchant-b")
    assert create(a, order.order_id, key="same").status_code == 202
    assert create(b, order.order_id, key="same")["Idempotency-Status"] == "created"
    assert Refund.objects.count() == 2


def test_business_refusal_is_replayed_too(merchant):
    order = captured_order(amount_minor=1000)
    first = create(merchant, order.order_id, key="big", amount_minor=5000)
    second = create(merchant, order.order_id, key="big", amount_minor=5000)
    assert first.json()["code"] == ERR_EXCEEDS_REMAINING
    assert second.status_code == 400 and second["Idempotency-Status"] == "replayed"
    assert second.json() == first.json()
