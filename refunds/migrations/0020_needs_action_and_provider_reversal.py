"""Two new edges of the refund state machine, and who may act on failed refunds (issue 12).

* `completed → failed`: the provider failed a refund after it had succeeded
  (a card issuer returned it: a provider reversal);
* `failed → canceled`: staff give up on a failed refund from Needs action.

The state guard of migration 0002 is regenerated from the same list the FSM
and its tests use (`EDGES` below = `ALLOWED_TRANSITIONS`); it still refuses
every other move, even from raw SQL. A later migration that rebuilds the
refunds table on SQLite must re-create the guard from this module, not 0002.

The `resolve_failed` permission (retry or cancel a failed refund) is added and
the role groups synced: senior agents, finance and admins hold it. A held
webhook event gets who reviewed it, when, and their note (it stays `held`).
"""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_GUARD = importlib.import_module("refunds.migrations.0002_state_machine_and_roles")

EDGES = [
    *_GUARD.EDGES,
    ("failed", "canceled"),
    ("completed", "failed"),
]


def _edge_sql(edges: list[tuple[str, str]]) -> str:
    return " OR ".join(f"(OLD.state = '{a}' AND NEW.state = '{b}')" for a, b in edges)


def pg_sql(edges: list[tuple[str, str]]) -> str:
    return f"""
CREATE OR REPLACE FUNCTION refunds_refund_guard_state() RETURNS trigger AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT ({_edge_sql(edges)}) THEN
        RAISE EXCEPTION 'refund %: transition % -> % is not allowed', OLD.public_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.amount_minor IS DISTINCT FROM OLD.amount_minor AND OLD.state <> 'requested' THEN
        RAISE EXCEPTION 'refund %: amount can only change while requested', OLD.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def sqlite_sql(edges: list[tuple[str, str]]) -> str:
    return f"""
CREATE TRIGGER IF NOT EXISTS refunds_refund_state_guard BEFORE UPDATE OF state ON refunds_refund
WHEN NEW.state IS NOT OLD.state AND NOT ({_edge_sql(edges)})
BEGIN SELECT RAISE(ABORT, 'refund transition not allowed'); END;
"""


SQLITE_SQL = sqlite_sql(EDGES)


def _install(schema_editor, edges: list[tuple[str, str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # The trigger of 0002 calls this function by name: replacing the function is enough.
        schema_editor.execute(pg_sql(edges), params=None)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS refunds_refund_state_guard")
        schema_editor.execute(sqlite_sql(edges))


def forwards(apps, schema_editor):
    _install(schema_editor, EDGES)


def backwards(apps, schema_editor):
    _install(schema_editor, list(_GUARD.EDGES))


def sync_roles(apps, schema_editor):
    from refunds.permissions import roles_sync

    roles_sync(apps, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0019_queue_assignee_and_search"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent", name="review_note", field=models.CharField(blank=True, max_length=300)
        ),
        migrations.AddField(
            model_name="webhookevent", name="reviewed_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="webhookevent",
            name="reviewed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterModelOptions(
            name="refund",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("decide_refund", "Can approve, edit or decline refunds"),
                    ("approve_senior", "Can give a senior approval (dual control)"),
                    ("request_refund", "Can create refunds on a customer's behalf"),
                    ("mark_payout_paid", "Can mark manual payouts paid"),
                    ("view_finance", "Can run and read reconciliation"),
                    ("resolve_failed", "Can retry or cancel failed refunds (Needs action)"),
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
