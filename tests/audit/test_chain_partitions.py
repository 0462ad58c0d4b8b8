"""The audit chain across monthly partitions (issue 17, audit/0006): sealed and verified whatever the month."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEvent, AuditPending, AuditSeal
from audit.services import audit_record_many, audit_seal_pending, audit_verify
from core.actor import Actor
from tests.support.partitions import month_edges, partition_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _chain_sealed_so_far():
    """Whatever an earlier test committed is sealed first: each test counts only its own events."""
    audit_seal_pending()


def record(action: str, at) -> AuditEvent:
    return audit_record_many([dict(actor=Actor.system("test"), action=action, subject="x")], occurred_at=at)[0]


def test_a_chain_spanning_two_months_seals_and_verifies(capsys):
    last_second, first_second = month_edges()
    december = record("test.month_end", last_second)
    january = record("test.month_start", first_second)
    assert partition_of("audit_auditevent", december.pk) != partition_of("audit_auditevent", january.pk)

    assert audit_seal_pending() == 2
    first, second = AuditSeal.objects.order_by("-seq")[:2][::-1]
    assert (first.event_id, second.event_id) == (december.pk, january.pk)
    assert second.prev_hash == first.hash
    assert list(audit_verify()) == []
    call_command("verify_audit")
    assert f"audit chain OK: {AuditSeal.objects.count()} events verified" in capsys.readouterr().out


def test_an_event_inserted_straight_into_a_partition_is_queued_for_the_chain():
    # A partitioned table's statement triggers fire only for statements naming it: the queue trigger is a
    # row trigger, which every partition has.
    _, first_second = month_edges()
    partition = partition_of("audit_auditevent", record("test.probe", first_second).pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{partition}" (occurred_at, actor_type, actor_label, action, subject, currency,'
            " policy_rule, note, flagged, correlation_id, channel) VALUES (%s, 'system', 'raw', 'raw.insert', '',"
            " '', '', '', false, '', '') RETURNING id",
            [first_second],
        )
        raw_id = cursor.fetchone()[0]
    assert AuditPending.objects.filter(event_id=raw_id).exists()
    assert audit_seal_pending() == 2
    assert list(audit_verify()) == []


def test_events_stay_append_only_in_every_partition():
    last_second, first_second = month_edges()
    events = [record("test.a", last_second), record("test.b", first_second)]
    for event in events:
        partition = partition_of("audit_auditevent", event.pk)
        for sql in (f'UPDATE "{partition}" SET note = %s WHERE id = %s', f'DELETE FROM "{partition}" WHERE id = %s'):
            params = ["edited", event.pk] if sql.startswith("UPDATE") else [event.pk]
            with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events], note="").count() == 2


def test_a_month_of_events_taken_away_breaks_the_chain():
    # The seals' foreign key into the events is gone (audit/0006): verify_audit is what sees a missing event.
    last_second, first_second = month_edges()
    record("test.kept", last_second)
    taken = record("test.taken", first_second)
    kept_too = record("test.kept_too", last_second)
    audit_seal_pending()
    assert list(audit_verify()) == []
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE audit_auditevent DETACH PARTITION "{partition_of("audit_auditevent", taken.pk)}"')
    problems = list(audit_verify())
    # The taken event's seal drops out of the walk: the next comes after a gap and links to a hash not seen.
    assert {problem.where for problem in problems} == {f"seq {AuditSeal.objects.get(event_id=kept_too.pk).seq}"}
    assert any("gap" in problem.problem for problem in problems)
