"""Voids (issue 15): entry types VOID_PENDING, VOID_RELEASED and VOID_REVERSED, and the account
`authorizations_held` a released hold is booked against instead of provider clearing.

As 0006: on SQLite, changing the constraint rebuilds the table and drops its triggers, so the
append-only guards of 0002 and the closed-period guard of 0005 are re-created.
"""

import importlib

from django.db import migrations, models

ENTRY_TYPES = [
    "REFUND_PENDING",
    "REFUND_SETTLED",
    "REFUND_REVERSED",
    "REFUND_SETTLEMENT_REVERSED",
    "VOID_PENDING",
    "VOID_RELEASED",
    "VOID_REVERSED",
    "CORRECTION",
]


def sqlite_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        periods = importlib.import_module("ledger.migrations.0005_periods_and_corrections")
        for statement in [*periods._sqlite_append_only(), periods.SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


def create_account(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Account.objects.get_or_create(code="authorizations_held", defaults={"name": "Authorizations held", "kind": "asset"})


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_settlement_reversed")]

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
                    ("VOID_PENDING", "Void Pending"),
                    ("VOID_RELEASED", "Void Released"),
                    ("VOID_REVERSED", "Void Reversed"),
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
        migrations.RunPython(create_account, migrations.RunPython.noop),
    ]
