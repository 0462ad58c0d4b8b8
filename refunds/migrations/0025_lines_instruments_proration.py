"""Issue 15: refunds by line, for time not used, and instruments beyond cash.

* `RefundLine` and `OrderLine.refunded_quantity` (units held by active refunds
  by line, 0..quantity in the database);
* `Order.service_ends_at` (proration of services);
* `Refund.instrument` (null = original payment) and `Refund.proration`, both
  nullable: adding them leaves the SQLite table as it is;
* payments `authorized` (a refund of one is a void): the status CHECK and the
  payment guard of 0013 learn the new edges;
* the policy's store credit and proration options.

SQLite rebuilds a table to add a CHECK constraint, which drops its triggers:
the triggers of refunds_refund and refunds_payment are read before and created
again after (tests/test_embedded_database.py checks they are all there).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STATUS_EDGES = [
    ("authorized", "capture_pending"),
    ("authorized", "captured"),
    ("authorized", "capture_failed"),
    ("authorized", "voided"),
    ("capture_pending", "captured"),
    ("capture_pending", "capture_failed"),
    ("capture_pending", "voided"),
    ("capture_failed", "capture_pending"),
    ("capture_failed", "captured"),
    ("capture_failed", "voided"),
    ("captured", "charged_back"),
    ("captured", "voided"),
]
FROZEN_STATUSES = ("captured", "charged_back", "voided")
FROZEN_COLUMNS = ("amount_minor", "currency", "provider", "provider_payment_id", "captured_at")

_edges = " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in STATUS_EDGES)
_frozen = ", ".join(f"'{s}'" for s in FROZEN_STATUSES)
_pg_changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)
_sqlite_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_COLUMNS)

PG_SQL = f"""
CREATE OR REPLACE FUNCTION refunds_payment_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT ({_edges}) THEN
        RAISE EXCEPTION 'payment %: status % -> % is not allowed', OLD.provider_payment_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status IN ({_frozen}) AND ({_pg_changed}) THEN
        RAISE EXCEPTION 'payment %: a captured payment cannot be rewritten', OLD.provider_payment_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_SQL = f"""
CREATE TRIGGER IF NOT EXISTS refunds_payment_guard BEFORE UPDATE ON refunds_payment
WHEN (NEW.status IS NOT OLD.status AND NOT ({_edges})) OR (OLD.status IN ({_frozen}) AND ({_sqlite_changed}))
BEGIN SELECT RAISE(ABORT, 'payment change not allowed'); END;
"""

_GUARDED_TABLES = ("refunds_refund", "refunds_payment")
_kept: list[tuple[str, str]] = []


def sqlite_triggers_read(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)", _GUARDED_TABLES
        )
        _kept[:] = [(name, sql) for name, sql in cursor.fetchall() if name != "refunds_payment_guard"]


def guards_install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)  # the trigger of 0013 calls this function: replacing it is enough
    elif vendor == "sqlite":
        for name, sql in _kept:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
            schema_editor.execute(sql)
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_payment_guard")
        schema_editor.execute(SQLITE_SQL)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0024_refund_list_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(sqlite_triggers_read, migrations.RunPython.noop),
        migrations.CreateModel(
            name="RefundLine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("quantity", models.PositiveIntegerField()),
                ("amount_minor", models.BigIntegerField()),
                ("tax_minor", models.BigIntegerField(default=0)),
            ],
            options={
                "ordering": ["order_line__line_no"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="payment",
            name="payment_status_known",
        ),
        migrations.AddField(
            model_name="historicalorder",
            name="service_ends_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefund",
            name="instrument",
            field=models.CharField(blank=True, editable=False, max_length=20, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefund",
            name="proration",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="proration_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="store_credit_bonus_percent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="store_credit_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="historicalrefundpolicy",
            name="store_credit_expiry_days",
            field=models.PositiveIntegerField(blank=True, default=365, null=True),
        ),
        migrations.AddField(
            model_name="order",
            name="service_ends_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="orderline",
            name="refunded_quantity",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="refund",
            name="instrument",
            field=models.CharField(blank=True, editable=False, max_length=20, null=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="proration",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="proration_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="store_credit_bonus_percent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="store_credit_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="refundpolicy",
            name="store_credit_expiry_days",
            field=models.PositiveIntegerField(blank=True, default=365, null=True),
        ),
        migrations.AlterField(
            model_name="historicalrefund",
            name="requested_via",
            field=models.CharField(
                choices=[("user", "User"), ("api_key", "Api Key"), ("system", "System"), ("customer", "Customer")],
                default="user",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="payment",
            name="status",
            field=models.CharField(
                choices=[
                    ("authorized", "Authorized"),
                    ("captured", "Captured"),
                    ("capture_pending", "Capture Pending"),
                    ("capture_failed", "Capture Failed"),
                    ("voided", "Voided"),
                    ("charged_back", "Charged Back"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="refund",
            name="requested_via",
            field=models.CharField(
                choices=[("user", "User"), ("api_key", "Api Key"), ("system", "System"), ("customer", "Customer")],
                default="user",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="orderline",
            constraint=models.CheckConstraint(
                condition=models.Q(("refunded_quantity__gte", 0), ("refunded_quantity__lte", models.F("quantity"))),
                name="orderline_refunded_within_quantity",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["authorized", "captured", "capture_pending", "capture_failed", "voided", "charged_back"],
                    )
                ),
                name="payment_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("instrument__isnull", True),
                    ("instrument__in", ["original_payment", "store_credit", "void"]),
                    _connector="OR",
                ),
                name="refund_instrument_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="refundpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(("store_credit_bonus_percent__lte", 100)), name="policy_store_credit_bonus_0_to_100"
            ),
        ),
        migrations.AddField(
            model_name="refundline",
            name="order_line",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="refund_lines", to="refunds.orderline"
            ),
        ),
        migrations.AddField(
            model_name="refundline",
            name="refund",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="lines", to="refunds.refund"
            ),
        ),
        migrations.AddConstraint(
            model_name="refundline",
            constraint=models.UniqueConstraint(fields=("refund", "order_line"), name="refundline_once_per_order_line"),
        ),
        migrations.AddConstraint(
            model_name="refundline",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity__gt", 0)), name="refundline_quantity_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="refundline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("amount_minor__gte", 0), ("tax_minor__gte", 0), ("tax_minor__lte", models.F("amount_minor"))
                ),
                name="refundline_amounts_sane",
            ),
        ),
        migrations.RunPython(guards_install, migrations.RunPython.noop),
    ]
