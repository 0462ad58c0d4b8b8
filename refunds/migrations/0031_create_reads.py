"""What a refund create reads under its payment's lock, in the lock's own statement (issue 17).

* `Refund.customer`: the order's customer, copied at creation, and the
  index (customer, created_at) the velocity rule counts with: a customer's
  refunds of the last 24 hours are one short index range, however many
  refunds or orders there are (before, the count joined every refund of
  every order of the customer). Nullable, as `merchant` (0024): adding it
  leaves the embedded SQLite table and its guard triggers as they are.
* PostgreSQL functions the create's locking statement calls
  (refunds.services.request): VOLATILE, so each query in them takes a
  fresh snapshot. Called in the target list of a SELECT … FOR UPDATE, they
  run again with the row once its lock is granted (PostgreSQL re-checks a
  row a concurrent transaction updated), so what they read is what
  committed before the lock was granted — as a separate statement after
  the lock would read it, and unlike a plain subquery, which would read the
  statement's snapshot, taken before the wait:
  - `refunds_pause_in_force(lock_key, kind, provider)`: the kill switch's
    shared lock, then the read (refunds.services.pauses);
  - `refunds_customer_refunds_since(customer, since, cap)`: the velocity
    count, stopped at `cap` (the policy compares it with its maximum only);
  - `refunds_order_lines(order)`: the order's lines as JSON (the pro-rata
    split of a refund by amount).
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

PG_FUNCTIONS = """
CREATE OR REPLACE FUNCTION refunds_pause_in_force(p_lock_key bigint, p_kind text, p_provider text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_pause bigint;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(p_lock_key);
    -- A query of its own after the lock: its snapshot is taken now, so a pause that committed
    -- while this waited for the lock is seen (a snapshot from before the wait would miss it).
    SELECT id INTO v_pause FROM refunds_operationspause
     WHERE resumed_at IS NULL AND kind = p_kind AND provider IN (p_provider, '')
     ORDER BY provider LIMIT 1;
    RETURN v_pause;
END $$;

CREATE OR REPLACE FUNCTION refunds_customer_refunds_since(p_customer bigint, p_since timestamptz, p_cap integer)
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_count integer;
BEGIN
    SELECT count(*) INTO v_count FROM (
        SELECT 1 FROM refunds_refund WHERE customer_id = p_customer AND created_at >= p_since LIMIT p_cap
    ) AS recent;
    RETURN v_count;
END $$;

CREATE OR REPLACE FUNCTION refunds_order_lines(p_order bigint)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_lines jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(to_jsonb(line) ORDER BY line.line_no), '[]'::jsonb) INTO v_lines
      FROM refunds_orderline AS line WHERE line.order_id = p_order;
    RETURN v_lines;
END $$;
"""

PG_DROP = """
DROP FUNCTION IF EXISTS refunds_pause_in_force(bigint, text, text);
DROP FUNCTION IF EXISTS refunds_customer_refunds_since(bigint, timestamptz, integer);
DROP FUNCTION IF EXISTS refunds_order_lines(bigint);
"""


# 0029's function, the same read after the lock, found at the same time; `refunds_pause_in_force` replaces it.
PG_DROP_0029 = "DROP FUNCTION IF EXISTS refunds_pause_after_switch_lock(bigint, text, text)"


def functions_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FUNCTIONS, params=None)
        schema_editor.execute(PG_DROP_0029, params=None)


def functions_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
        schema_editor.execute(import_module("refunds.migrations.0029_pause_read_after_its_lock").FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0030_webhook_inbox_partitioned"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalrefund",
            name="customer",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="refunds.customer",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="customer",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="refunds.customer",
            ),
        ),
        # Every refund's customer is its order's now. One statement: on a large table run it in
        # batches beforehand, and build the index CONCURRENTLY (docs/operations.md).
        migrations.RunSQL(
            "UPDATE refunds_refund SET customer_id = "
            "(SELECT o.customer_id FROM refunds_order o WHERE o.id = refunds_refund.order_id) "
            "WHERE customer_id IS NULL",
            migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["customer", "created_at"], name="refund_customer_created_idx"),
        ),
        migrations.RunPython(functions_create, functions_drop),
    ]
