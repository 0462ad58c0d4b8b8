"""Database guard: a captured payment stays as it was captured (issue 10, "payment rewrite").

The merchant's order push (`refunds.services.orders.order_upsert`) refuses
these changes with 409 `ERR.CONFLICT.order`; this trigger refuses them even
from a raw SQL statement or a buggy code path, like the refund state guard of
migration 0002:

* the status moves only along `refunds.enums.PAYMENT_STATUS_EDGES` (listed
  here as they were when this migration was written; a test compares them);
* once the status is captured, charged back or voided, the amount, currency,
  provider, provider payment id and capture time never change.

`refund_reserved_minor` (what refunds hold) is not touched by the guard.
"""

from django.db import migrations

STATUS_EDGES = [
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
CREATE TRIGGER refunds_payment_guard BEFORE UPDATE ON refunds_payment
    FOR EACH ROW EXECUTE FUNCTION refunds_payment_guard();
"""

# SQLite (the embedded demo): the same refusals. A later migration that rebuilds refunds_payment
# drops this trigger and must create it again (tests/test_embedded_database.py checks it is there).
SQLITE_SQL = f"""
CREATE TRIGGER IF NOT EXISTS refunds_payment_guard BEFORE UPDATE ON refunds_payment
WHEN (NEW.status IS NOT OLD.status AND NOT ({_edges})) OR (OLD.status IN ({_frozen}) AND ({_sqlite_changed}))
BEGIN SELECT RAISE(ABORT, 'payment change not allowed'); END;
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS refunds_payment_guard ON refunds_payment;"
            "DROP FUNCTION IF EXISTS refunds_payment_guard();"
        )
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_payment_guard")


class Migration(migrations.Migration):
    dependencies = [("refunds", "0012_sync_roles_after_every_app")]

    operations = [migrations.RunPython(forwards, backwards)]
