"""Accounting periods (month close, four-eyes reopen) and manual correcting entries (issue 12, item 13).

What the database enforces here, beside the constraints of the models:

- No journal entry is booked into a closed month (trigger
  `ledger_journalentry_open_period`, BEFORE INSERT). The trigger inserts the
  month's period row if it is missing (a month without a row is open) and
  reads it FOR SHARE: a close in flight (which locks the row FOR UPDATE)
  makes the posting wait and then see the month closed; a posting in
  flight makes the close wait until it commits. Either way no entry lands in
  a month after it was closed.
- A correcting entry never changes once decided, and its lines, amount,
  currency, reason and maker never change at all; none is ever deleted.

Existing entries get both dates from their created_at, in the business
calendar (RECONCILIATION_TIMEZONE); the append-only trigger is switched off
for that one UPDATE.
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import ledger.calendar

PG_GUARDS = """
CREATE OR REPLACE FUNCTION ledger_refuse_closed_period() RETURNS trigger AS $$
DECLARE
    period_month date := date_trunc('month', NEW.booked_on)::date;
    period_state text;
BEGIN
    INSERT INTO ledger_accountingperiod (month, state, close_note) VALUES (period_month, 'open', '')
        ON CONFLICT (month) DO NOTHING;
    -- FOR SHARE conflicts with the close's FOR UPDATE: see the migration's docstring.
    SELECT state INTO period_state FROM ledger_accountingperiod WHERE month = period_month FOR SHARE;
    IF period_state = 'closed' THEN
        RAISE EXCEPTION 'ledger period % is closed: an entry booked on % is refused', to_char(period_month, 'YYYY-MM'),
            NEW.booked_on USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_journalentry_open_period BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_closed_period();

CREATE OR REPLACE FUNCTION ledger_correction_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'correcting entries are kept: DELETE refused' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.state <> 'draft' THEN
        RAISE EXCEPTION 'correcting entry % is %: it no longer changes', OLD.id, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.lines IS DISTINCT FROM OLD.lines OR NEW.currency <> OLD.currency OR NEW.amount_minor <> OLD.amount_minor
       OR NEW.reason <> OLD.reason OR NEW.maker_id <> OLD.maker_id OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'the lines, amount, currency, reason and maker of correcting entry % never change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_correctingentry_guard BEFORE UPDATE OR DELETE ON ledger_correctingentry
    FOR EACH ROW EXECUTE FUNCTION ledger_correction_guard();
"""

PG_GUARDS_REVERSE = """
DROP TRIGGER IF EXISTS ledger_correctingentry_guard ON ledger_correctingentry;
DROP FUNCTION IF EXISTS ledger_correction_guard();
DROP TRIGGER IF EXISTS ledger_journalentry_open_period ON ledger_journalentry;
DROP FUNCTION IF EXISTS ledger_refuse_closed_period();
"""

# The embedded demo database: the same refusal, and the append-only triggers the table rebuilds dropped.
SQLITE_OPEN_PERIOD = """CREATE TRIGGER IF NOT EXISTS ledger_journalentry_open_period BEFORE INSERT ON ledger_journalentry
    WHEN EXISTS (SELECT 1 FROM ledger_accountingperiod
                 WHERE month = date(NEW.booked_on, 'start of month') AND state = 'closed')
    BEGIN SELECT RAISE(ABORT, 'ledger period is closed'); END;"""


def _sqlite_append_only() -> list[str]:
    return importlib.import_module("ledger.migrations.0002_append_only_and_balanced").SQLITE_SQL


def backfill_dates(apps, schema_editor):
    tz = getattr(settings, "RECONCILIATION_TIMEZONE", "") or "UTC"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE ledger_journalentry DISABLE TRIGGER ledger_journalentry_append_only", params=None
        )
        schema_editor.execute(
            "UPDATE ledger_journalentry SET event_on = (created_at AT TIME ZONE %s)::date, "
            "booked_on = (created_at AT TIME ZONE %s)::date",
            params=[tz, tz],
        )
        schema_editor.execute(
            "ALTER TABLE ledger_journalentry ENABLE TRIGGER ledger_journalentry_append_only", params=None
        )
        return
    JournalEntry = apps.get_model("ledger", "JournalEntry")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS ledger_journalentry_no_update")
        for pk, created_at in JournalEntry.objects.values_list("pk", "created_at"):
            day = ledger.calendar.business_date(created_at)
            cursor.execute("UPDATE ledger_journalentry SET event_on = %s, booked_on = %s WHERE id = %s", [day, day, pk])
        for statement in _sqlite_append_only():
            cursor.execute(statement)


def guards_install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_GUARDS, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in [*_sqlite_append_only(), SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


def guards_remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_GUARDS_REVERSE, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS ledger_journalentry_open_period")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_reconciliation_moved_out"),
        ("refunds", "0017_outbox_queued_until"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountingPeriod",
            fields=[
                ("month", models.DateField(help_text="The first day of the month.", primary_key=True, serialize=False)),
                (
                    "state",
                    models.CharField(choices=[("open", "Open"), ("closed", "Closed")], default="open", max_length=10),
                ),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                ("close_note", models.TextField(blank=True, default="")),
            ],
            options={
                "ordering": ["-month"],
            },
        ),
        migrations.CreateModel(
            name="CorrectingEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("currency", models.CharField(max_length=3)),
                ("lines", models.JSONField(help_text='[["account code", signed minor units], …]; debit positive.')),
                ("amount_minor", models.BigIntegerField(help_text="Total debited (= total credited).")),
                ("reason", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "state",
                    models.CharField(
                        choices=[("draft", "Draft"), ("posted", "Posted"), ("rejected", "Rejected")],
                        default="draft",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_note", models.TextField(blank=True, default="")),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="PeriodReopenRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.TextField()),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_note", models.TextField(blank=True, default="")),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="journalentry",
            name="ledger_entry_type_known",
        ),
        # The two dates arrive empty, are filled from created_at (the business calendar, with the
        # append-only trigger switched off for that one statement), and only then become NOT NULL.
        migrations.AddField(
            model_name="journalentry",
            name="booked_on",
            field=models.DateField(null=True, db_index=True, help_text="The date it is booked in."),
        ),
        migrations.AddField(
            model_name="journalentry",
            name="event_on",
            field=models.DateField(null=True, help_text="When the event happened (business calendar)."),
        ),
        migrations.RunPython(backfill_dates, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="journalentry",
            name="booked_on",
            field=models.DateField(
                db_index=True, default=ledger.calendar.business_today, help_text="The date it is booked in."
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="event_on",
            field=models.DateField(
                default=ledger.calendar.business_today, help_text="When the event happened (business calendar)."
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="entry_type",
            field=models.CharField(
                choices=[
                    ("REFUND_PENDING", "Refund Pending"),
                    ("REFUND_SETTLED", "Refund Settled"),
                    ("REFUND_REVERSED", "Refund Reversed"),
                    ("CORRECTION", "Correction"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="journalentry",
            name="refund",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="refunds.refund",
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("entry_type__in", ["REFUND_PENDING", "REFUND_SETTLED", "REFUND_REVERSED", "CORRECTION"])
                ),
                name="ledger_entry_type_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("refund__isnull", False), ("entry_type", "CORRECTION"), _connector="OR"),
                name="ledger_entry_refund_unless_correction",
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("booked_on__gte", models.F("event_on"))),
                name="ledger_entry_booked_not_before_event",
            ),
        ),
        migrations.AddField(
            model_name="accountingperiod",
            name="closed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="correctingentry",
            name="checker",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="correctingentry",
            name="journal_entry",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="correction",
                to="ledger.journalentry",
            ),
        ),
        migrations.AddField(
            model_name="correctingentry",
            name="maker",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="periodreopenrequest",
            name="decided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="periodreopenrequest",
            name="period",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reopen_requests",
                to="ledger.accountingperiod",
            ),
        ),
        migrations.AddField(
            model_name="periodreopenrequest",
            name="requested_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddConstraint(
            model_name="accountingperiod",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["open", "closed"])), name="ledger_period_state_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="accountingperiod",
            constraint=models.CheckConstraint(
                condition=models.Q(("month__day", 1)), name="ledger_period_starts_on_the_first"
            ),
        ),
        migrations.AddConstraint(
            model_name="accountingperiod",
            constraint=models.CheckConstraint(
                condition=models.Q(("state", "open"), ("closed_at__isnull", False), _connector="OR"),
                name="ledger_closed_period_has_closed_at",
            ),
        ),
        migrations.AddConstraint(
            model_name="correctingentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["draft", "posted", "rejected"])), name="ledger_correction_state_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="correctingentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("reason", ""), _negated=True), name="ledger_correction_reason_required"
            ),
        ),
        migrations.AddConstraint(
            model_name="correctingentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_minor__gt", 0)), name="ledger_correction_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="correctingentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("checker__isnull", True), models.Q(("checker", models.F("maker")), _negated=True), _connector="OR"
                ),
                name="ledger_correction_maker_checker",
            ),
        ),
        migrations.AddConstraint(
            model_name="correctingentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "posted"), ("journal_entry__isnull", False)),
                    models.Q(models.Q(("state", "posted"), _negated=True), ("journal_entry__isnull", True)),
                    _connector="OR",
                ),
                name="ledger_correction_posted_has_entry",
            ),
        ),
        migrations.AddConstraint(
            model_name="periodreopenrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("state__in", ["pending", "approved", "rejected"])), name="ledger_reopen_state_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="periodreopenrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("reason", ""), _negated=True), name="ledger_reopen_reason_required"
            ),
        ),
        migrations.AddConstraint(
            model_name="periodreopenrequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "pending")), fields=("period",), name="ledger_one_pending_reopen"
            ),
        ),
        migrations.AddConstraint(
            model_name="periodreopenrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "approved"), _negated=True),
                    models.Q(
                        ("decided_by__isnull", False), models.Q(("decided_by", models.F("requested_by")), _negated=True)
                    ),
                    _connector="OR",
                ),
                name="ledger_reopen_four_eyes",
            ),
        ),
        migrations.RunPython(guards_install, guards_remove),
    ]
