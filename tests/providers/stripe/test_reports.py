"""Stripe's report CSVs: the balance report and the refund list layout, read exactly and strictly."""

from __future__ import annotations

import io

import pytest

from providers.base import ReportFormatError, ReportRow
from providers.stripe.reports import LAYOUT_REFUND_LIST, LAYOUT_STRIPE_BALANCE, detect_layout, report_rows

STRIPE_HEADER = (
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,"
    "payment_intent_id,refund_metadata[refund_id]\n"
)


def rows(text: str) -> list[ReportRow]:
    return list(report_rows(io.StringIO(text)))


def test_stripe_balance_report_keeps_refunds_and_reads_their_failures() -> None:
    report = STRIPE_HEADER + (
        "txn_1,2023-11-14 22:13:20,usd,-12.50,0.00,-12.50,refund,re_1,pi_1,rf_a\n"
        "txn_2,2023-11-14 22:13:21,usd,100.00,-3.20,96.80,charge,ch_1,pi_2,\n"
        "txn_3,2023-11-14 22:13:22,jpy,-500,0,-500,refund,re_2,pi_3,\n"
        "txn_4,2023-11-14 23:00:00,usd,12.50,0.00,12.50,refund_failure,re_1,pi_1,rf_a\n"
    )

    assert rows(report) == [
        ("re_1", 1250, "USD", "succeeded", 1700000000, "pi_1", "rf_a", False),
        ("re_2", 500, "JPY", "succeeded", 1700000002, "pi_3", "", False),
        ("re_1", 1250, "USD", "failed", 1700002800, "pi_1", "rf_a", True),
    ]
    assert all(type(row) is ReportRow for row in rows(report))
    assert rows(report)[2].reversal is True


def test_refund_list_layout_takes_minor_units_and_stripe_statuses() -> None:
    report = (
        "id,amount,currency,status,created,payment_intent,metadata[refund_id]\n"
        "re_1,1250,usd,succeeded,1700000000,pi_1,rf_a\n"
        "re_2,99,eur,canceled,,pi_2,\n"
        "re_3,5,gbp,requires_action,1700000001,,\n"
    )

    assert rows(report) == [
        ReportRow("re_1", 1250, "USD", "succeeded", 1700000000, "pi_1", "rf_a"),
        ReportRow("re_2", 99, "EUR", "failed", None, "pi_2", ""),
        ReportRow("re_3", 5, "GBP", "pending", 1700000001, "", ""),
    ]


def test_columns_are_found_by_name_in_any_order_and_case() -> None:
    report = " Status ,CURRENCY,Amount,Id,Refund_ID\nsucceeded,usd,10,re_9,rf_9\n"

    assert rows(report) == [ReportRow("re_9", 10, "USD", "succeeded", None, "", "rf_9")]


@pytest.mark.parametrize(
    ("header", "layout"),
    [
        (["source_id", "reporting_category", "gross", "currency", "fee"], LAYOUT_STRIPE_BALANCE),
        (["ID", " amount", "currency", "status"], LAYOUT_REFUND_LIST),
    ],
)
def test_the_header_row_says_which_layout_a_report_is(header: list[str], layout: str) -> None:
    assert detect_layout(header) == layout


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("", "empty"),
        ("date,description,value\n2023-01-01,x,1\n", "unknown report layout"),
        ("id,amount,currency,status\nre_1,12.50,usd,succeeded\n", "line 2"),
        ("id,amount,currency,status\nre_1,-5,usd,succeeded\n", "negative"),
        ("id,amount,currency,status\nre_1,5,usd,lost\n", "unknown status"),
        ("id,amount,currency,status\nre_1,5,usd\n", "line 2"),
        (STRIPE_HEADER + "txn_1,2023-11-14 22:13:20,usd,-1.999,0,0,refund,re_1,pi_1,\n", "more decimals"),
        (STRIPE_HEADER + "txn_1,2023-11-14 22:13:20,xxx,-1.00,0,0,refund,re_1,pi_1,\n", "unknown currency"),
    ],
)
def test_a_report_that_cannot_be_read_whole_is_refused_with_the_line(report: str, message: str) -> None:
    with pytest.raises(ReportFormatError, match=message):
        rows(report)


def test_the_unknown_layout_error_names_both_layouts() -> None:
    with pytest.raises(ReportFormatError) as refused:
        detect_layout(["hello", "world"])

    assert "Stripe's itemized balance report" in str(refused.value)
    assert "a refund list (id, amount, currency, status)" in str(refused.value)
    assert str(refused.value).endswith("got hello, world")
