"""Store credit (issue 15, docs/instruments.md "Store credit").

* accounts: store credit outstanding (liability), the bonus (a new kind,
  expense), redeemed at checkout and breakage (revenue);
* entry types STORE_CREDIT_ISSUED, STORE_CREDIT_REDEEMED, STORE_CREDIT_EXPIRED;
* the one-entry-per-type-per-refund key leaves out STORE_CREDIT_REDEEMED: a
  credit is redeemed many times, and each redemption row points at its own
  entry through a one-to-one key (credits.StoreCreditRedemption.journal_entry).

The append-only and balanced triggers of 0002/0005 are untouched on
PostgreSQL; on SQLite changing a constraint rebuilds the table and drops its
triggers, which are created again (as 0006 does).
"""

import importlib

from django.db import migrations, models

ENTRY_TYPES = [
    "REFUND_PENDING",
    "REFUND_SETTLED",
    "REFUND_REVERSED",
    "REFUND_SETTLEMENT_REVERSED",
    "CORRECTION",
    "STORE_CREDIT_ISSUED",
    "STORE_CREDIT_REDEEMED",
    "STORE_CREDIT_EXPIRED",
]
ACCOUNTS = [
    ("store_credit_outstanding", "Store credit outstanding", "liability"),
    ("store_credit_bonus", "Store credit bonus (expense)", "expense"),
    ("store_credit_redeemed", "Store credit spent at checkout", "revenue"),
    ("store_credit_breakage", "Store credit breakage (expired, unspent)", "revenue"),
]


def accounts_create(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for code, name, kind in ACCOUNTS:
        Account.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})


def sqlite_guards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        periods = importlib.import_module("ledger.migrations.0005_periods_and_corrections")
        for statement in [*periods._sqlite_append_only(), periods.SQLITE_OPEN_PERIOD]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_settlement_reversed")]

    operations = [
        migrations.RemoveConstraint(model_name="journalentry", name="ledger_one_entry_per_type_per_refund"),
        migrations.RemoveConstraint(model_name="journalentry", name="ledger_entry_type_known"),
        migrations.AlterField(
            model_name="account",
            name="kind",
            field=models.CharField(
                choices=[
                    ("asset", "Asset"),
                    ("liability", "Liability"),
                    ("revenue", "Revenue"),
                    ("expense", "Expense"),
                ],
                max_length=20,
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
                    ("REFUND_SETTLEMENT_REVERSED", "Refund Settlement Reversed"),
                    ("CORRECTION", "Correction"),
                    ("STORE_CREDIT_ISSUED", "Store Credit Issued"),
                    ("STORE_CREDIT_REDEEMED", "Store Credit Redeemed"),
                    ("STORE_CREDIT_EXPIRED", "Store Credit Expired"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.UniqueConstraint(
                condition=~models.Q(entry_type__in=["STORE_CREDIT_REDEEMED"]),
                fields=("refund", "entry_type"),
                name="ledger_one_entry_per_type_per_refund",
            ),
        ),
        migrations.AddConstraint(
            model_name="journalentry",
            constraint=models.CheckConstraint(
                condition=models.Q(entry_type__in=ENTRY_TYPES), name="ledger_entry_type_known"
            ),
        ),
        migrations.RunPython(sqlite_guards, migrations.RunPython.noop),
        migrations.RunPython(accounts_create, migrations.RunPython.noop),
    ]
