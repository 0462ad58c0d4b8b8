"""Reconciliation runs, items and trial balance checks, taken over from the ledger app."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _move_content_types(app_from: str, app_to: str, models: list[str]):
    """Keep permissions (and admin log entries) attached: the content types follow the models."""

    def forwards(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        for model in models:
            old = ContentType.objects.filter(app_label=app_from, model=model).first()
            if old is None:
                continue
            if ContentType.objects.filter(app_label=app_to, model=model).exists():
                old.delete()
            else:
                old.app_label = app_to
                old.save(update_fields=["app_label"])

    return forwards


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ('refunds', '0008_idempotency_moved_to_api'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("ledger", "0004_reconciliation_moved_out"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # The tables exist already (made by the app the models came from): take them over in state ...
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='TrialBalanceCheck',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('checked_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('balances', models.JSONField(default=dict, help_text='Sum of postings per currency, minor units.')),
                        ('is_balanced', models.BooleanField()),
                        ('checked_by', models.CharField(blank=True, max_length=150)),
                    ],
                    options={
                        'db_table': 'ledger_trialbalancecheck',
                        'ordering': ['-checked_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ReconciliationRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('provider', models.CharField(max_length=20)),
                        ('source', models.CharField(choices=[('api', 'Provider list API'), ('file', 'Provider report CSV')], max_length=10)),
                        ('source_name', models.CharField(blank=True, help_text='Uploaded file name or the provider API base.', max_length=255)),
                        ('upload_path', models.CharField(blank=True, max_length=255)),
                        ('timezone', models.CharField(default='UTC', max_length=64)),
                        ('window_start', models.DateTimeField()),
                        ('window_end', models.DateTimeField()),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed')], default='queued', max_length=10)),
                        ('is_current', models.BooleanField(default=False)),
                        ('provider_rows', models.PositiveIntegerField(default=0, help_text='Rows read from the provider side.')),
                        ('item_count', models.PositiveIntegerField(default=0)),
                        ('matched_count', models.PositiveIntegerField(default=0)),
                        ('exception_count', models.PositiveIntegerField(default=0)),
                        ('counts', models.JSONField(blank=True, default=dict, help_text='Items per kind.')),
                        ('mismatch_rate_pct', models.DecimalField(decimal_places=3, default=0, max_digits=7)),
                        ('totals', models.JSONField(blank=True, default=dict, help_text='Per currency: ledger, provider, difference.')),
                        ('error', models.TextField(blank=True)),
                        ('requested_label', models.CharField(blank=True, max_length=150)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('superseded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='supersedes', to='reconciliation.reconciliationrun')),
                    ],
                    options={
                        'db_table': 'ledger_reconciliationrun',
                        'ordering': ['-day', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='ReconciliationItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('matched', 'Matched'), ('missing_in_ledger', 'Missing in ledger'), ('missing_at_provider', 'Missing at provider'), ('amount_mismatch', 'Amount mismatch'), ('state_mismatch', 'State mismatch'), ('currency_mismatch', 'Currency mismatch'), ('unknown_refund_event', 'Unknown refund (webhook)')], max_length=30)),
                        ('provider_refund_id', models.CharField(blank=True, max_length=100, null=True)),
                        ('refund_public_id', models.CharField(blank=True, max_length=32)),
                        ('our_amount_minor', models.BigIntegerField(blank=True, null=True)),
                        ('our_currency', models.CharField(blank=True, max_length=3)),
                        ('our_state', models.CharField(blank=True, max_length=20)),
                        ('ledger_settled_at', models.DateTimeField(blank=True, help_text='When REFUND_SETTLED was posted.', null=True)),
                        ('provider_amount_minor', models.BigIntegerField(blank=True, null=True)),
                        ('provider_currency', models.CharField(blank=True, max_length=3)),
                        ('provider_status', models.CharField(blank=True, max_length=20)),
                        ('provider_created_at', models.DateTimeField(blank=True, null=True)),
                        ('note', models.CharField(blank=True, max_length=200)),
                        ('resolved', models.BooleanField(default=False)),
                        ('resolution_note', models.TextField(blank=True)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('refund', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='refunds.refund')),
                        ('resolved_by', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='items', to='reconciliation.reconciliationrun')),
                    ],
                    options={
                        'db_table': 'ledger_reconciliationitem',
                        'ordering': ['id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='reconciliationrun',
                    index=models.Index(fields=['day', 'provider'], name='recon_run_day_provider_idx'),
                ),
                migrations.AddConstraint(
                    model_name='reconciliationrun',
                    constraint=models.UniqueConstraint(condition=models.Q(('is_current', True)), fields=('day', 'provider'), name='recon_one_current_run_per_day'),
                ),
                migrations.AddConstraint(
                    model_name='reconciliationrun',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'succeeded', 'failed'])), name='recon_run_status_known'),
                ),
                migrations.AddConstraint(
                    model_name='reconciliationrun',
                    constraint=models.CheckConstraint(condition=models.Q(('source__in', ['api', 'file'])), name='recon_run_source_known'),
                ),
                migrations.AddConstraint(
                    model_name='reconciliationrun',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('is_current', True), _negated=True), ('status', 'succeeded'), _connector='OR'), name='recon_current_run_succeeded'),
                ),
                migrations.AddIndex(
                    model_name='reconciliationitem',
                    index=models.Index(fields=['run', 'id'], name='recon_item_run_idx'),
                ),
                migrations.AddIndex(
                    model_name='reconciliationitem',
                    index=models.Index(condition=models.Q(('kind', 'matched'), _negated=True), fields=['run', 'kind'], name='recon_item_exception_idx'),
                ),
                migrations.AddConstraint(
                    model_name='reconciliationitem',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['matched', 'missing_in_ledger', 'missing_at_provider', 'amount_mismatch', 'state_mismatch', 'currency_mismatch', 'unknown_refund_event'])), name='recon_item_kind_known'),
                ),
            ],
        ),
        # ... then give them this app's names (ALTER TABLE … RENAME; indexes and data stay).
        migrations.AlterModelTable(name="reconciliationrun", table=None),
        migrations.AlterModelTable(name="reconciliationitem", table=None),
        migrations.AlterModelTable(name="trialbalancecheck", table=None),
        migrations.RunPython(
            _move_content_types("ledger", "reconciliation", ['reconciliationrun', 'reconciliationitem', 'trialbalancecheck']), migrations.RunPython.noop
        ),
    ]
