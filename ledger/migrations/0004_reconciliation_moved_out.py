"""Reconciliation moved to its own app (`reconciliation`): the models leave the ledger's state only.

The tables are not touched here; `reconciliation.0001_initial` takes them over
and renames them. The ledger keeps only the journal (docs/architecture.md).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0003_reconciliation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="reconciliationitem",
                    name="refund",
                ),
                migrations.RemoveField(
                    model_name="reconciliationitem",
                    name="resolved_by",
                ),
                migrations.RemoveField(
                    model_name="reconciliationitem",
                    name="run",
                ),
                migrations.RemoveField(
                    model_name="reconciliationrun",
                    name="requested_by",
                ),
                migrations.RemoveField(
                    model_name="reconciliationrun",
                    name="superseded_by",
                ),
                migrations.DeleteModel(
                    name="TrialBalanceCheck",
                ),
                migrations.DeleteModel(
                    name="ReconciliationItem",
                ),
                migrations.DeleteModel(
                    name="ReconciliationRun",
                ),
            ],
        ),
    ]
