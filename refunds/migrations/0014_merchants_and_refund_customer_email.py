"""Merchants (tenancy) and the address a refund was requested under (issue 10, items 3 and 4).

1. The `Merchant` table and the default merchant (slug `default`); every
   existing API key, customer and order is pointed at it, so a
   single-merchant installation works as before without naming it.
2. Order ids and customer ids become unique per merchant instead of globally.
3. On PostgreSQL, an order's customer must be of the order's merchant: a
   composite foreign key (customer_id, merchant_id) → customer (id, merchant_id).
4. `Refund.customer_email`: the customer's address when the refund was
   requested, filled from the current address for existing refunds.

SQLite rebuilds refunds_refund to add a NOT NULL column, which drops its
triggers: the state-machine guard of 0002 is re-created at the end (as 0006 does).
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

DEFAULT_SLUG = "default"

PG_CUSTOMER_SAME_MERCHANT = """
ALTER TABLE refunds_order ADD CONSTRAINT order_customer_same_merchant
    FOREIGN KEY (customer_id, merchant_id) REFERENCES refunds_customer (id, merchant_id)
    DEFERRABLE INITIALLY DEFERRED;
"""


def default_merchant(apps, schema_editor):
    Merchant = apps.get_model("refunds", "Merchant")
    merchant, _ = Merchant.objects.get_or_create(slug=DEFAULT_SLUG, defaults={"name": "Default merchant"})
    for model_name in ("ApiKey", "Customer", "Order", "HistoricalOrder"):
        apps.get_model("refunds", model_name).objects.filter(merchant__isnull=True).update(merchant=merchant)


def refund_customer_email(apps, schema_editor):
    Refund = apps.get_model("refunds", "Refund")
    Customer = apps.get_model("refunds", "Customer")
    email = Customer.objects.filter(orders=models.OuterRef("order_id")).values("email")[:1]
    Refund.objects.update(customer_email=models.Subquery(email))


def customer_same_merchant(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_CUSTOMER_SAME_MERCHANT)


def drop_customer_same_merchant(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE refunds_order DROP CONSTRAINT IF EXISTS order_customer_same_merchant")


def sqlite_state_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        guard = importlib.import_module("refunds.migrations.0002_state_machine_and_roles")
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_refund_state_guard")
        schema_editor.execute(guard.SQLITE_SQL)


def _merchant_fk(related_name: str, *, null: bool) -> models.ForeignKey:
    return models.ForeignKey(
        null=null, on_delete=django.db.models.deletion.PROTECT, related_name=related_name, to="refunds.merchant"
    )


class Migration(migrations.Migration):
    dependencies = [("refunds", "0013_payment_immutable_after_capture")]

    operations = [
        migrations.CreateModel(
            name="Merchant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(unique=True)),
                ("name", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["slug"]},
        ),
        # Nullable first, filled with the default merchant, then required.
        migrations.AddField(model_name="apikey", name="merchant", field=_merchant_fk("api_keys", null=True)),
        migrations.AddField(model_name="customer", name="merchant", field=_merchant_fk("customers", null=True)),
        migrations.AddField(model_name="order", name="merchant", field=_merchant_fk("orders", null=True)),
        migrations.AddField(
            model_name="historicalorder",
            name="merchant",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="refunds.merchant",
            ),
        ),
        migrations.RunPython(default_merchant, migrations.RunPython.noop),
        migrations.AlterField(model_name="apikey", name="merchant", field=_merchant_fk("api_keys", null=False)),
        migrations.AlterField(model_name="customer", name="merchant", field=_merchant_fk("customers", null=False)),
        migrations.AlterField(model_name="order", name="merchant", field=_merchant_fk("orders", null=False)),
        # Unique per merchant instead of globally.
        migrations.AlterField(model_name="customer", name="external_id", field=models.CharField(max_length=100)),
        migrations.AlterField(
            model_name="order", name="order_id", field=models.CharField(db_index=True, max_length=100)
        ),
        migrations.AlterField(
            model_name="historicalorder", name="order_id", field=models.CharField(db_index=True, max_length=100)
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.UniqueConstraint(
                fields=("merchant", "external_id"), name="customer_unique_external_id_per_merchant"
            ),
        ),
        migrations.AddConstraint(
            model_name="customer",
            constraint=models.UniqueConstraint(fields=("merchant", "id"), name="customer_unique_id_merchant"),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                fields=("merchant", "order_id"), name="order_unique_order_id_per_merchant"
            ),
        ),
        migrations.RunPython(customer_same_merchant, drop_customer_same_merchant),
        # The address each refund was requested under.
        migrations.AddField(
            model_name="refund",
            name="customer_email",
            field=models.EmailField(blank=True, editable=False, max_length=254),
        ),
        migrations.AddField(
            model_name="historicalrefund",
            name="customer_email",
            field=models.EmailField(blank=True, editable=False, max_length=254),
        ),
        migrations.RunPython(refund_customer_email, migrations.RunPython.noop),
        migrations.RunPython(sqlite_state_guard, migrations.RunPython.noop),
    ]
