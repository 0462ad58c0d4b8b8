"""Migrations: a fresh database gets what the code expects — every role's permissions.

The role groups are synced by migrations (`roles_sync(apps, strict=False)`),
which can only grant permissions of models that exist at that point of the
plan. When apps are split or reordered, the last sync must still run after
every app whose permissions the roles hold (refunds/0012); otherwise a fresh
`migrate` leaves finance, risk and admin without audit and ledger
permissions until something calls `roles_ensure` — and every test database
is made by these migrations.
"""

from __future__ import annotations

import pytest
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from refunds.enums import PolicyStatus
from refunds.models import RefundPolicy
from refunds.permissions import ROLE_PERMISSIONS
from refunds.services.policy import policy_get_active


def _syncs_roles(migration) -> bool:
    return any(
        isinstance(operation, RunPython) and "roles_sync" in operation.code.__code__.co_names
        for operation in migration.operations
    )


def test_some_migration_syncs_roles_after_every_app_whose_permissions_roles_hold():
    # The plan `migrate` follows on an empty database (MigrationExecutor.migration_plan, clean start).
    loader = MigrationLoader(None, ignore_no_migrations=True)
    order: list[tuple[str, str]] = []
    for leaf in loader.graph.leaf_nodes():
        order += [node for node in loader.graph.forwards_plan(leaf) if node not in order]
    plan = [loader.graph.nodes[node] for node in order]
    syncs = [i for i, migration in enumerate(plan) if _syncs_roles(migration)]
    assert syncs, "no migration syncs the role groups"
    apps_in_roles = {str(perm).split(".")[0] for perms in ROLE_PERMISSIONS.values() for perm in perms}
    for app_label in sorted(apps_in_roles):
        created = min(i for i, (label, _) in enumerate(order) if label == app_label)
        assert syncs[-1] > created, (
            f"the last role sync ({order[syncs[-1]]}) runs before {app_label}'s models exist "
            f"({order[created]}): a fresh database's roles lack {app_label} permissions"
        )


def test_single_number_policy_limits_are_read_as_usd_and_scaled_per_currency():
    import importlib
    from decimal import Decimal

    migration = importlib.import_module("refunds.migrations.0021_policy_currency_limits_governance")
    table = migration._table({"other": "500.00", "quality": "100.00"}, Decimal("200.000"))
    assert set(table) == {"USD", "EUR", "GBP", "JPY", "KWD", "AED", "SAR"}
    assert table["USD"] == {
        "not_received": None,  # no ceiling before: never auto-approved, still
        "quality": 10000,
        "duplicate": None,
        "pricing_error": None,
        "other": 50000,
        "goodwill_dual_control": 20000,
        "high_value": 200000,
    }
    assert (table["JPY"]["other"], table["KWD"]["other"], table["EUR"]["goodwill_dual_control"]) == (
        75000,
        150000,
        18400,
    )


# The policy's columns as of 0021: read before the later migrations are put back.
POLICY_FIELDS = ("version", "status", "activates_at", "created_at", "limits")


@pytest.mark.django_db(transaction=True)
def test_existing_policy_versions_are_converted_and_stay_in_force_across_the_migration():
    from decimal import Decimal

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        [("refunds", "0020_needs_action_and_provider_reversal")],
        [("refunds", "0021_policy_currency_limits_governance")],
    )
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old_apps = executor.loader.project_state(before).apps
        old_apps.get_model("refunds", "RefundPolicy").objects.create(
            version=7, auto_approve_ceilings={"other": "100.00"}, dual_control_threshold=Decimal("150.000")
        )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
        policy = RefundPolicy.objects.only(*POLICY_FIELDS).get(version=7)
    finally:
        # Every later migration back: the tests after this one share the database (a transactional
        # test leaves it as it found it only if it puts back what it rolled back).
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)

    assert policy.status == PolicyStatus.APPROVED and policy.activates_at == policy.created_at
    assert policy.limits["USD"]["other"] == 10000 and policy.limits["JPY"]["other"] == 15000
    assert policy.limits["KWD"]["goodwill_dual_control"] == 45000 and policy.limits["USD"]["quality"] is None
    assert policy.limits["EUR"]["high_value"] == 184000
    assert policy_get_active().version == 7
