import itertools
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditEvent, AuditPending, AuditSeal
from audit.services import audit_record, audit_seal_pending, audit_verify
from core.actor import Actor
from tests.refunds.factories import captured_order, make_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def some_events():
    order = captured_order(amount_minor=10000)
    for _ in range(3):
        make_refund(order=order, amount_minor=1000)
    return AuditEvent.objects.count()


@pytest.fixture
def sealed(some_events):
    assert audit_seal_pending() == some_events
    return some_events


def seal_of(seq: int) -> AuditSeal:
    return AuditSeal.objects.get(seq=seq)


def test_every_new_event_is_queued_for_the_chain_by_the_database(some_events):
    assert AuditPending.objects.count() == some_events
    with connection.cursor() as cursor:  # even a raw insert cannot escape the chain
        cursor.execute(
            "INSERT INTO audit_auditevent (occurred_at, actor_type, actor_label, action, subject, currency,"
            " policy_rule, note, flagged, correlation_id) VALUES (now(), 'system', 'raw', 'raw.insert', '', '',"
            " '', '', false, '')"
        )
    assert AuditPending.objects.count() == some_events + 1


def test_sealing_links_each_event_to_the_previous_hash(sealed):
    seals = list(AuditSeal.objects.select_related("event").order_by("seq"))
    assert [s.seq for s in seals] == list(range(1, sealed + 1))
    assert [s.event_id for s in seals] == sorted(s.event_id for s in seals)  # committed in order, sealed in order
    assert seals[0].prev_hash == "0" * 64
    for previous, seal in itertools.pairwise(seals):
        assert seal.prev_hash == previous.hash
    head = AuditChainHead.objects.get()
    assert (head.seq, head.hash) == (seals[-1].seq, seals[-1].hash)
    assert not AuditPending.objects.exists()
    assert list(audit_verify()) == []


def test_sealing_again_continues_the_chain(sealed):
    audit_record(actor=Actor.system(), action="test.later", subject="x")
    assert audit_seal_pending() == 1
    last = AuditSeal.objects.order_by("-seq").first()
    assert (last.seq, last.prev_hash) == (sealed + 1, seal_of(sealed).hash)
    assert audit_seal_pending() == 0
    assert list(audit_verify()) == []


def test_small_batches_chain_the_same_way(some_events):
    assert audit_seal_pending(batch_size=2) == some_events
    assert AuditSeal.objects.count() == some_events
    assert list(audit_verify()) == []


def test_verify_audit_command_seals_then_reports_ok(some_events, capsys):
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert f"sealed {some_events} pending event(s) first" in out
    assert f"audit chain OK: {some_events} events verified" in out


def test_audit_events_and_seals_cannot_be_updated_or_deleted(sealed):
    first = AuditEvent.objects.order_by("id").first()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).update(note="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=first.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.filter(seq=1).update(hash="f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditSeal.objects.filter(seq=1).delete()


def _tamper(sql):
    # Only a superuser who switches triggers off can do this; the chain still tells.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql)
        cursor.execute("SET LOCAL session_replication_role = origin")


class _Undo(Exception):
    pass


def problems_after_deleting(event_id: int) -> list:
    """Delete an event behind the triggers' back and verify, then undo it.

    The seal's foreign key would refuse the delete at commit anyway (deferred
    constraint); the chain walk must notice before that.
    """
    found = []
    with pytest.raises(_Undo), transaction.atomic():
        _tamper(f"DELETE FROM audit_auditevent WHERE id = {event_id}")
        found.extend(audit_verify())
        raise _Undo
    return found


def test_verify_detects_an_edited_event(sealed):
    _tamper(f"UPDATE audit_auditevent SET amount_minor = 999999 WHERE id = {seal_of(2).event_id}")
    problems = list(audit_verify())
    assert [p.where for p in problems] == ["seq 2"]
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit")


def test_verify_detects_a_removed_event(sealed):
    assert "seq 3" in {p.where for p in problems_after_deleting(seal_of(2).event_id)}


def test_verify_detects_removal_of_the_last_event(sealed):
    assert problems_after_deleting(seal_of(sealed).event_id)


def test_verify_detects_an_event_smuggled_past_the_queue(sealed):
    _tamper(
        "INSERT INTO audit_auditevent (occurred_at, actor_type, actor_label, action, subject, currency,"
        " policy_rule, note, flagged, correlation_id) VALUES (now(), 'system', 'x', 'forged', '', '', '', '',"
        " false, '')"
    )
    assert [p.problem for p in audit_verify()] == ["neither sealed nor queued for sealing"]


def test_verify_reports_events_left_unsealed_too_long(some_events):
    old = timezone.now() - timedelta(hours=1)
    _tamper(f"UPDATE audit_auditevent SET occurred_at = '{old.isoformat()}'")
    problems = list(audit_verify())
    assert len(problems) == 1
    assert f"{some_events} event(s) waiting to be sealed" in problems[0].problem


def test_a_missing_head_row_is_recreated_and_the_chain_starts_from_genesis(some_events):
    AuditChainHead.objects.all().delete()
    assert audit_seal_pending() == some_events
    assert seal_of(1).prev_hash == "0" * 64
    assert list(audit_verify()) == []
