"""A new entry type, REFUND_SETTLEMENT_REVERSED: the mirror of REFUND_SETTLED (issue 12).

Posted when the provider fails a refund after it succeeded (`completed →
failed`); unique per refund like every type. On SQLite, changing the
constraint rebuilds the table and drops its triggers: the append-only guards
of 0002 and the closed-period guard of 0005 are re-created.
"""

import importlib

from django.db import migrations, models

ENTRY_TYPES = ["REFUND_PENDING", "REFUND_SETTLED", "REFUND_REVERSED", "REFUND_SETTLEMENT_REVERSED", "CORRECTION"]


def sqlite_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        periods = importlib.import_module("ledger.migrations.0005_periods_and_corrections")
        for statement in [*periods._sqlite_append_only(), periods.SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_periods_and_corrections")]

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
                    ("CORRECTION", "Correction"),
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
