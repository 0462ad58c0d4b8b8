"""Reading the provider side: Stripe's balance report and the refund list layout, exactly and strictly."""

import io

import pytest

from reconciliation.sources import ReportFormatError, major_to_minor_text, parse_created, rows_from_csv

STRIPE_HEADER = (
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,"
    "payment_intent_id,refund_metadata[refund_id]\n"
)


def rows(text: str) -> list[tuple]:
    return list(rows_from_csv(io.StringIO(text)))


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("-12.30", "USD", 1230),
        ("12.3", "USD", 1230),
        ("-0.01", "USD", 1),
        ("1000", "JPY", 1000),
        ("-1.234", "KWD", 1234),
        ("5", "EUR", 500),
        ("7.100", "EUR", 710),
        (" -19.99 ", "GBP", 1999),
    ],
)
def test_major_amounts_become_exact_minor_units(text, currency, minor):
    assert major_to_minor_text(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.345", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("", "USD"), ("1,50", "EUR"), ("10", "XXX")],
)
def test_amounts_that_cannot_be_read_exactly_are_refused(text, currency):
    with pytest.raises(ValueError):
        major_to_minor_text(text, currency)


def test_created_reads_unix_seconds_and_iso_times_as_utc():
    assert parse_created("1700000000") == 1700000000
    assert parse_created("2023-11-14 22:13:20") == 1700000000
    assert parse_created("2023-11-14T23:13:20+01:00") == 1700000000
    assert parse_created("") is None


def test_stripe_balance_report_keeps_refunds_and_reads_their_failures():
    report = STRIPE_HEADER + (
        "txn_1,2023-11-14 22:13:20,usd,-12.50,0.00,-12.50,refund,re_1,pi_1,rf_a\n"
        "txn_2,2023-11-14 22:13:21,usd,100.00,-3.20,96.80,charge,ch_1,pi_2,\n"
        "txn_3,2023-11-14 22:13:22,jpy,-500,0,-500,refund,re_2,pi_3,\n"
        "txn_4,2023-11-14 23:00:00,usd,12.50,0.00,12.50,refund_failure,re_1,pi_1,rf_a\n"
    )

    assert rows(report) == [
        ("re_1", 1250, "USD", "succeeded", 1700000000, "pi_1", "rf_a", 0),
        ("re_2", 500, "JPY", "succeeded", 1700000002, "pi_3", "", 0),
        ("re_1", 1250, "USD", "failed", 1700002800, "pi_1", "rf_a", 1),
    ]


def test_refund_list_layout_takes_minor_units_and_stripe_statuses():
    report = (
        "id,amount,currency,status,created,payment_intent,metadata[refund_id]\n"
        "re_1,1250,usd,succeeded,1700000000,pi_1,rf_a\n"
        "re_2,99,eur,canceled,,pi_2,\n"
        "re_3,5,gbp,requires_action,1700000001,,\n"
    )

    assert rows(report) == [
        ("re_1", 1250, "USD", "succeeded", 1700000000, "pi_1", "rf_a", 0),
        ("re_2", 99, "EUR", "failed", None, "pi_2", "", 0),
        ("re_3", 5, "GBP", "pending", 1700000001, "", "", 0),
    ]


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("", "empty"),
        ("date,description,value\n2023-01-01,x,1\n", "unknown report layout"),
        ("id,amount,currency,status\nre_1,12.50,usd,succeeded\n", "line 2"),
        ("id,amount,currency,status\nre_1,-5,usd,succeeded\n", "negative"),
        ("id,amount,currency,status\nre_1,5,usd,lost\n", "unknown status"),
        (STRIPE_HEADER + "txn_1,2023-11-14 22:13:20,usd,-1.999,0,0,refund,re_1,pi_1,\n", "more decimals"),
    ],
)
def test_a_report_that_cannot_be_read_whole_is_refused_with_the_line(report, message):
    with pytest.raises(ReportFormatError, match=message):
        rows(report)
