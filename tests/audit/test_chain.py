import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEvent
from audit.services import audit_verify
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def some_events():
    order = captured_order(amount_minor=10000)
    for _ in range(3):
        make_refund(order=order, amount_minor=1000)
    return AuditEvent.objects.count()


def test_each_event_links_to_the_previous_hash(some_events):
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, some_events + 1))
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    assert list(audit_verify()) == []


def test_verify_audit_command_reports_ok(some_events, capsys):
    call_command("verify_audit")
    assert f"audit chain OK: {some_events} events verified" in capsys.readouterr().out


def test_audit_events_cannot_be_updated_or_deleted(some_events):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(note="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).delete()


def _tamper(sql):
    # Only a superuser who switches triggers off can do this; the chain still tells.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_verify_detects_an_edited_event(some_events):
    _tamper("UPDATE audit_auditevent SET amount_minor = 999999 WHERE seq = 2")
    problems = list(audit_verify())
    assert [p.seq for p in problems] == [2]
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit")


def test_verify_detects_a_removed_event(some_events):
    _tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    assert {p.seq for p in audit_verify()} >= {3}


def test_verify_detects_removal_of_the_last_event(some_events):
    _tamper(f"DELETE FROM audit_auditevent WHERE seq = {some_events}")
    assert list(audit_verify())
