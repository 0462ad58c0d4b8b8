"""A new entry type, REFUND_SETTLEMENT_REVERSED: the mirror of REFUND_SETTLED (issue 12).

Posted when the provider fails a refund after it succeeded (`completed →
failed`); unique per refund like every type. On SQLite, changing the
constraint rebuilds the table and drops its triggers: the append-only guards
of 0002 are re-created.
"""

import importlib

from django.db import migrations, models

ENTRY_TYPES = ["REFUND_PENDING", "REFUND_SETTLED", "REFUND_REVERSED", "REFUND_SETTLEMENT_REVERSED"]


def sqlite_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        guards = importlib.import_module("ledger.migrations.0002_append_only_and_balanced")
        for statement in guards.SQLITE_SQL:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_reconciliation_moved_out")]

    operations = [
        migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_type_known"),
        migrations.AlterField(
            model_name="journalentry",
            name="entry_type",
            field=models.CharField(
                choices=[
                    ("REFUND_PENDING", "Refund Pending"),
                    ("REFUND_SETTLED", "Refund Settled"),
                    ("REFUND_REVERSED", "Refund Reversed"),
                    ("REFUND_SETTLEMENT_REVERSED", "Refund Settlement Reversed"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(entry_type__in=ENTRY_TYPES), name="ledger_entry_type_known"
            ),
        ),
        migrations.RunPython(sqlite_guards, migrations.RunPython.noop),
    ]
