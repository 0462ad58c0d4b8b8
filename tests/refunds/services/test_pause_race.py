"""A create or claim that waits for a kill switch being set must see it set (refunds.services.pauses).

The readers take the switch's advisory lock shared, and `pause` takes it
exclusive, so a reader arriving while a pause is being set waits for it. What
it reads after the wait must be the pause: in READ COMMITTED a statement reads
the snapshot taken when it began, so a lock taken and the pause read in one
plain statement waited, then read the table as it was before the pause
committed, and auto-approved (or called the provider) under a pause.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction

from core.actor import Actor
from refunds.enums import OutboxStatus, PauseKind, Reason, RefundState
from refunds.models import OutboxMessage, Refund
from refunds.services.outbox import HELD, outbox_claim
from refunds.services.pauses import pause
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("system:test")


def _while_a_pause_is_being_set(kind: str, reader) -> dict:
    """Run `reader` in another thread while this one holds a pause uncommitted; return what it got."""
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL")
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = reader()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            result["error"] = error
        finally:
            close_old_connections()
            connection.close()

    with transaction.atomic():
        pause(kind, provider="stripe", reason="race", actor=SYSTEM)
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive(), "the reader did not wait for the switch being set"
    thread.join(timeout=30)
    assert "error" not in result, result.get("error")
    return result


def test_a_create_that_waited_for_an_auto_approval_pause_goes_to_review():
    order = captured_order(amount_minor=10000)

    result = _while_a_pause_is_being_set(
        PauseKind.AUTO_APPROVAL,
        lambda: make_refund(order=order, amount_minor=1000, reason=Reason.NOT_RECEIVED),
    )

    assert result["value"].state == RefundState.REQUESTED
    assert Refund.objects.get(pk=result["value"].pk).state == RefundState.REQUESTED


def test_a_claim_that_waited_for_a_submission_pause_is_held():
    refund = make_refund(order=captured_order(amount_minor=10000), amount_minor=1000, reason=Reason.NOT_RECEIVED)
    message = OutboxMessage.objects.get(refund=refund)

    result = _while_a_pause_is_being_set(PauseKind.SUBMISSION, lambda: outbox_claim(message_id=message.pk))

    assert result["value"] == HELD
    assert Refund.objects.get(pk=refund.pk).state == RefundState.APPROVED
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
