"""Review of the app split: a fresh database must get the role permissions it got before the refactor.

The role groups are synced by migrations (`roles_sync(apps, strict=False)`),
which can only grant permissions of models that exist at that point of the
plan. Before the split, `ledger` and `audit` were migrated before the
refunds migrations that sync roles; the new dependencies (api, reconciliation,
ledger.0004 → refunds.0008) put refunds.0002/0004 first, and no later
migration syncs again. A fresh `migrate` then leaves finance, risk and admin
without audit.view_auditevent / ledger.view_journalentry / ledger.view_account
until something happens to call `roles_ensure` (seed_demo, create_api_key
with a role). The test suite never sees it: its autouse fixture calls
`reference_data_ensure()` before every test.
"""

from __future__ import annotations

from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from refunds.permissions import ROLE_PERMISSIONS


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
