"""`processor_message`: what the provider answered, in words for the merchant (refunds.failures, issue 14)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from providers.base import FailureCode
from refunds.enums import PAYMENT_WITHDRAWN_FAILURE_CODES, RefundState
from refunds.failures import (
    FAILURE_TEXTS,
    PROCESSOR_COMPLETED,
    PROCESSOR_FAILURE_MESSAGES,
    PROCESSOR_PAID_BY_HAND,
    PROCESSOR_PENDING,
    PROCESSOR_REVERSED,
    processor_message,
)
from refunds.models import Payment, Refund

S = RefundState


def refund(state: str, *, provider: str = "stripe", **fields) -> Refund:
    """An unsaved refund in `state` (the function reads fields only)."""
    return Refund(state=state, payment=Payment(provider=provider), **fields)


def test_every_failure_code_the_provider_can_answer_has_a_merchant_sentence_without_staff_instructions():
    assert set(FAILURE_TEXTS) >= set(FailureCode)
    assert set(PROCESSOR_FAILURE_MESSAGES) == set(FailureCode)
    for code in FailureCode:
        message = processor_message(refund(S.FAILED, provider_status="failed", failure_code=code))
        assert message == PROCESSOR_FAILURE_MESSAGES[code]
        # Staff instructions (FAILURE_TEXTS: "Tell engineering", "cancel and notify") are not for merchants.
        assert not {"engineering", "notify", "dashboard"} & set(message.lower().replace(".", " ").split())


def test_a_card_expired_reads_as_the_issuer_refusing():
    failed = refund(S.FAILED, provider_status="failed", failure_code="expired_or_canceled_card")
    assert processor_message(failed) == "The card issuer refused the refund: the card has expired or was canceled."


@pytest.mark.parametrize("state", [S.REQUESTED, S.APPROVED, S.DENIED, S.SUBMITTING])
def test_no_message_before_the_provider_answered(state):
    assert processor_message(refund(state)) is None


def test_a_retry_in_flight_has_no_answer_yet_though_the_last_round_failed():
    retried = refund(S.SUBMITTING, provider_status="failed", failure_code="insufficient_funds")
    assert processor_message(retried) is None


def test_pending_completed_and_paid_by_hand():
    assert processor_message(refund(S.PROVIDER_PENDING, provider_status="pending")) == PROCESSOR_PENDING
    assert processor_message(refund(S.COMPLETED, provider_status="succeeded")) == PROCESSOR_COMPLETED
    paid = refund(S.COMPLETED, provider="manual", provider_status="paid")
    assert processor_message(paid) == PROCESSOR_PAID_BY_HAND


def test_a_reversal_says_the_money_came_back():
    reversed_ = refund(S.FAILED, provider_status="failed", failure_code="declined", completed_at=timezone.now())
    assert processor_message(reversed_) == PROCESSOR_REVERSED + PROCESSOR_FAILURE_MESSAGES["declined"]


def test_an_unknown_code_is_quoted():
    assert "“xyz_new”" in processor_message(refund(S.FAILED, provider_status="failed", failure_code="xyz_new"))


@pytest.mark.parametrize("code", sorted(PAYMENT_WITHDRAWN_FAILURE_CODES.values()))
def test_a_payment_withdrawn_before_the_provider_was_asked_is_no_provider_answer(code):
    assert processor_message(refund(S.FAILED, failure_code=code)) is None
    assert processor_message(refund(S.CANCELED, failure_code=code)) is None


def test_a_failed_refund_canceled_afterwards_keeps_the_providers_answer():
    canceled = refund(S.CANCELED, provider_status="failed", failure_code="lost_or_stolen_card")
    assert processor_message(canceled) == PROCESSOR_FAILURE_MESSAGES["lost_or_stolen_card"]
