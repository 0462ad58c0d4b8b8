"""Issue 15 journey 19: a refund paid as store credit, redeemed at the merchant's checkout over HTTP.

The policy in force allows store credit with a 10 % bonus (drafted by one
risk user, approved by another, as every policy change). A merchant asks for
a store-credit refund: it is issued with a code and no provider call, the
credit holds the refund plus the bonus, and the checkout redeems it in parts
with Idempotency-Key: a retry returns the same redemption, a redemption over
the balance is refused, racing redemptions never take it below zero, and the
ledger balances throughout.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from core.errors import ERR_CREDIT_INSUFFICIENT, ERR_INSTRUMENT_NOT_ALLOWED
from devtools.mailbox import read_mailbox
from ledger.services import trial_balance
from refunds.enums import Role
from refunds.services.policy import policy_get_active
from refunds.services.policy_admin import policy_draft_approve, policy_draft_create
from tests.refunds.factories import UserFactory
from tests.support.live import wait_for
from tests.support.mailbox import mailbox_env
from tests.support.merchant import push_order, refund_body, wait_state
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def mailbox(tmp_path_factory) -> Path:
    """What the stack's worker emails to customers, as files (Django's file backend)."""
    return tmp_path_factory.mktemp("j19-mail")


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, mailbox):
    running = Stack(extra_env=mailbox_env(mailbox)).start()
    yield running
    running.stop()


@pytest.fixture
def store_credit_policy(transactional_db):
    """A policy version allowing store credit with a 10 % bonus, through the four-eyes path."""
    policy = policy_get_active()
    policy.store_credit_enabled, policy.store_credit_bonus_percent = True, 10
    draft = policy_draft_create(policy=policy, user=UserFactory(username="risk-a", role=Role.RISK))
    return policy_draft_approve(policy_id=draft.pk, user=UserFactory(username="risk-b", role=Role.RISK))


def redeem(client, code: str, amount_minor: int, key: str):
    body = {"amount_minor": amount_minor, "currency": "USD", "reference": f"checkout {key}"}
    return client.post(f"/v1/credits/{code}/redeem", body, **{"Idempotency-Key": key})


def test_store_credit_is_issued_with_a_code_and_redeemed_in_parts(stack, stack_merchant, store_credit_policy, mailbox):
    order_id, payment_id = push_order(stack_merchant, amount_minor=10000)

    created = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(4000, instrument="store_credit"), **{"Idempotency-Key": "j19"}
    )

    assert created.status_code == 202, created.text
    refund = wait_state(stack_merchant, created.json()["refund_id"], {"completed"})
    assert refund["instrument"] == "store_credit"
    credit = refund["store_credit"]
    assert credit["code"]
    # The credit's face value is the refund and its 10 % bonus, all of it unspent.
    assert (refund["amount_minor"], credit["currency"], credit["bonus_minor"]) == (4000, "USD", 400)
    assert credit["amount_minor"] == credit["balance_minor"] == 4400
    # Paid as credit: the provider was never asked.
    assert stack.simulator.refunds_for(payment_id) == []
    code = credit["code"]
    # The customer sees the code on the status page and in the email that says the refund is done.
    assert code in requests.get(refund["status_url"], timeout=10).text
    wait_for(
        lambda: [mail for mail in read_mailbox(mailbox) if code in mail.text and "buyer@example.com" in mail.to],
        message="the customer's email with the credit's code",
    )
    shown = stack_merchant.get(f"/v1/credits/{code}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["balance_minor"] == 4400

    first = redeem(stack_merchant, code, 1500, "checkout-1")
    second = redeem(stack_merchant, code, 2000, "checkout-2")
    retry = redeem(stack_merchant, code, 1500, "checkout-1")
    over = redeem(stack_merchant, code, 901, "checkout-3")

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert (first.json()["credit"]["balance_minor"], second.json()["credit"]["balance_minor"]) == (2900, 900)
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotency-Status"] == "replayed"
    assert (over.status_code, over.json()["code"]) == (422, ERR_CREDIT_INSUFFICIENT)
    assert stack_merchant.get(f"/v1/credits/{code}").json()["balance_minor"] == 900
    assert trial_balance()["USD"] == 0


def test_racing_redemptions_never_take_a_credit_below_zero(stack, stack_merchant, store_credit_policy):
    order_id, _ = push_order(stack_merchant, amount_minor=10000)
    created = stack_merchant.post(
        f"/v1/orders/{order_id}/refunds", refund_body(1000, instrument="store_credit"), **{"Idempotency-Key": "j19-r"}
    )
    code = wait_state(stack_merchant, created.json()["refund_id"], {"completed"})["store_credit"]["code"]

    # 1100 of credit (1000 and its 10 % bonus): three of eight redemptions of 300 fit.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: redeem(stack_merchant, code, 300, f"race-{n}"), range(8)))

    assert sorted(a.status_code for a in answers) == [201] * 3 + [422] * 5, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 422} == {ERR_CREDIT_INSUFFICIENT}
    assert stack_merchant.get(f"/v1/credits/{code}").json()["balance_minor"] == 200
    assert trial_balance()["USD"] == 0


def test_store_credit_is_refused_while_the_policy_does_not_allow_it(live_app, merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000)

    refused = merchant_http.post(
        f"/v1/orders/{order_id}/refunds", refund_body(4000, instrument="store_credit"), **{"Idempotency-Key": "j19-no"}
    )

    assert (refused.status_code, refused.json()["code"]) == (422, ERR_INSTRUMENT_NOT_ALLOWED)
    assert merchant_http.get(f"/v1/orders/{order_id}/refunds").json()["refunds"] == []
