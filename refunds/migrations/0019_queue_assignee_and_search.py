"""The queue's assignee, and trigram indexes for its search (issue 12 item 7).

The queue's search matches part of a customer's name or email, an order id,
a refund id or a provider payment id, case-insensitively: Django writes
`UPPER(col::text) LIKE UPPER('%term%')`, which no b-tree can serve. A GIN
trigram index on `UPPER(col)` can, so a search over a large table reads the
index instead of scanning it. PostgreSQL only (pg_trgm); the SQLite demo
searches its few rows without.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (index, table, column): every column the queue's search reads.
SEARCH_INDEXES = [
    ("customer_name_trgm", "refunds_customer", "name"),
    ("customer_email_trgm", "refunds_customer", "email"),
    ("order_order_id_trgm", "refunds_order", "order_id"),
    ("payment_provider_id_trgm", "refunds_payment", "provider_payment_id"),
    ("refund_public_id_trgm", "refunds_refund", "public_id"),
]


def search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in SEARCH_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0018_reply_templates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalrefund",
            name="assigned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefund",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="assigned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds_assigned",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(search_indexes, drop_search_indexes, elidable=False),
    ]
