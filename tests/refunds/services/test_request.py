import pytest

from audit.models import AuditEvent
from core.errors import (
    ERR_AMOUNT_RANGE,
    ERR_CHARGED_BACK,
    ERR_CURRENCY_MISMATCH,
    ERR_EXCEEDS_REMAINING,
    ERR_NOT_CAPTURED,
    ERR_VOIDED,
    DomainError,
)
from ledger.enums import EntryType
from ledger.models import JournalEntry
from refunds.enums import PaymentStatus, PolicyOutcome, Reason, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.request import refund_request
from tests.refunds.factories import captured_order, make_refund, requester

pytestmark = pytest.mark.django_db


def test_in_policy_refund_is_auto_approved_with_ledger_outbox_and_audit():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=10000, reason=Reason.NOT_RECEIVED)

    assert refund.state == RefundState.APPROVED
    assert refund.policy_outcome == PolicyOutcome.AUTO_APPROVE
    assert refund.policy_rule == "R-AUTO-NOT_RECEIVED"
    assert refund.policy_version.version == 1
    assert refund.payment.remaining_refundable_minor == 0
    entry = JournalEntry.objects.get(refund=refund)
    assert entry.entry_type == EntryType.REFUND_PENDING
    assert entry.amount_minor == 10000
    outbox = OutboxMessage.objects.get(refund=refund)
    assert outbox.idempotency_key == f"{refund.public_id}-1"
    actions = list(AuditEvent.objects.filter(refund=refund).values_list("action", flat=True))
    assert actions == ["refund.requested", "refund.approved"]
    assert AuditEvent.objects.get(refund=refund, action="refund.requested").policy_rule.startswith("R-AUTO-")


def test_refund_under_review_reserves_the_amount_but_posts_nothing():
    order = captured_order(amount_minor=50000)
    refund = make_refund(order=order, amount_minor=20000, reason=Reason.GOODWILL)

    assert refund.state == RefundState.REQUESTED
    assert refund.payment.remaining_refundable_minor == 30000
    assert not JournalEntry.objects.filter(refund=refund).exists()
    assert not OutboxMessage.objects.filter(refund=refund).exists()


def test_two_partial_refunds_leave_the_rest_refundable():
    order = captured_order(amount_minor=10000)
    make_refund(order=order, amount_minor=3000)
    refund = make_refund(order=order, amount_minor=2000)
    refund.payment.refresh_from_db()
    assert refund.payment.remaining_refundable_minor == 5000


def test_refund_over_remaining_is_refused_and_nothing_is_written():
    order = captured_order(amount_minor=10000)
    make_refund(order=order, amount_minor=7000)
    with pytest.raises(DomainError) as error:
        make_refund(order=order, amount_minor=3001)
    assert error.value.code == ERR_EXCEEDS_REMAINING
    assert error.value.details == {"remaining_refundable_minor": 3000}
    assert Refund.objects.filter(order=order).count() == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (PaymentStatus.CAPTURE_PENDING, ERR_NOT_CAPTURED),
        (PaymentStatus.CAPTURE_FAILED, ERR_NOT_CAPTURED),
        (PaymentStatus.VOIDED, ERR_VOIDED),
        (PaymentStatus.CHARGED_BACK, ERR_CHARGED_BACK),
    ],
)
def test_hard_rules_refuse_before_any_refund_exists(status, code):
    order = captured_order(status=status)
    with pytest.raises(DomainError) as error:
        make_refund(order=order, amount_minor=100)
    assert error.value.code == code
    assert not Refund.objects.exists()


def test_currency_must_be_the_payments():
    order = captured_order(currency="USD")
    with pytest.raises(DomainError) as error:
        refund_request(order=order, amount_minor=100, currency="EUR", reason=Reason.OTHER, actor=requester())
    assert error.value.code == ERR_CURRENCY_MISMATCH


@pytest.mark.parametrize("amount", [0, -1, True, 1.5, "100"])
def test_amount_must_be_a_positive_integer(amount):
    order = captured_order()
    with pytest.raises(DomainError) as error:
        refund_request(order=order, amount_minor=amount, currency="USD", reason=Reason.OTHER, actor=requester())
    assert error.value.code == ERR_AMOUNT_RANGE


def test_each_refund_gets_an_unguessable_status_token():
    order = captured_order()
    a = make_refund(order=order, amount_minor=100)
    b = make_refund(order=order, amount_minor=100)
    assert a.status_token != b.status_token
    assert len(a.status_token) >= 43
    assert a.status_url.endswith(f"/r/{a.status_token}/")


# --- what a create reads with the payment's lock, and writes in one batch (issue 17) ----------------


def test_a_policy_version_edited_in_place_is_read_afresh_by_the_next_create():
    """The policy row is kept per process by its row version: an edit behind the admin's back still counts."""
    from refunds.models import RefundPolicy
    from refunds.services.policy import policy_get_active

    order = captured_order(amount_minor=10000)
    assert make_refund(order=order, amount_minor=1000).policy_outcome == PolicyOutcome.AUTO_APPROVE
    RefundPolicy.objects.filter(pk=policy_get_active().pk).update(window_days=0)
    refund = make_refund(order=order, amount_minor=1000)
    assert (refund.policy_outcome, refund.policy_rule) == (PolicyOutcome.REVIEW, "R-WINDOW-0D")


def test_the_velocity_count_is_the_customers_across_orders_and_follows_the_refund_not_the_order():
    from refunds.models import Customer

    first = captured_order(amount_minor=100000)
    for _ in range(3):
        make_refund(order=first, amount_minor=1000)
    second = captured_order(amount_minor=100000, order__customer=first.customer)
    for _ in range(2):
        assert make_refund(order=second, amount_minor=1000).policy_outcome == PolicyOutcome.AUTO_APPROVE
    sixth = make_refund(order=second, amount_minor=1000)
    assert sixth.policy_rule == "R-VELOCITY-24H"  # five before it, on two orders
    assert set(Refund.objects.filter(order__in=[first, second]).values_list("customer_id", flat=True)) == {
        first.customer_id
    }
    other = Customer.objects.create(merchant=first.merchant, external_id="someone-else")
    third = captured_order(amount_minor=100000, order__customer=other)
    assert make_refund(order=third, amount_minor=1000).policy_outcome == PolicyOutcome.AUTO_APPROVE


def test_the_history_row_written_with_the_refund_is_simple_historys():
    """Written in the create's batch (refunds.services.transition.refund_insert), as simple-history's own would be."""
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000)
    [version] = refund.history.all()
    assert version.history_type == "+" and version.history_user is None and version.history_change_reason is None
    tracked = [f.attname for f in type(version).tracked_fields]
    assert {name: getattr(version, name) for name in tracked} == {name: getattr(refund, name) for name in tracked}
    assert refund.created_at <= version.history_date


def test_a_refund_by_amount_splits_over_the_order_lines_read_with_the_lock():
    """The order's lines come with the payment's lock (one statement): the pending entry books their tax share."""
    from refunds.models import OrderLine

    order = captured_order(amount_minor=10000)
    OrderLine.objects.create(order=order, line_no=1, sku="A", unit_amount_minor=9000, tax_minor=1000)
    refund = make_refund(order=order, amount_minor=5000)
    entry = JournalEntry.objects.get(refund=refund)
    assert dict(entry.postings.values_list("account_id", "amount_minor")) == {
        "sales_returns": 4500,
        "tax_payable": 500,
        "refunds_payable": -5000,
    }
