"""One-time codes as a service: single use and the attempt limit under concurrent guesses, the email task."""

from __future__ import annotations

import smtplib
import threading
from unittest import mock

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction

from portal.codes import (
    Verification,
    access_code_send,
    access_code_sweep,
    access_code_verify,
    access_codes_issue,
    normalise_code,
)
from portal.models import CODE_MAX_ATTEMPTS, AccessCode
from tests.portal.conftest import EMAIL, code_from_mail, shop_order

pytestmark = pytest.mark.django_db

NONCE = "session-nonce"


def _issued() -> tuple[list[int], str]:
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    access_code_send(code_id=ids[0])
    return ids, code_from_mail()


def _race(target, count: int) -> list:
    barrier, results = threading.Barrier(count), []

    def run() -> None:
        try:
            barrier.wait()
            results.append(target())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_guesses_never_pass_the_attempt_limit():
    shop_order()
    ids, code = _issued()
    wrong = "000000" if code != "000000" else "111111"
    results = _race(lambda: access_code_verify(code_ids=ids, nonce=NONCE, code=wrong), CODE_MAX_ATTEMPTS * 2)
    assert all(result.order is None for result in results)
    assert AccessCode.objects.get().attempts == CODE_MAX_ATTEMPTS
    assert access_code_verify(code_ids=ids, nonce=NONCE, code=code).order is None  # void now, even when right


@pytest.mark.django_db(transaction=True)
def test_the_right_code_sent_twice_at_once_opens_the_order_once():
    shop_order()
    ids, code = _issued()
    results = _race(lambda: access_code_verify(code_ids=ids, nonce=NONCE, code=code), 4)
    assert sum(result.order is not None for result in results) == 1


def test_the_code_is_bound_to_the_nonce_of_the_session_that_asked():
    shop_order()
    ids, code = _issued()
    assert access_code_verify(code_ids=ids, nonce="another-session", code=code).order is None
    assert AccessCode.objects.get().attempts == 0  # not even counted: the row is not this session's
    assert access_code_verify(code_ids=ids, nonce=NONCE, code=code).order is not None


def test_typed_spaces_and_dashes_are_ignored():
    shop_order()
    ids, code = _issued()
    assert access_code_verify(code_ids=ids, nonce=NONCE, code=f" {code[:3]}-{code[3:]} ").order is not None


def test_a_code_is_emailed_once_however_often_its_task_runs():
    shop_order()
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    assert [access_code_send(code_id=ids[0]) for _ in range(3)] == ["sent", "done", "done"]
    assert len(mail.outbox) == 1


def test_a_transient_smtp_error_is_retried_and_keeps_the_code_until_sent(django_capture_on_commit_callbacks):
    shop_order()
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=smtplib.SMTPServerDisconnected()),
        mock.patch("portal.codes.access_code_enqueue") as requeue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert access_code_send(code_id=ids[0]) == "retry"
    requeue.assert_called_once()
    assert AccessCode.objects.get().code_sealed != ""
    assert access_code_send(code_id=ids[0]) == "sent"


def test_a_refused_address_is_given_up_and_the_code_forgotten():
    shop_order()
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    refused = smtplib.SMTPRecipientsRefused({EMAIL: (550, b"no such user")})
    with mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=refused):
        assert access_code_send(code_id=ids[0]) == "failed"
    assert AccessCode.objects.get().code_sealed == ""


def test_the_sweeper_requeues_a_code_whose_task_was_lost():
    shop_order()
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    AccessCode.objects.update(created_at="2000-01-01T00:00:00Z")
    with mock.patch("portal.codes.access_code_enqueue", return_value=True) as enqueue:
        assert access_code_sweep() == 1
    enqueue.assert_called_once_with(ids[0])


def test_an_expired_code_is_never_sent():
    shop_order()
    ids = access_codes_issue(order_id="1002", email=EMAIL, nonce=NONCE, language="en")
    AccessCode.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert access_code_send(code_id=ids[0]) == "expired"
    assert mail.outbox == [] and AccessCode.objects.get().code_sealed == ""


def test_a_miss_writes_a_decoy_and_queues_a_task_that_sends_nothing(django_capture_on_commit_callbacks):
    from portal.codes import send_access_code

    shop_order()
    with (
        mock.patch("portal.codes.access_code_enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        ids = access_codes_issue(order_id="9999", email=EMAIL, nonce=NONCE, language="en")
    decoy = AccessCode.objects.get()
    assert ids == [decoy.pk] and decoy.order_id is None and decoy.code_sealed == ""
    enqueue.assert_called_once_with(decoy.pk)
    assert send_access_code.run(code_id=decoy.pk) == "none"
    assert send_access_code.run(code_id=None) == "none"  # a task queued by the release before decoys
    assert mail.outbox == [] and access_code_sweep() == 0


def test_a_decoy_never_opens_anything_and_counts_wrong_guesses_like_a_code():
    ids = access_codes_issue(order_id="9999", email=EMAIL, nonce=NONCE, language="en")
    for _ in range(CODE_MAX_ATTEMPTS - 1):
        assert access_code_verify(code_ids=ids, nonce=NONCE, code="000000") == Verification(None, exhausted=False)
    assert access_code_verify(code_ids=ids, nonce=NONCE, code="000000") == Verification(None, exhausted=True)
    assert AccessCode.objects.get().attempts == CODE_MAX_ATTEMPTS


def test_the_database_refuses_a_decoy_that_holds_a_code_or_is_used():
    ids = access_codes_issue(order_id="9999", email=EMAIL, nonce=NONCE, language="en")
    for change in ({"code_sealed": "sealed"}, {"code_sealed": "", "used_at": "2030-01-01T00:00:00Z"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            AccessCode.objects.filter(pk__in=ids).update(**change)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("123-456", "123456"),
        ("\u0661\u0662\u0663\u0664\u0665\u0666", "123456"),  # Arabic-Indic, as an Arabic phone keyboard types
        ("\uff11\uff12\uff13\uff14\uff15\uff16", "123456"),  # full-width
        ("12345\u00b2", ""),  # a superscript is not a digit one types
        ("\u2460\u2461\u2462\u2463\u2464\u2465", ""),  # circled digits
        ("12345", ""),
        ("1234567", ""),
        ("12a456", ""),
        ("", ""),
    ],
)
def test_only_decimal_digits_make_a_code(typed, read):
    assert normalise_code(typed) == read


@pytest.mark.parametrize("order_id", ["1002", "9999"], ids=["code", "decoy"])
def test_a_malformed_code_is_counted_as_a_wrong_one_with_or_without_an_order(order_id):
    shop_order()
    ids = access_codes_issue(order_id=order_id, email=EMAIL, nonce=NONCE, language="en")
    assert access_code_verify(code_ids=ids, nonce=NONCE, code="12345\u00b2").order is None
    assert AccessCode.objects.get().attempts == 1
