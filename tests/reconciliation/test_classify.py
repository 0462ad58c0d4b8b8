"""Each kind of exception, planted in a provider report, is found; the rest of the day matches."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from providers.base import ProviderOutcome
from reconciliation.classify import LATE_FAILURE_NOTE
from reconciliation.enums import ItemKind, RunSource, RunStatus
from reconciliation.models import ReconciliationItem
from reconciliation.services import reconciliation_run
from refunds.enums import WebhookStatus
from refunds.models import WebhookEvent
from refunds.services.outcome import refund_apply_outcome
from tests.reconciliation.factories import (
    new_provider_id,
    provider_report,
    provider_row,
    refund_answered,
    refund_settled,
    refund_settled_earlier,
    refund_submitted,
    today,
)

pytestmark = pytest.mark.django_db
K = ItemKind


def run_file(actor, rows, day=None):
    return reconciliation_run(
        day=day or today(), provider="stripe", source=RunSource.FILE, file=provider_report(rows), actor=actor
    )


def kinds(run) -> dict[str, str]:
    """provider refund id (or our public id) -> kind."""
    return {
        item.provider_refund_id or item.refund_public_id: item.kind
        for item in ReconciliationItem.objects.filter(run=run)
    }


def test_a_day_where_both_sides_agree_is_all_matched(system_actor):
    settled = [refund_settled(amount_minor=1000 + n) for n in range(3)]
    failed = refund_answered(status="failed")
    pending = refund_answered(status="pending")

    run = run_file(system_actor, [provider_row(r) for r in [*settled, failed, pending]])

    assert run.status == RunStatus.SUCCEEDED and run.is_current
    assert set(kinds(run).values()) == {K.MATCHED}
    assert (run.item_count, run.exception_count, run.mismatch_rate_pct) == (5, 0, 0)
    assert run.totals["USD"] == {
        "ledger_minor": 3003,
        "ledger_count": 3,
        "provider_minor": 3003,
        "provider_count": 3,
        "exceptions": 0,
        "difference_minor": 0,
    }


def test_amount_mismatch_is_found_with_both_amounts(system_actor):
    refund = refund_settled(amount_minor=5000)
    ok = refund_settled(amount_minor=700)

    run = run_file(system_actor, [provider_row(refund, amount=5100), provider_row(ok)])

    item = ReconciliationItem.objects.get(run=run, refund=refund)
    assert item.kind == K.AMOUNT_MISMATCH
    assert (item.our_amount_minor, item.provider_amount_minor, item.difference_minor) == (5000, 5100, 100)
    assert run.totals["USD"]["difference_minor"] == 100
    assert run.mismatch_rate_pct == 50


def test_currency_mismatch_is_found_and_counted_in_both_currencies(system_actor):
    refund = refund_settled(amount_minor=5000, currency="USD")

    run = run_file(system_actor, [provider_row(refund, currency="eur")])

    item = ReconciliationItem.objects.get(run=run, refund=refund)
    assert (item.kind, item.our_currency, item.provider_currency) == (K.CURRENCY_MISMATCH, "USD", "EUR")
    # Each side's money stays in its own currency (never 50.00 EUR added to USD); the EUR row, with
    # nothing in our ledger, says where its difference comes from.
    assert run.totals == {
        "EUR": {
            "ledger_minor": 0,
            "ledger_count": 0,
            "provider_minor": 5000,
            "provider_count": 1,
            "exceptions": 1,
            "difference_minor": 5000,
        },
        "USD": {
            "ledger_minor": 5000,
            "ledger_count": 1,
            "provider_minor": 0,
            "provider_count": 0,
            "exceptions": 1,
            "difference_minor": -5000,
        },
    }


def test_provider_failed_while_our_ledger_settled_is_a_state_mismatch(system_actor):
    refund = refund_settled()

    run = run_file(system_actor, [provider_row(refund, status="failed")])

    item = ReconciliationItem.objects.get(run=run, refund=refund)
    assert (item.kind, item.our_state, item.provider_status) == (K.STATE_MISMATCH, "completed", "failed")
    assert item.ledger_settled_at is not None


def test_a_settlement_we_reversed_after_the_provider_failed_it_matches(system_actor):
    # Issue 12: the provider's late failure moved our refund completed -> failed and reversed the
    # settlement in our ledger too, so both sides now say failed.
    refund = refund_settled()
    refund, applied = refund_apply_outcome(
        refund_id=refund.pk,
        outcome=ProviderOutcome("failed", refund.provider_refund_id, failure_code="expired_or_canceled_card"),
        source="test",
    )
    assert applied and refund.state == "failed"

    run = run_file(system_actor, [provider_row(refund, status="failed")])

    item = ReconciliationItem.objects.get(run=run, refund=refund)
    assert (item.kind, item.our_state, item.provider_status) == (K.MATCHED, "failed", "failed")


def test_provider_pending_while_we_failed_is_a_state_mismatch(system_actor):
    refund = refund_answered(status="failed")

    run = run_file(system_actor, [provider_row(refund, status="pending")])

    assert kinds(run) == {refund.provider_refund_id: K.STATE_MISMATCH}


def test_provider_succeeded_but_no_settlement_in_our_ledger_is_missing_in_ledger(system_actor):
    pending = refund_answered(status="pending")  # the success webhook never arrived

    run = run_file(system_actor, [provider_row(pending, status="succeeded")])

    item = ReconciliationItem.objects.get(run=run)
    assert (item.kind, item.refund_id, item.our_state) == (K.MISSING_IN_LEDGER, pending.pk, "provider_pending")
    assert run.totals["USD"]["provider_minor"] == 5000 and run.totals["USD"]["ledger_minor"] == 0


def test_refund_unknown_to_us_is_missing_in_ledger(system_actor):
    stranger = provider_row(None, amount=999)

    run = run_file(system_actor, [stranger])

    item = ReconciliationItem.objects.get(run=run)
    assert (item.kind, item.refund_id, item.provider_amount_minor) == (K.MISSING_IN_LEDGER, None, 999)


def test_settled_refund_the_provider_does_not_list_is_missing_at_provider(system_actor):
    settled = refund_settled(amount_minor=4200)
    listed = refund_settled()

    run = run_file(system_actor, [provider_row(listed)])

    item = ReconciliationItem.objects.get(run=run, refund=settled)
    assert (item.kind, item.provider_status, item.provider_amount_minor) == (K.MISSING_AT_PROVIDER, "", None)
    assert run.totals["USD"]["difference_minor"] == -4200


def test_submitted_refund_without_answer_is_missing_at_provider(system_actor):
    stuck = refund_submitted()

    run = run_file(system_actor, [])

    assert kinds(run) == {stuck.public_id: K.MISSING_AT_PROVIDER}


def test_refund_whose_id_we_never_learned_is_matched_by_its_metadata(system_actor):
    stuck = refund_submitted(amount_minor=3000)  # the provider call timed out: no provider id stored
    at_provider = provider_row(stuck, id=new_provider_id(), status="pending")

    run = run_file(system_actor, [at_provider])

    item = ReconciliationItem.objects.get(run=run)
    assert (item.kind, item.refund_id, item.provider_refund_id) == (K.MATCHED, stuck.pk, at_provider["id"])


def test_two_provider_refunds_for_one_of_ours_are_both_reported(system_actor):
    stuck = refund_submitted(amount_minor=3000)
    first = provider_row(stuck, id=new_provider_id())
    second = provider_row(stuck, id=new_provider_id())

    run = run_file(system_actor, [first, second])

    assert kinds(run) == {
        first["id"]: K.MISSING_IN_LEDGER,
        second["id"]: K.MISSING_IN_LEDGER,
        stuck.public_id: K.MISSING_AT_PROVIDER,
    }
    assert ReconciliationItem.objects.get(run=run, provider_refund_id=first["id"]).note.endswith(stuck.public_id)


def test_provider_rows_of_another_day_are_left_to_that_day(system_actor):
    refund = refund_settled()
    two_days_ago = provider_row(None, created=int((refund.completed_at - timedelta(days=2)).timestamp()))

    run = run_file(system_actor, [provider_row(refund), two_days_ago])

    assert kinds(run) == {refund.provider_refund_id: K.MATCHED}


def test_refund_settled_on_another_day_is_not_counted_on_this_one(system_actor):
    refund = refund_settled()

    run = run_file(system_actor, [provider_row(refund)], day=today() - timedelta(days=1))

    assert run.item_count == 0


def unknown_refund_event(event_id, provider_refund_id, *, provider="stripe", event_type="refund.updated", **refund):
    """A verified inbox event (as the inbox stores it) for a refund we do not know."""
    obj = {"object": "refund", "id": provider_refund_id, **refund}
    return WebhookEvent.objects.create(
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        provider_refund_id=provider_refund_id,
        payload={"id": event_id, "type": event_type, "data": {"object": obj}},
        status=WebhookStatus.UNKNOWN_REFUND,
    )


def test_unknown_refund_webhook_of_another_provider_is_left_to_that_providers_runs(system_actor):
    unknown_refund_event("evt_elsewhere", "re_elsewhere", provider="manual", amount=5, currency="usd")

    run = run_file(system_actor, [])

    assert not ReconciliationItem.objects.filter(run=run).exists()


def test_unknown_refund_webhook_becomes_an_item_when_the_report_misses_it(system_actor):
    unknown_refund_event("evt_unknown_1", "re_from_dashboard", amount=777, currency="usd", status="requires_action")

    run = run_file(system_actor, [])

    item = ReconciliationItem.objects.get(run=run)
    assert (item.kind, item.provider_amount_minor, item.provider_currency, item.provider_status) == (
        K.UNKNOWN_REFUND_EVENT,
        777,
        "USD",
        "pending",
    )
    assert run.counts[K.UNKNOWN_REFUND_EVENT] == 1 and run.totals["USD"]["provider_minor"] == 0


def test_unknown_refund_webhook_annotates_the_listed_refund(system_actor):
    stranger = provider_row(None)
    unknown_refund_event("evt_unknown_2", stranger["id"], event_type="refund.created")

    run = run_file(system_actor, [stranger])

    item = ReconciliationItem.objects.get(run=run)
    assert item.kind == K.MISSING_IN_LEDGER and "webhook" in item.note


def test_failure_reported_today_for_a_refund_settled_earlier_is_a_state_mismatch_today(system_actor):
    """Stripe's `refund_failure` row arrives days after the refund: the money came back today."""
    refund = refund_settled_earlier(days=2, amount_minor=990)
    report = provider_report(
        [
            {
                "created_utc": int(timezone.now().timestamp()),
                "currency": "usd",
                "gross": "9.90",
                "reporting_category": "refund_failure",
                "source_id": refund.provider_refund_id,
            }
        ],
        columns=["created_utc", "currency", "gross", "reporting_category", "source_id"],
    )

    run = reconciliation_run(day=today(), provider="stripe", source=RunSource.FILE, file=report, actor=system_actor)

    item = ReconciliationItem.objects.get(run=run)
    assert (item.kind, item.refund_id, item.our_state, item.provider_status) == (
        K.STATE_MISMATCH,
        refund.pk,
        "completed",
        "failed",
    )
    assert item.note == LATE_FAILURE_NOTE and item.ledger_settled_at.date() == today() - timedelta(days=2)
    # The settlement stays in its own day's ledger total; the money given back comes off today's provider total.
    assert run.totals["USD"] == {
        "ledger_minor": 0,
        "ledger_count": 0,
        "provider_minor": -990,
        "provider_count": 1,
        "exceptions": 1,
        "difference_minor": -990,
    }


def test_the_settlement_day_of_a_refund_that_failed_later_still_counts_it_once(system_actor):
    refund = refund_settled_earlier(days=2, amount_minor=990)
    day = today() - timedelta(days=2)

    run = run_file(system_actor, [provider_row(refund, created=int(refund.completed_at.timestamp()))], day=day)

    assert kinds(run) == {refund.provider_refund_id: K.MATCHED}
    assert (run.totals["USD"]["ledger_minor"], run.totals["USD"]["provider_minor"]) == (990, 990)


def test_every_kind_planted_in_one_day_is_found_once(system_actor):
    matched = refund_settled()
    amount = refund_settled()
    currency = refund_settled()
    state = refund_settled()
    missing_at_provider = refund_settled()
    missing_in_ledger = provider_row(None)
    unknown_refund_event("evt_unknown_all", "re_only_in_a_webhook", amount=5, currency="usd")

    run = run_file(
        system_actor,
        [
            provider_row(matched),
            provider_row(amount, amount=amount.amount_minor + 1),
            provider_row(currency, currency="GBP"),
            provider_row(state, status="failed"),
            missing_in_ledger,
        ],
    )

    assert run.counts == {
        K.MATCHED: 1,
        K.AMOUNT_MISMATCH: 1,
        K.CURRENCY_MISMATCH: 1,
        K.STATE_MISMATCH: 1,
        K.MISSING_AT_PROVIDER: 1,
        K.MISSING_IN_LEDGER: 1,
        K.UNKNOWN_REFUND_EVENT: 1,
    }
    assert set(ItemKind.values) == set(run.counts)  # a kind added later must be planted here too
    assert kinds(run) == {
        matched.provider_refund_id: K.MATCHED,
        amount.provider_refund_id: K.AMOUNT_MISMATCH,
        currency.provider_refund_id: K.CURRENCY_MISMATCH,
        state.provider_refund_id: K.STATE_MISMATCH,
        missing_at_provider.provider_refund_id: K.MISSING_AT_PROVIDER,
        missing_in_ledger["id"]: K.MISSING_IN_LEDGER,
        "re_only_in_a_webhook": K.UNKNOWN_REFUND_EVENT,
    }
    assert run.mismatch_rate_pct == Decimal("85.714")
    assert AuditEvent.objects.filter(action="reconciliation.run_completed").count() == 1
