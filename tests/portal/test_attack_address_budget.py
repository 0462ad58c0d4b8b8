"""Attack: mail one customer more codes than the per-address budget allows, with look-alike spellings.

The budget is keyed by `email.strip().lower()` in Python
(portal.ratelimit.code_request_wait); the lookup matches with `iexact`, which
PostgreSQL runs as UPPER(a) = UPPER(b). The two disagree on letters such as
the long s "ſ" (U+017F: lower() leaves it, UPPER() makes it "S") and the
dotless i "ı" (U+0131 → "I"); Django's EmailField accepts both (its pattern
is case-insensitive). "ſam@example.com" therefore reaches sam@example.com's
orders on a fresh budget: every s or i of an address doubles how many code
emails one can make us send to it per hour.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.portal.conftest import ask_code, send_pending_codes, shop_order

pytestmark = pytest.mark.django_db

ADDRESS = "sam@example.com"


def test_a_look_alike_spelling_of_the_address_is_charged_to_the_same_budget(settings):
    settings.PORTAL_CODES_PER_ADDRESS_PER_HOUR = 2
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 0
    settings.PORTAL_CODES_PER_ORDER_PER_HOUR = 0
    for order_id in ("A1", "A2", "A3"):
        shop_order(order_id=order_id, email=ADDRESS)
    assert [ask_code(Client(), order_id=o, email=ADDRESS).status_code for o in ("A1", "A2")] == [302, 302]
    assert ask_code(Client(), order_id="A3", email=ADDRESS).status_code == 429

    look_alike = ask_code(Client(), order_id="A3", email="\u017fam@example.com")

    send_pending_codes()
    assert look_alike.status_code == 429, "the per-address budget was bypassed"
    assert [m.to for m in mail.outbox] == [[ADDRESS], [ADDRESS]]
