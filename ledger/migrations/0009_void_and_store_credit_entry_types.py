"""Integration of issue 15's two ledger branches (issue15-void 0007, issue15-credit 0007): the
entry types of both in `ledger_entry_type_known` (each 0007 lists only its own). The lead may fold
this into a renumbered single migration at merge.

As 0006: on SQLite, changing the constraint rebuilds the table and drops its triggers, so the
append-only guards of 0002 and the closed-period guard of 0005 are re-created.
"""

import importlib

from django.db import migrations, models

ENTRY_TYPES = [
    ("REFUND_PENDING", "Refund Pending"),
    ("REFUND_SETTLED", "Refund Settled"),
    ("REFUND_REVERSED", "Refund Reversed"),
    ("REFUND_SETTLEMENT_REVERSED", "Refund Settlement Reversed"),
    ("VOID_PENDING", "Void Pending"),
    ("VOID_RELEASED", "Void Released"),
    ("VOID_REVERSED", "Void Reversed"),
    ("CORRECTION", "Correction"),
    ("STORE_CREDIT_ISSUED", "Store Credit Issued"),
    ("STORE_CREDIT_REDEEMED", "Store Credit Redeemed"),
    ("STORE_CREDIT_EXPIRED", "Store Credit Expired"),
]


def sqlite_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        periods = importlib.import_module("ledger.migrations.0005_periods_and_corrections")
        for statement in [*periods._sqlite_append_only(), periods.SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_merge_0007_store_credit_0007_void_entries")]

    operations = [
        migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_type_known"),
        migrations.AlterField(
            model_name="journalentry",
            name="entry_type",
            field=models.CharField(choices=ENTRY_TYPES, max_length=30),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(entry_type__in=[value for value, _ in ENTRY_TYPES]), name="ledger_entry_type_known"
            ),
        ),
        migrations.RunPython(sqlite_guards, migrations.RunPython.noop),
    ]
