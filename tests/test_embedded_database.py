"""The embedded demo default (SQLite) gets the same database guards as PostgreSQL.

SQLite rebuilds a table to change its columns and the rebuild drops the
table's triggers, so a later migration can silently remove a guard an earlier
one installed. This migrates a fresh SQLite file in its own process and
checks every guard is there and refuses what it must.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GUARDS = {
    "audit_auditevent_no_update",
    "audit_auditevent_no_delete",
    "audit_auditevent_queue_for_seal",
    "audit_auditseal_no_update",
    "audit_auditseal_no_delete",
    "ledger_journalentry_no_update",
    "ledger_journalentry_no_delete",
    "ledger_posting_no_update",
    "ledger_posting_no_delete",
    "refunds_refund_state_guard",
    "refunds_payment_guard",
    "events_event_no_update",
    "events_event_no_delete",
}


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("var")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", VAR_DIR=str(var), LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    return var / "refund_desk.sqlite3"


def test_the_hand_written_sql_of_events_runs_on_sqlite(demo_database):
    """The merchant sequence's upsert and the delivery sweeper's UPDATE … FROM … RETURNING are raw SQL:
    the demo runs them on SQLite, where a PostgreSQL-only form fails only at run time (issue 14)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", VAR_DIR=str(demo_database.parent), LOG_LEVEL="WARNING")
    script = (
        "from django.db import transaction\n"
        "from events.delivery import deliveries_sweep\n"
        "from events.writer import sequence_next\n"
        "from refunds.models import Merchant\n"
        "merchant = Merchant.objects.get(slug='default')\n"
        "with transaction.atomic():\n"
        "    print(sequence_next(merchant_id=merchant.pk), sequence_next(merchant_id=merchant.pk))\n"
        "print(deliveries_sweep())\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "2", "0"]


def test_a_refund_create_runs_on_sqlite(demo_database, tmp_path):
    """The create's PostgreSQL forms (one locking statement, one batch of writes: issue 17) have their SQLite
    path: an auto-approved refund and a reviewed one, with their ledger entry, events and emails."""
    # A copy: the other tests here count rows of a freshly migrated file.
    shutil.copy(demo_database, tmp_path / demo_database.name)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", VAR_DIR=str(tmp_path), LOG_LEVEL="WARNING")
    script = (
        "from events.models import Event\n"
        "from ledger.models import JournalEntry\n"
        "from notifications.models import CustomerEmail\n"
        "from refunds.models import Decision\n"
        "from tests.refunds.factories import captured_order, make_refund\n"
        "order = captured_order(amount_minor=100000)\n"
        "auto = make_refund(order=order, amount_minor=1000)\n"
        "review = make_refund(order=order, amount_minor=1000, reason='goodwill')\n"
        "entry = JournalEntry.objects.get(refund=auto)\n"
        "print(auto.state, review.state, entry.entry_type, entry.booked_on == entry.event_on)\n"
        "print(Decision.objects.filter(refund=auto).count(), auto.history.count(),"
        " auto.customer_id == order.customer_id)\n"
        "print(*Event.objects.filter(refund__in=[auto, review]).order_by('sequence').values_list('type', flat=True))\n"
        "print(CustomerEmail.objects.filter(refund__in=[auto, review]).count())\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "approved requested REFUND_PENDING True",
        "1 1 True",
        "refund.created refund.approved refund.created",
        "2",
    ]


def test_every_guard_survives_the_migrations(demo_database):
    with sqlite3.connect(demo_database) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert triggers >= GUARDS


def test_the_guards_refuse_what_postgresql_refuses(demo_database):
    db = sqlite3.connect(demo_database)
    db.execute(
        "INSERT INTO audit_auditevent (occurred_at, actor_type, actor_label, action, subject, currency, policy_rule,"
        " note, flagged, correlation_id) VALUES ('2026-01-01', 'system', 't', 'test', '', '', '', '', 0, '')"
    )
    assert db.execute("SELECT count(*) FROM audit_auditpending").fetchone() == (1,)
    for statement in ("UPDATE audit_auditevent SET note = 'x'", "DELETE FROM audit_auditevent"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    db.rollback()
    db.close()


def test_a_captured_payment_cannot_be_rewritten_in_sqlite_either(demo_database):
    db = sqlite3.connect(demo_database)
    db.execute(
        "INSERT INTO refunds_customer (merchant_id, external_id, email, name, locale, created_at)"
        " VALUES ((SELECT id FROM refunds_merchant WHERE slug = 'default'), 'c', '', '', 'en', '2026-01-01')"
    )
    db.execute(
        "INSERT INTO refunds_order (merchant_id, order_id, customer_id, currency, created_at, updated_at)"
        " VALUES ((SELECT id FROM refunds_merchant WHERE slug = 'default'), 'O-1',"
        " (SELECT id FROM refunds_customer WHERE external_id = 'c'), 'USD', '2026-01-01', '2026-01-01')"
    )
    db.execute(
        "INSERT INTO refunds_payment (order_id, provider, rail, provider_payment_id, amount_minor, currency, status,"
        " captured_at, refund_reserved_minor, updated_at)"
        " VALUES ((SELECT id FROM refunds_order WHERE order_id = 'O-1'), 'stripe', 'card', 'pi_1', 10000, 'USD',"
        " 'captured', '2026-01-01', 0, '2026-01-01')"
    )
    for statement in (
        "UPDATE refunds_payment SET amount_minor = 10000000",
        "UPDATE refunds_payment SET captured_at = NULL",
        "UPDATE refunds_payment SET status = 'capture_pending'",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="payment change not allowed"):
            db.execute(statement)
    db.execute("UPDATE refunds_payment SET status = 'charged_back', refund_reserved_minor = 0")
    with pytest.raises(sqlite3.IntegrityError, match="payment change not allowed"):
        db.execute("UPDATE refunds_payment SET status = 'captured'")
    db.rollback()
    db.close()
