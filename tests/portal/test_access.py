"""Who may see an order in the portal: attacks first (enumeration, guessing, reuse, other sessions, links)."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client

from portal.models import CODE_MAX_ATTEMPTS, AccessCode
from refunds.services.request_links import SALT, request_link_make
from tests.portal.conftest import EMAIL, ask_code, code_from_mail, send_pending_codes, shop_order, verified_client

pytestmark = pytest.mark.django_db

SAME_ANSWER = "If an order matches what you entered, we sent a code to that address."


def _code_page(client: Client, response) -> str:
    assert response.status_code == 302 and response.url == "/request/code/"
    return client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("order_id", "email"),
    [("1002", EMAIL), ("9999", EMAIL), ("1002", "someone.else@example.com")],
    ids=["match", "unknown_order", "wrong_email"],
)
def test_the_answer_is_the_same_whether_or_not_an_order_matches(order_id, email):
    shop_order()
    client = Client()
    page = _code_page(client, ask_code(client, order_id=order_id, email=email))
    assert SAME_ANSWER in page
    assert "1002" not in page and "Blue mug" not in page


def _decoys_only() -> bool:
    """Every row is a decoy: no order, no code kept, never sent."""
    rows = list(AccessCode.objects.values_list("order_id", "code_sealed", "sent_at"))
    return bool(rows) and all(row == (None, "", None) for row in rows)


def test_no_code_is_stored_or_sent_for_an_unknown_order_or_a_wrong_email():
    shop_order()
    for order_id, email in (("9999", EMAIL), ("1002", "someone.else@example.com")):
        ask_code(Client(), order_id=order_id, email=email)
    send_pending_codes()
    assert AccessCode.objects.count() == 2 and _decoys_only()
    assert mail.outbox == []


def test_the_address_matches_whatever_its_case_and_the_code_is_emailed_only_by_the_task():
    shop_order()
    ask_code(Client(), email="  JANE.doe@example.COM ")
    assert mail.outbox == []  # never sent within the request
    send_pending_codes()
    assert [m.to for m in mail.outbox] == [[EMAIL]]
    assert mail.outbox[0].extra_headers["X-Refund-Message"] == "portal.code"


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_is_sent():
    shop_order()
    client = Client()
    page = _code_page(client, ask_code(client, website="https://spam.example"))
    assert SAME_ANSWER in page
    send_pending_codes()
    assert AccessCode.objects.count() == 1 and _decoys_only() and mail.outbox == []


NOT_PLAIN = "Type the address in plain letters (a–z), digits and punctuation"


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe@example.\u0441om",  # a Cyrillic "с": UPPER() and lower() agree, yet it is a look-alike
        "jane.doe@ex\u00e4mple.com",  # an internationalised domain
        "j\u0131ne.doe@example.com",  # dotless i: UPPER() makes it "I", lower() and casefold() leave it
    ],
    ids=["cyrillic", "accented", "dotless_i"],
)
def test_an_address_that_is_not_plain_ascii_is_refused_with_a_clear_message(settings, email):
    settings.PORTAL_CODES_PER_ADDRESS_PER_HOUR = 1
    shop_order()
    refused = ask_code(Client(), email=email)
    assert refused.status_code == 400 and NOT_PLAIN in refused.content.decode()
    assert AccessCode.objects.count() == 0
    # Nothing was charged: the real address still has its budget.
    assert ask_code(Client()).status_code == 302


def test_the_plain_address_message_is_translated():
    page = ask_code(Client(HTTP_ACCEPT_LANGUAGE="de"), email="j\u0131ne.doe@example.com").content.decode()
    assert "einfachen Buchstaben" in page and NOT_PLAIN not in page


def test_a_look_alike_that_folds_to_plain_ascii_is_the_address_itself(settings):
    settings.PORTAL_CODES_PER_ADDRESS_PER_HOUR = 1
    shop_order(email="sam@example.com")
    folded = ask_code(Client(), email="\u017fam@EXAMPLE.com")  # long s; NFKC and casefold make it "s"
    assert folded.status_code == 302
    assert ask_code(Client(), email="sam@example.com").status_code == 429  # one address, one budget
    send_pending_codes()
    assert [m.to for m in mail.outbox] == [["sam@example.com"]]


def test_the_honeypot_is_hidden_from_people_and_assistive_technology():
    page = Client().get("/request/").content.decode()
    assert '<div class="hp" aria-hidden="true">' in page
    assert 'name="website"' in page and 'tabindex="-1"' in page


def test_a_code_is_stored_as_a_digest_and_its_plaintext_is_gone_once_sent():
    shop_order()
    ask_code(Client())
    row = AccessCode.objects.get()
    assert row.code_sealed and len(row.code_digest) == 32
    send_pending_codes()
    code = code_from_mail()
    row.refresh_from_db()
    assert row.code_sealed == "" and code not in row.code_digest


def test_guessing_the_code_stops_after_the_attempt_limit_even_with_the_right_code_last():
    shop_order()
    client = Client()
    ask_code(client)
    send_pending_codes()
    code = code_from_mail()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(CODE_MAX_ATTEMPTS - 1):
        assert client.post("/request/code/", {"code": wrong}).status_code == 400
    last = client.post("/request/code/", {"code": wrong})
    assert "tried too often" in last.content.decode()
    assert AccessCode.objects.get().attempts == CODE_MAX_ATTEMPTS
    response = client.post("/request/code/", {"code": code})
    assert response.status_code == 302 and response.url == "/request/"  # nothing pending any more
    assert client.get("/request/order/").status_code == 403


def test_guesses_for_an_order_that_does_not_exist_run_out_the_same_way():
    client = Client()
    ask_code(client, order_id="9999")
    answers = [client.post("/request/code/", {"code": "123456"}) for _ in range(CODE_MAX_ATTEMPTS)]
    assert [a.status_code for a in answers] == [400] * CODE_MAX_ATTEMPTS
    assert "not right" in answers[0].content.decode()
    assert "tried too often" in answers[-1].content.decode()


def test_the_attempt_counter_cannot_pass_the_limit_in_the_database():
    from django.db import IntegrityError, transaction

    shop_order()
    ask_code(Client())
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessCode.objects.update(attempts=CODE_MAX_ATTEMPTS + 1)


def test_a_code_works_once():
    shop_order()
    client = Client()
    ask_code(client)
    send_pending_codes()
    code = code_from_mail()
    assert client.post("/request/code/", {"code": code}).url == "/request/order/"
    # Asked again in the same browser (a new pending record) the old code no longer opens anything.
    ask_code(client, order_id="9999")
    again = client.post("/request/code/", {"code": code})
    assert again.status_code == 400


def test_another_browser_cannot_use_the_code():
    shop_order()
    asker, other = Client(), Client()
    ask_code(asker)
    send_pending_codes()
    code = code_from_mail()
    # The other browser asked for nothing: it has no pending code at all.
    assert other.post("/request/code/", {"code": code}).url == "/request/"
    # It asks too (a code for itself): the asker's code still does not open the order there.
    ask_code(other)
    assert other.post("/request/code/", {"code": code}).status_code == 400
    assert other.get("/request/order/").status_code == 403
    assert asker.post("/request/code/", {"code": code}).url == "/request/order/"


def test_a_session_id_planted_before_the_code_does_not_carry_the_access():
    shop_order()
    victim = Client()
    ask_code(victim)
    planted = victim.cookies["sessionid"].value
    send_pending_codes()
    assert victim.post("/request/code/", {"code": code_from_mail()}).url == "/request/order/"
    assert victim.cookies["sessionid"].value != planted
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get("/request/order/").status_code == 403


def test_an_expired_code_does_not_open_the_order():
    shop_order()
    client = Client()
    ask_code(client)
    send_pending_codes()
    AccessCode.objects.update(expires_at="2000-01-01T00:00:00Z")
    response = client.post("/request/code/", {"code": code_from_mail()})
    assert response.status_code == 400 and "expired" in response.content.decode()


def test_a_verified_session_sees_only_its_own_order(globex):
    mine = shop_order()
    other = shop_order(order_id="1003", email="other@example.com")
    client = verified_client()
    page = client.get("/request/order/").content.decode()
    assert "Blue mug" in page and "1002" in page and "1003" not in page
    from tests.refunds.factories import make_refund

    theirs = make_refund(order=other, amount_minor=1000)
    # Another order's refund answers like no access at all; the order page has no id to change.
    assert client.get(f"/request/done/{theirs.public_id}/").status_code == 403
    assert mine.pk != other.pk


def test_access_runs_out(settings):
    shop_order()
    client = verified_client()
    session = client.session
    session["portal_access"]["until"] = time.time() - 1
    session.save()
    assert client.get("/request/order/").status_code == 403


def test_the_same_order_id_at_two_merchants_sends_a_code_per_matching_order(globex):
    shop_order()
    shop_order(merchant=globex)
    client = Client()
    ask_code(client)
    send_pending_codes()
    assert len(mail.outbox) == 2
    assert "Globex" in mail.outbox[1].body and "Globex" not in mail.outbox[0].body
    # Each code opens its own merchant's order.
    client.post("/request/code/", {"code": code_from_mail(1)})
    assert AccessCode.objects.filter(used_at__isnull=False).get().order.merchant == globex


# --- signed links -----------------------------------------------------------------------------------------------------


def test_a_signed_link_opens_its_order_and_leaves_the_address_bar():
    order = shop_order()
    link = request_link_make(order=order)
    client = Client()
    response = client.get(link.url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 302 and response.url == "/request/order/"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "Blue mug" in client.get("/request/order/").content.decode()


def test_the_link_does_not_carry_the_address_in_clear():
    order = shop_order()
    url = request_link_make(order=order).url
    payload = signing.loads(url.rstrip("/").rsplit("/", 1)[1], salt=SALT)
    assert "jane" not in str(payload).lower() and EMAIL.lower() not in url.lower()


@pytest.mark.parametrize("attack", ["tampered", "other_order", "wrong_salt", "expired", "address_changed"])
def test_a_bad_link_shows_the_friendly_page_offering_the_code(attack, settings):
    order = shop_order()
    shop_order(order_id="1003", email=EMAIL)
    signed = request_link_make(order=order).url.rstrip("/").rsplit("/", 1)[1]
    if attack == "tampered":
        signed = signed[:-3] + ("AAA" if signed[-3:] != "AAA" else "BBB")
    elif attack == "other_order":
        # Swapping the order id in the payload breaks the signature.
        _, _, rest = signed.partition(":")
        signed = signing.dumps({"m": order.merchant_id, "o": "1003"}, salt=SALT).partition(":")[0] + ":" + rest
    elif attack == "wrong_salt":
        signed = signing.dumps({"m": order.merchant_id, "o": "1003", "e": "x"}, salt="another")
    elif attack == "expired":
        made = time.time() - (settings.PORTAL_LINK_MAX_AGE_DAYS * 86400 + 60)
        with mock.patch("django.core.signing.time.time", return_value=made):
            signed = request_link_make(order=order).url.rstrip("/").rsplit("/", 1)[1]
    elif attack == "address_changed":
        order.customer.email = "new.address@example.com"
        order.customer.save()
    client = Client()
    response = client.get(f"/request/{signed}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "This link is not valid" in page and 'href="/request/"' in page
    assert client.get("/request/order/").status_code == 403


# --- budgets and CSRF -----------------------------------------------------------------------------------------------


def test_codes_for_one_address_are_limited_whatever_the_order_id(settings):
    settings.PORTAL_CODES_PER_ADDRESS_PER_HOUR = 2
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 100
    shop_order()
    answers = [ask_code(Client(), order_id=f"X{n}").status_code for n in range(2)]
    over = ask_code(Client())
    assert answers == [302, 302] and over.status_code == 429
    assert "Too many attempts" in over.content.decode() and int(over["Retry-After"]) > 0
    send_pending_codes()
    assert mail.outbox == []  # the third, for the real order, was refused before any lookup


def test_codes_for_one_order_id_are_limited_whatever_the_address(settings):
    settings.PORTAL_CODES_PER_ORDER_PER_HOUR = 2
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 100
    for n in range(2):
        assert ask_code(Client(), email=f"guess{n}@example.com").status_code == 302
    assert ask_code(Client(), email="guess9@example.com").status_code == 429


def test_one_client_is_limited_across_addresses_and_orders(settings):
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 3
    client = Client()
    statuses = [ask_code(client, order_id=f"X{n}", email=f"a{n}@example.com").status_code for n in range(4)]
    assert statuses == [302, 302, 302, 429]


@pytest.mark.parametrize("language", ["de", "ar"])
def test_the_rate_limit_message_is_translated(settings, language):
    settings.PORTAL_REQUESTS_PER_CLIENT_PER_HOUR = 1
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    ask_code(client, order_id="A")
    over = ask_code(client, order_id="B")
    assert over.status_code == 429
    assert "Too many attempts" not in over.content.decode()
    assert f'lang="{language}"' in over.content.decode()


def test_the_forms_refuse_a_post_without_the_csrf_token():
    shop_order()
    client = Client(enforce_csrf_checks=True)
    assert ask_code(client).status_code == 403
    assert client.post("/request/code/", {"code": "123456"}).status_code == 403
    verified = verified_client()
    verified.handler.enforce_csrf_checks = True
    assert verified.post("/request/order/", {"reason": "quality"}).status_code == 403
    assert AccessCode.objects.count() == 1


def test_signing_out_ends_the_access():
    shop_order()
    client = verified_client()
    assert client.post("/request/leave/").url == "/request/"
    assert client.get("/request/order/").status_code == 403
