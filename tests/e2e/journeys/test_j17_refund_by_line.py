"""Issue 15 journey 17: a refund by line over HTTP.

A merchant refunds some units of two lines of a three-line order: the amount
is computed from the lines with their tax, pro rata; the refund completes
through the simulator and the ledger balances; the detail lists the lines.
A second request for units already refunded is refused with
ERR.BUSINESS.refund.exceeds_remaining, and of racing requests for the last
unit exactly one gets it.
"""

from concurrent.futures import ThreadPoolExecutor

from core.errors import ERR_EXCEEDS_REMAINING
from ledger.services import trial_balance
from tests.support.merchant import push_order, wait_state

LINES = [
    {"sku": "TEE", "description": "T-shirt", "unit_amount_minor": 2000, "quantity": 3, "tax_minor": 600},
    {"sku": "MUG", "description": "Mug", "unit_amount_minor": 1200, "quantity": 2, "tax_minor": 240},
    {"sku": "SOCKS", "description": "Socks", "unit_amount_minor": 900, "quantity": 1, "tax_minor": 90},
]


def by_lines(*lines: tuple[str, int]) -> dict:
    return {
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        "currency": "USD",
        "reason": "not_received",
    }


def test_a_refund_by_line_completes_and_its_units_are_not_refunded_twice(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, lines=LINES)
    path = f"/v1/orders/{order_id}/refunds"

    created = stack_merchant.post(path, by_lines(("TEE", 2), ("MUG", 1)), **{"Idempotency-Key": "j17-a"})

    assert created.status_code == 202, created.text
    body = created.json()
    # 2 of 3 T-shirts: 4000 + 400 tax; 1 of 2 mugs: 1200 + 120 tax.
    assert body["amount_minor"] == 5720
    assert [(line["sku"], line["quantity"], line["tax_minor"]) for line in body["lines"]] == [
        ("TEE", 2, 400),
        ("MUG", 1, 120),
    ]
    assert sum(line["amount_minor"] for line in body["lines"]) == 5720

    again = stack_merchant.post(path, by_lines(("TEE", 2)), **{"Idempotency-Key": "j17-b"})

    assert again.status_code == 400, again.text
    assert again.json()["code"] == ERR_EXCEEDS_REMAINING

    refund = wait_state(stack_merchant, body["refund_id"], {"completed"})
    assert [(line["sku"], line["description"], line["quantity"]) for line in refund["lines"]] == [
        ("TEE", "T-shirt", 2),
        ("MUG", "Mug", 1),
    ]
    assert [e["type"] for e in refund["ledger_entries"]] == ["REFUND_PENDING", "REFUND_SETTLED"]
    assert [r["amount"] for r in stack.simulator.refunds_for(payment_id)] == [5720]
    assert stack_merchant.get(path).json()["remaining_refundable_minor"] == 10230 - 5720
    assert trial_balance()["USD"] == 0


def test_racing_requests_for_the_last_unit_refund_it_once(stack, stack_merchant):
    order_id, payment_id = push_order(stack_merchant, lines=LINES)
    path = f"/v1/orders/{order_id}/refunds"

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(
                lambda n: stack_merchant.post(path, by_lines(("SOCKS", 1)), **{"Idempotency-Key": f"j17-race-{n}"}),
                range(6),
            )
        )

    assert sorted(a.status_code for a in answers) == [202] + [400] * 5, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 400} == {ERR_EXCEEDS_REMAINING}
    (won,) = [a.json() for a in answers if a.status_code == 202]
    assert won["amount_minor"] == 990
    wait_state(stack_merchant, won["refund_id"], {"completed"})
    assert [r["amount"] for r in stack.simulator.refunds_for(payment_id)] == [990]
    assert len(stack_merchant.get(path).json()["refunds"]) == 1
