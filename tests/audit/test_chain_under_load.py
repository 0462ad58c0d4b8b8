"""`verify_audit` while audited transactions commit and the sealer links them, for real.

Writers (threads on their own PostgreSQL connections) keep committing events,
a sealer thread keeps sealing them — exactly what beat does under load — and
the main thread verifies the chain again and again. The chain is intact all
along, so every run must answer OK: a verification that reads the seals, the
head and the pending queue at different moments reports tampering that never
happened (issue 11, item 5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit.models import AuditChainHead, AuditEvent, AuditSeal
from audit.services import audit_record_many, audit_seal_pending, audit_verify
from core.actor import Actor
from tests.support.live import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Runs during which the sealer moved the head: the ones that can see a torn chain.
OVERLAPPING_RUNS = 8


def _head_seq() -> int:
    head = AuditChainHead.objects.filter(id=1).first()
    return head.seq if head else 0


@contextmanager
def loop_in_threads(*steps: Callable[[], object]) -> Iterator[list[BaseException]]:
    """Run each step over and over in its own thread until the block ends; collect what they raised."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(step: Callable[[], object]) -> None:
        try:
            while not stop.is_set():
                step()
        except BaseException as error:  # noqa: BLE001 - surfaced by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(step,), daemon=True) for step in steps]
    for thread in threads:
        thread.start()
    try:
        yield errors
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a load thread never stopped"


def write_events() -> None:
    # Several events per transaction: they must become visible (and sealable) together.
    with transaction.atomic():
        audit_record_many([dict(actor=Actor.system(), action="test.load", subject="load") for _ in range(3)])


def seal() -> None:
    audit_seal_pending(batch_size=50)


@pytest.fixture
def long_chain() -> int:
    # Long enough that one walk takes a while, so the sealer commits while it runs.
    for _ in range(10):
        audit_record_many([dict(actor=Actor.system(), action="test.seed", subject="seed") for _ in range(200)])
    return audit_seal_pending()


def verify_repeatedly(verify: Callable[[], list[str]]) -> tuple[list[list[str]], int]:
    """Verify until OVERLAPPING_RUNS runs saw the head move under them; return every run's problems."""
    runs: list[list[str]] = []
    overlapping = 0

    def enough_overlap() -> bool:
        nonlocal overlapping
        before = _head_seq()
        runs.append(verify())
        if _head_seq() != before:
            overlapping += 1
        return overlapping >= OVERLAPPING_RUNS

    wait_for(enough_overlap, timeout=240, interval=0, message=f"{OVERLAPPING_RUNS} runs overlapping the sealer")
    return runs, overlapping


def test_verify_says_ok_while_the_sealer_commits(long_chain):
    with loop_in_threads(write_events, write_events, seal) as errors:
        runs, overlapping = verify_repeatedly(lambda: [f"{p.where}: {p.problem}" for p in audit_verify()])
    assert not errors
    assert overlapping >= OVERLAPPING_RUNS
    assert [problems for problems in runs if problems] == []
    # The load really was sealed into the same chain that was being verified.
    assert audit_seal_pending() >= 0 and list(audit_verify()) == []
    assert AuditSeal.objects.count() == AuditEvent.objects.count() > long_chain


def test_verify_audit_command_says_ok_under_load(long_chain, capsys):
    def command() -> list[str]:
        try:
            call_command("verify_audit")
        except Exception as error:  # noqa: BLE001 - a broken verdict is what the test collects
            return [str(error), capsys.readouterr().err]
        out = capsys.readouterr().out
        return [] if "audit chain OK" in out else [out]

    with loop_in_threads(write_events, seal) as errors:
        runs, _ = verify_repeatedly(command)
    assert not errors
    assert [problems for problems in runs if problems] == []


def test_a_tampered_chain_is_still_caught_under_load(long_chain):
    middle = AuditSeal.objects.get(seq=long_chain // 2)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET note = 'rewritten' WHERE id = %s", [middle.event_id])
        cursor.execute("SET session_replication_role = origin")
    with loop_in_threads(write_events, seal) as errors:
        runs, _ = verify_repeatedly(lambda: [p.where for p in audit_verify()])
    assert not errors
    assert all(problems == [f"seq {middle.seq}"] for problems in runs)
