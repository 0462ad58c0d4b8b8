"""Attack: tell whether an order id and address match by sending wrong codes in one burst.

The portal promises "the same answer is given whether or not the order
exists". Wrong codes are counted in two places: on the code rows (locked,
exact) when an order matched, and only in the session's `misses` otherwise
(portal.views.code). A session is read at the start of a request and
written at its end, so parallel requests of one session each see the same
count: without an order, a burst of ten wrong codes answers "not right" ten
times; with one, the rows run out after CODE_MAX_ATTEMPTS and the rest of the
burst answers "tried too often". One burst per guess tells the two apart.
The burst is lined up with a barrier after each request has read its session.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from portal import views
from portal.models import CODE_MAX_ATTEMPTS
from tests.portal.conftest import ask_code, shop_order

NOT_RIGHT = "That code is not right"
TOO_OFTEN = "tried too often"
BURST = CODE_MAX_ATTEMPTS * 2


def burst_answers(monkeypatch, *, order_id: str) -> list[str]:
    asker = Client()
    ask_code(asker, order_id=order_id)
    cookie = asker.cookies["sessionid"].value
    barrier = threading.Barrier(BURST)
    real_verify = views.access_code_verify

    def verify_after_all_read_their_session(**kwargs):
        barrier.wait(timeout=30)
        return real_verify(**kwargs)

    monkeypatch.setattr(views, "access_code_verify", verify_after_all_read_their_session)
    answers: list[str] = []

    def guess() -> None:
        try:
            client = Client()
            client.cookies["sessionid"] = cookie
            body = client.post("/request/code/", {"code": "000000"}).content.decode()
            answers.append("not right" if NOT_RIGHT in body else "too often" if TOO_OFTEN in body else body[:200])
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(views, "access_code_verify", real_verify)
    return sorted(answers)


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_wrong_codes_answers_the_same_whether_or_not_the_order_exists(settings, monkeypatch):
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 0
    shop_order(order_id="1002")

    existing = burst_answers(monkeypatch, order_id="1002")
    missing = burst_answers(monkeypatch, order_id="9999")

    assert len(existing) == len(missing) == BURST
    assert existing == missing, f"order exists: {existing}; no such order: {missing}"
