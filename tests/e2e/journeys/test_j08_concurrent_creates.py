"""SPEC §11 journey 8: 50 concurrent 30.00 refunds on a 100.00 order, from several
processes → exactly 3 accepted, remaining 10.00, ledger balanced."""

from concurrent.futures import ProcessPoolExecutor

import requests
from django.db.models import Sum

from core.errors import ERR_EXCEEDS_REMAINING
from ledger.models import JournalEntry, Posting
from ledger.services import trial_balance
from refunds.models import Refund
from tests.support.merchant import push_order, refund_body


def _fire(args: tuple[str, str, str, int]) -> tuple[int, str]:
    """Runs in a separate client process: one request, its own connection."""
    base_url, key, order_id, n = args
    response = requests.post(
        f"{base_url}/v1/orders/{order_id}/refunds",
        json=refund_body(3000),
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"concurrent-{n}"},
        timeout=60,
    )
    return response.status_code, response.json().get("code", "")


def test_fifty_concurrent_creates_accept_exactly_three(live_app, merchant_http):
    order_id, _ = push_order(merchant_http, amount_minor=10000)
    key = merchant_http.session.headers["Authorization"].split()[1]

    with ProcessPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(_fire, [(live_app.url, key, order_id, n) for n in range(50)]))

    accepted = [r for r in results if r[0] == 202]
    refused = [r for r in results if r[0] != 202]
    assert len(accepted) == 3
    assert set(refused) == {(400, ERR_EXCEEDS_REMAINING)}
    assert merchant_http.get(f"/v1/orders/{order_id}/refunds").json()["remaining_refundable_minor"] == 1000

    refunds = Refund.objects.filter(order__order_id=order_id)
    assert refunds.count() == 3
    assert refunds.aggregate(total=Sum("amount_minor"))["total"] == 9000
    assert JournalEntry.objects.filter(refund__in=refunds, entry_type="REFUND_PENDING").count() == 3
    assert trial_balance() == {"USD": 0}
    assert Posting.objects.aggregate(total=Sum("amount_minor"))["total"] == 0
