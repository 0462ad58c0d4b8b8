"""`manage.py refunds_pause` / `refunds_resume` (issue 16 kill switches): what operators type in an incident."""

from __future__ import annotations

import getpass
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.enums import AuditAction
from audit.models import AuditEvent
from refunds.enums import Reason
from refunds.models import OperationsPause
from refunds.services.outbox import outbox_deliver
from refunds.services.pauses import auto_approval_paused, submission_paused
from tests.refunds.factories import captured_order, make_refund
from tests.support.child_process import ROOT

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_pause_and_resume_auto_approval_name_the_command_and_the_os_user():
    output = run("refunds_pause", "auto-approval", "--reason", "fraud wave INC-7")

    assert "Paused auto-approval for every provider" in output
    assert auto_approval_paused("stripe")
    row = OperationsPause.objects.get()
    assert row.paused_by is None and row.paused_by_label == f"system:refunds_pause ({getpass.getuser()})"

    output = run("refunds_resume", "auto-approval", "--reason", "INC-7 closed")

    assert "Resumed auto-approval for every provider" in output
    assert not auto_approval_paused("stripe")
    event = AuditEvent.objects.get(action=AuditAction.OPERATIONS_RESUMED)
    assert event.actor_label == f"system:refunds_resume ({getpass.getuser()})"


def test_pausing_submission_prints_what_is_held_and_resume_what_is_queued():
    order = captured_order(amount_minor=10000)
    refund = make_refund(order=order, amount_minor=4000, reason=Reason.NOT_RECEIVED)

    output = run("refunds_pause", "submission", "--provider", "stripe", "--reason", "provider incident")

    assert "Paused provider submission for stripe" in output
    assert "Held: 1 message(s) waiting; 0 call(s) already under way" in output
    assert submission_paused("stripe")
    assert outbox_deliver(message_id=refund.outbox_messages.get().pk) == "held"

    output = run("refunds_resume", "submission", "--provider", "stripe", "--reason", "provider back")

    assert "Queued 1 held message(s) in outbox order." in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["refunds_pause", "auto-approval", "--reason", "   "], "A reason is required."),
        (["refunds_pause", "submission", "--provider", "paypal", "--reason", "x"], "Unknown provider 'paypal'"),
        (["refunds_pause", "submission", "--provider", "manual", "--reason", "x"], "paid out by hand"),
        (["refunds_resume", "submission", "--reason", "nothing"], "is not paused"),
    ],
)
def test_bad_input_and_nothing_to_resume_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not OperationsPause.objects.exists()


def test_pausing_twice_says_since_when_and_why():
    run("refunds_pause", "submission", "--reason", "first")

    with pytest.raises(CommandError, match=r"already paused \(since .* UTC by system:refunds_pause .*: first\)"):
        run("refunds_pause", "submission", "--reason", "second")
    assert OperationsPause.objects.count() == 1


@pytest.mark.parametrize(
    "args",
    [
        ["refunds_pause", "everything", "--reason", "x"],  # unknown switch
        ["refunds_pause", "auto-approval"],  # no reason
    ],
)
def test_the_command_line_exits_non_zero_on_bad_arguments(args):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "error" in result.stderr.lower()
