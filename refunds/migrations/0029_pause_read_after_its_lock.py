"""The kill switch read after its lock, in one statement (refunds.services.pause_reads.pause_in_force).

A create about to auto-approve and a claim about to call the provider take the switch's advisory lock
shared and read the pause table. Taken in the same plain statement as the read, the lock was waited
for after the statement's snapshot was taken (READ COMMITTED: one snapshot per statement), so a pause
committed during the wait was not seen: the create auto-approved, the claim went to the provider. A
VOLATILE function's queries each take a snapshot of their own (PostgreSQL, "Function Volatility
Categories"): inside this one the read runs after the lock, and still in one round trip.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION refunds_pause_after_switch_lock(lock_key bigint, pause_kind text, pause_provider text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(lock_key);
    -- A new snapshot, taken now that the lock is held: a pause committed while we waited is seen.
    RETURN (
        SELECT pause.id FROM refunds_operationspause AS pause
        WHERE pause.resumed_at IS NULL AND pause.kind = pause_kind AND pause.provider IN (pause_provider, '')
        ORDER BY pause.provider LIMIT 1
    );
END
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS refunds_pause_after_switch_lock(bigint, text, text)")


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0028_merchant_synthetic"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
