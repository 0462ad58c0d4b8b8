"""The manual provider: no API, no listing, no webhooks; approval opens a payout task; finance's list reconciles."""

from __future__ import annotations

import io

import pytest

from providers.base import (
    CapabilityMissing,
    FailureCode,
    ProviderRejected,
    ReportFormatError,
    ReportRow,
    WebhookRejected,
)
from providers.manual import ManualProvider


@pytest.fixture
def manual() -> ManualProvider:
    return ManualProvider.from_settings()


def test_manual_payouts_settle_by_hand_and_can_only_read_a_payout_list(manual: ManualProvider) -> None:
    assert (manual.name, manual.label) == ("manual", "Manual payouts")
    assert manual.settles_by_hand and manual.reads_reports
    assert not (manual.lists_refunds or manual.sends_webhooks)
    assert manual.api_base == ""


def test_there_is_no_api_to_execute_or_fetch_a_refund(manual: ManualProvider) -> None:
    with pytest.raises(ProviderRejected) as executed:
        manual.execute_refund(payment_id="pay_1", amount_minor=100, currency="EUR", idempotency_key="k", metadata={})
    assert executed.value.code == FailureCode.INVALID_REQUEST
    with pytest.raises(ProviderRejected) as fetched:
        manual.fetch_refund(provider_refund_id="manual_rf_1")
    assert fetched.value.code == FailureCode.NOT_FOUND


def test_there_is_no_listing(manual: ManualProvider) -> None:
    with pytest.raises(CapabilityMissing):
        list(manual.iter_refunds(created_gte=0, created_lt=1))
    with pytest.raises(CapabilityMissing):
        manual.fetch_refund_row(provider_refund_id="manual_rf_1")


def test_webhooks_naming_the_manual_provider_are_rejected(manual: ManualProvider) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        manual.verify_webhook(payload=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert rejected.value.reason == "no_webhooks"
    with pytest.raises(WebhookRejected):
        manual.parse_event({"id": "evt_1", "type": "refund.updated"})


def test_payout_lists_keep_the_refund_list_words_they_always_had(manual: ManualProvider) -> None:
    report = "id,amount,currency,status\nmanual_rf_1,100,eur,canceled\nmanual_rf_2,100,eur,requires_action\n"
    assert [row.status for row in manual.report_rows(io.StringIO(report))] == ["failed", "pending"]


def test_finance_reconciles_from_its_payout_list_in_our_words(manual: ManualProvider) -> None:
    report = (
        "id,amount,currency,status,created\nmanual_rf_1,2500,eur,succeeded,1700000000\nmanual_rf_2,90,eur,failed,\n"
    )

    manual.check_report_header(["ID", "amount", "currency", "status"])
    assert list(manual.report_rows(io.StringIO(report))) == [
        ReportRow("manual_rf_1", 2500, "EUR", "succeeded", 1700000000, "", ""),
        ReportRow("manual_rf_2", 90, "EUR", "failed", None, "", ""),
    ]


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ("source_id,reporting_category,gross,currency\nre_1,refund,-1.00,usd\n", "unknown report layout"),
        ("id,amount,currency,status\nmanual_rf_1,100,eur,refunded\n", "line 2: unknown status"),
    ],
)
def test_a_payout_list_in_another_layout_or_vocabulary_is_refused(
    manual: ManualProvider, report: str, message: str
) -> None:
    with pytest.raises(ReportFormatError, match=message):
        list(manual.report_rows(io.StringIO(report)))
