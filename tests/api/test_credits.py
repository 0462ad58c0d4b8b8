"""`GET /v1/credits/{code}` and `POST /v1/credits/{code}/redeem` (issue 15, docs/api.md "Store credit")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import (
    ERR_AUTHZ_SCOPE,
    ERR_CONFLICT_IDEMPOTENCY,
    ERR_CREDIT_EXPIRED,
    ERR_CREDIT_INSUFFICIENT,
    ERR_IDEMPOTENCY_KEY_MISSING,
    ERR_INSTRUMENT_NOT_ALLOWED,
    ERR_NOT_FOUND,
    ERR_RATE_LIMITED,
)
from credits.models import StoreCredit, StoreCreditRedemption
from refunds.enums import Scope
from tests.api.conftest import create
from tests.credits.factories import issued_credit, store_credit_policy
from tests.refunds.factories import captured_order

pytestmark = pytest.mark.django_db


def redeem(client, code: str, amount_minor: int = 1000, key: str | None = "r-1", **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    payload = {"amount_minor": amount_minor, "currency": "USD", **body}
    return client.post(f"/v1/credits/{code}/redeem", payload, format="json", **headers)


# --- the attacks first ------------------------------------------------------------


def test_another_merchants_code_is_404_exactly_like_an_unknown_one(globex, client_for):
    credit = issued_credit()
    thief = client_for("globex-system", merchant="globex")
    theirs = thief.get(f"/v1/credits/{credit.code}")
    unknown = thief.get("/v1/credits/SC-2345-6789-ABCD")
    assert theirs.status_code == unknown.status_code == 404
    assert {k: v for k, v in theirs.json().items() if k != "correlation_id"} == {
        k: v for k, v in unknown.json().items() if k != "correlation_id"
    }
    spent = redeem(thief, credit.code, 100)
    assert spent.status_code == 404 and spent.json()["code"] == ERR_NOT_FOUND
    credit.refresh_from_db()
    assert credit.balance_minor == credit.amount_minor


@override_settings(RATE_LIMIT_CREDIT_MISSES_PER_MINUTE=3)
def test_guessing_codes_is_rate_limited_per_key(client_for):
    credit = issued_credit()
    guesser = client_for()
    answers = [guesser.get(f"/v1/credits/SC-2345-6789-ABC{c}").status_code for c in "DEFG"]
    assert answers == [404, 404, 404, 429]
    # Even a real code is refused once the key has been guessing.
    limited = guesser.get(f"/v1/credits/{credit.code}")
    assert limited.status_code == 429 and limited.json()["code"] == ERR_RATE_LIMITED
    # Another key is not held back by the guesser's misses.
    assert client_for("checkout").get(f"/v1/credits/{credit.code}").status_code == 200


def test_each_operation_needs_its_own_scope(client_for):
    credit = issued_credit()
    reader = client_for("reader", scopes=[Scope.CREDITS_READ])
    spender = client_for("spender", scopes=[Scope.CREDITS_REDEEM])
    refunds_only = client_for("refunds", scopes=[Scope.REFUNDS_READ])
    assert reader.get(f"/v1/credits/{credit.code}").status_code == 200
    assert redeem(reader, credit.code).json()["code"] == ERR_AUTHZ_SCOPE
    assert spender.get(f"/v1/credits/{credit.code}").json()["code"] == ERR_AUTHZ_SCOPE
    assert redeem(spender, credit.code).status_code == 201
    assert refunds_only.get(f"/v1/credits/{credit.code}").status_code == 403


# --- the contract -----------------------------------------------------------------


def test_a_credit_reads_with_its_balance_and_redemptions(merchant):
    credit = issued_credit(amount_minor=5000, bonus_percent=10)
    redeem(merchant, credit.code, 2000, reference="checkout 1")
    body = merchant.get(f"/v1/credits/{credit.code.lower()}").json()
    assert body["code"] == credit.code
    assert (body["amount_minor"], body["bonus_minor"], body["balance_minor"]) == (5500, 500, 3500)
    assert body["status"] == "active" and body["currency"] == "USD"
    assert body["refund_id"] == credit.refund.public_id
    assert [(r["amount_minor"], r["reference"]) for r in body["redemptions"]] == [(2000, "checkout 1")]


def test_partial_redemptions_then_insufficient_balance(merchant):
    credit = issued_credit(amount_minor=5000)
    first = redeem(merchant, credit.code, 3000, key="a")
    assert first.status_code == 201
    body = first.json()
    assert body["redemption_id"].startswith("scr_")
    assert body["balance_after_minor"] == 2000 and body["credit"]["balance_minor"] == 2000
    refused = redeem(merchant, credit.code, 2001, key="b")
    assert refused.status_code == 422
    assert refused.json()["code"] == ERR_CREDIT_INSUFFICIENT
    assert refused.json()["details"]["balance_minor"] == 2000
    last = redeem(merchant, credit.code, 2000, key="c")
    assert last.json()["credit"]["status"] == "spent"


def test_a_retry_with_the_same_key_answers_the_same_redemption(merchant):
    credit = issued_credit(amount_minor=5000)
    first = redeem(merchant, credit.code, 1000, key="same")
    again = redeem(merchant, credit.code, 1000, key="same")
    assert again.status_code == 201 and again["Idempotency-Status"] == "replayed"
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert StoreCreditRedemption.objects.filter(credit=credit).count() == 1
    conflict = redeem(merchant, credit.code, 1500, key="same")
    assert conflict.status_code == 409 and conflict.json()["code"] == ERR_CONFLICT_IDEMPOTENCY


def test_the_same_key_from_another_api_key_of_the_merchant_spends_once(client_for):
    credit = issued_credit(amount_minor=5000)
    first = redeem(client_for("till-1"), credit.code, 1000, key="checkout-88")
    second = redeem(client_for("till-2"), credit.code, 1000, key="checkout-88")
    assert first.json()["redemption_id"] == second.json()["redemption_id"]
    credit.refresh_from_db()
    assert credit.balance_minor == 4000


def test_the_idempotency_key_is_required(merchant):
    credit = issued_credit()
    response = redeem(merchant, credit.code, key=None)
    assert response.status_code == 400 and response.json()["code"] == ERR_IDEMPOTENCY_KEY_MISSING


def test_an_expired_credit_reads_expired_and_refuses_to_be_spent(merchant):
    credit = issued_credit()
    StoreCredit.objects.filter(pk=credit.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    body = merchant.get(f"/v1/credits/{credit.code}").json()
    assert body["status"] == "expired" and body["balance_minor"] == 0
    refused = redeem(merchant, credit.code, 100)
    assert refused.status_code == 422 and refused.json()["code"] == ERR_CREDIT_EXPIRED


@pytest.mark.parametrize("amount", [0, -1, "100", 1.5])
def test_malformed_amounts_are_refused_before_anything(merchant, amount):
    credit = issued_credit()
    assert redeem(merchant, credit.code, amount).status_code == 400
    assert not StoreCreditRedemption.objects.exists()


def test_store_credit_is_requested_through_the_refund_api_and_shown_on_the_refund(merchant):
    store_credit_policy(bonus_percent=10)
    order = captured_order()
    response = create(merchant, order.order_id, amount_minor=2000, instrument="store_credit")
    assert response.status_code == 202 and response.json()["state"] == "completed"
    detail = merchant.get(f"/v1/refunds/{response.json()['refund_id']}").json()
    credit = detail["store_credit"]
    assert credit["code"].startswith("SC-") and credit["amount_minor"] == 2200 and credit["bonus_minor"] == 200
    assert merchant.get(f"/v1/credits/{credit['code']}").json()["balance_minor"] == 2200
    assert [e["type"] for e in detail["ledger_entries"]] == ["REFUND_PENDING", "STORE_CREDIT_ISSUED"]


def test_store_credit_is_refused_when_the_policy_does_not_offer_it(merchant):
    order = captured_order()
    response = create(merchant, order.order_id, amount_minor=2000, instrument="store_credit")
    assert response.status_code == 422 and response.json()["code"] == ERR_INSTRUMENT_NOT_ALLOWED


def test_a_refund_read_with_its_credit_keeps_the_read_budget(merchant):
    store_credit_policy()
    order = captured_order()
    refund_id = create(merchant, order.order_id, amount_minor=2000, instrument="store_credit").json()["refund_id"]
    with CaptureQueriesContext(connection) as queries:
        assert merchant.get(f"/v1/refunds/{refund_id}").status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # The budget of any refund read (tests/api/test_refunds.py): the credit is joined, not read on its own.
    assert len(reads) == 2, [q[:90] for q in reads]
