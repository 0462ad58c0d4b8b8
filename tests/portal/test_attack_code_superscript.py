"""Attack: crash the code step with a digit `int()` cannot read.

`portal.codes.normalise_code` keeps what `str.isdigit()` accepts and then
calls `int()` on each character. Superscripts ("²", U+00B2) and other
digit-like characters pass `isdigit()` but not `int()`: the ValueError is a
500 for anyone holding a pending session (no wrong attempt is counted on
the code or the session), where the answer must be "not right".
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.portal.conftest import ask_code, shop_order

pytestmark = pytest.mark.django_db


def test_a_superscript_digit_in_the_code_is_a_wrong_code_not_a_server_error():
    shop_order()
    client = Client(raise_request_exception=False)
    ask_code(client)

    response = client.post("/request/code/", {"code": "12345\u00b2"})

    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
